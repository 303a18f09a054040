/*
 * tests/unit/test_sigv4.c - worker/sigv4.c against AWS's published S3
 * Signature Version 4 examples (Amazon S3 API reference, "Signature
 * Calculations for the Authorization Header: Transferring Payload in a
 * Single Chunk", examples GET Object, PUT Object, GET Bucket Lifecycle and
 * Get Bucket (List Objects)), every intermediate step included, plus the
 * encoding rules those examples do not reach.  botocore is the second,
 * independent reference (tests/unit/test_sigv4_botocore.py).
 */
#include <glib.h>
#include <string.h>

#include "sigv4.h"

static const struct sigv4_credentials aws_example_cred = {
    .access_key = "AKIAIOSFODNN7EXAMPLE",
    .secret_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
    .region = "us-east-1",
    .service = "s3",
};

#define EXAMPLE_DATE "20130524T000000Z"
#define EXAMPLE_HOST "examplebucket.s3.amazonaws.com"
#define EXAMPLE_SCOPE "20130524/us-east-1/s3/aws4_request"

/* Checks one example from the canonical request to the header. */
static void check_example(const struct sigv4_request *r, const char *want_canonical,
                          const char *want_sts, const char *want_auth)
{
    char *names = NULL;
    char *canonical = sigv4_canonical_request(r, &names);
    g_assert_cmpstr(canonical, ==, want_canonical);
    char *scope = sigv4_scope(EXAMPLE_DATE, &aws_example_cred);
    g_assert_cmpstr(scope, ==, EXAMPLE_SCOPE);
    char *sts = sigv4_string_to_sign(EXAMPLE_DATE, scope, canonical);
    g_assert_cmpstr(sts, ==, want_sts);
    char *auth = sigv4_authorization(r, &aws_example_cred, EXAMPLE_DATE);
    g_assert_cmpstr(auth, ==, want_auth);
    g_free(names);
    g_free(canonical);
    g_free(scope);
    g_free(sts);
    g_free(auth);
}

static void test_get_object(void)
{
    const struct sigv4_pair headers[] = {
        {"Host", EXAMPLE_HOST},
        {"Range", "bytes=0-9"},
        {"x-amz-content-sha256", SIGV4_EMPTY_SHA256},
        {"x-amz-date", EXAMPLE_DATE},
    };
    const struct sigv4_request r = {
        .method = "GET", .path = "/test.txt", .headers = headers,
        .n_headers = G_N_ELEMENTS(headers), .payload_hash = SIGV4_EMPTY_SHA256,
    };
    check_example(&r,
        "GET\n/test.txt\n\n"
        "host:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n"
        "x-amz-content-sha256:" SIGV4_EMPTY_SHA256 "\nx-amz-date:20130524T000000Z\n\n"
        "host;range;x-amz-content-sha256;x-amz-date\n" SIGV4_EMPTY_SHA256,
        "AWS4-HMAC-SHA256\n20130524T000000Z\n" EXAMPLE_SCOPE "\n"
        "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972",
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/" EXAMPLE_SCOPE ","
        "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

static void test_put_object(void)
{
    const char *body = "Welcome to Amazon S3.";
    char hash[SIGV4_SHA256_HEX_LEN + 1];
    g_assert_cmpint(sigv4_sha256_hex(body, strlen(body), hash), ==, 0);
    g_assert_cmpstr(hash, ==, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
    /* given out of order and with untrimmed values, as a caller might */
    const struct sigv4_pair headers[] = {
        {"x-amz-storage-class", "REDUCED_REDUNDANCY"},
        {"Host", EXAMPLE_HOST},
        {"Date", "  Fri, 24 May 2013 00:00:00 GMT"},
        {"X-Amz-Date", EXAMPLE_DATE " "},
        {"x-amz-content-sha256", hash},
    };
    const struct sigv4_request r = {
        .method = "PUT", .path = "/test$file.text", .headers = headers,
        .n_headers = G_N_ELEMENTS(headers), .payload_hash = hash,
    };
    check_example(&r,
        "PUT\n/test%24file.text\n\n"
        "date:Fri, 24 May 2013 00:00:00 GMT\nhost:examplebucket.s3.amazonaws.com\n"
        "x-amz-content-sha256:44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072\n"
        "x-amz-date:20130524T000000Z\nx-amz-storage-class:REDUCED_REDUNDANCY\n\n"
        "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class\n"
        "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072",
        "AWS4-HMAC-SHA256\n20130524T000000Z\n" EXAMPLE_SCOPE "\n"
        "9e0e90d9c76de8fa5b200d8c849cd5b8dc7a3be3951ddb7f6a76b4158342019d",
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/" EXAMPLE_SCOPE ","
        "SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class,"
        "Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
}

static const struct sigv4_pair bucket_headers[] = {
    {"host", EXAMPLE_HOST},
    {"x-amz-content-sha256", SIGV4_EMPTY_SHA256},
    {"x-amz-date", EXAMPLE_DATE},
};

static void test_get_lifecycle(void)
{
    const struct sigv4_pair query[] = {{"lifecycle", NULL}};
    const struct sigv4_request r = {
        .method = "GET", .path = "/", .query = query, .n_query = 1,
        .headers = bucket_headers, .n_headers = G_N_ELEMENTS(bucket_headers),
        .payload_hash = SIGV4_EMPTY_SHA256,
    };
    check_example(&r,
        "GET\n/\nlifecycle=\n"
        "host:examplebucket.s3.amazonaws.com\n"
        "x-amz-content-sha256:" SIGV4_EMPTY_SHA256 "\nx-amz-date:20130524T000000Z\n\n"
        "host;x-amz-content-sha256;x-amz-date\n" SIGV4_EMPTY_SHA256,
        "AWS4-HMAC-SHA256\n20130524T000000Z\n" EXAMPLE_SCOPE "\n"
        "9766c798316ff2757b517bc739a67f6213b4ab36dd5da2f94eaebf79c77395ca",
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/" EXAMPLE_SCOPE ","
        "SignedHeaders=host;x-amz-content-sha256;x-amz-date,"
        "Signature=fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
}

static void test_list_objects(void)
{
    const struct sigv4_pair query[] = {{"prefix", "J"}, {"max-keys", "2"}}; /* unsorted */
    const struct sigv4_request r = {
        .method = "GET", .path = "/", .query = query, .n_query = 2,
        .headers = bucket_headers, .n_headers = G_N_ELEMENTS(bucket_headers),
        .payload_hash = SIGV4_EMPTY_SHA256,
    };
    check_example(&r,
        "GET\n/\nmax-keys=2&prefix=J\n"
        "host:examplebucket.s3.amazonaws.com\n"
        "x-amz-content-sha256:" SIGV4_EMPTY_SHA256 "\nx-amz-date:20130524T000000Z\n\n"
        "host;x-amz-content-sha256;x-amz-date\n" SIGV4_EMPTY_SHA256,
        "AWS4-HMAC-SHA256\n20130524T000000Z\n" EXAMPLE_SCOPE "\n"
        "df57d21db20da04d7fa30298dd4488ba3a2b47ca3a489c74750e0f1e7df1b9b7",
        "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/" EXAMPLE_SCOPE ","
        "SignedHeaders=host;x-amz-content-sha256;x-amz-date,"
        "Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
}

static void test_uri_encode(void)
{
    struct {
        const char *in, *path, *query;
    } cases[] = {
        {"plain-key_1.mkv~", "plain-key_1.mkv~", "plain-key_1.mkv~"},
        {"a b/c", "a%20b/c", "a%20b%2Fc"},
        {"100%", "100%25", "100%25"},     /* encoded once: '%' itself is encoded */
        {"a%20b", "a%2520b", "a%2520b"},  /* a raw key that looks encoded stays raw */
        {"x+y=z&", "x%2By%3Dz%26", "x%2By%3Dz%26"},
        {"caf\xc3\xa9", "caf%C3%A9", "caf%C3%A9"}, /* UTF-8 bytes, upper-case hex */
        {"", "", ""},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        char *p = sigv4_uri_encode(cases[i].in, TRUE);
        char *q = sigv4_uri_encode(cases[i].in, FALSE);
        g_assert_cmpstr(p, ==, cases[i].path);
        g_assert_cmpstr(q, ==, cases[i].query);
        g_free(p);
        g_free(q);
    }
    char *root = sigv4_canonical_uri("");
    g_assert_cmpstr(root, ==, "/");
    g_free(root);
}

static void test_canonical_query(void)
{
    /* sorted by encoded name, then value; "a" before "a-b" before "ab" */
    const struct sigv4_pair q[] = {
        {"uploadId", "x y"}, {"ab", "1"}, {"a-b", "2"}, {"a", "z"}, {"a", "b"}, {"uploads", ""},
    };
    char *s = sigv4_canonical_query(q, G_N_ELEMENTS(q));
    g_assert_cmpstr(s, ==, "a=b&a=z&a-b=2&ab=1&uploadId=x%20y&uploads=");
    g_free(s);
    s = sigv4_canonical_query(NULL, 0);
    g_assert_cmpstr(s, ==, "");
    g_free(s);
}

static void test_canonical_headers(void)
{
    const struct sigv4_pair h[] = {
        {"X-Amz-Meta-B", "  two   words\there "}, {"Host", "h"}, {"x-amz-meta-b", "second"},
        {"Content-Type", "video/x-matroska"},
    };
    char *names = NULL;
    char *s = sigv4_canonical_headers(h, G_N_ELEMENTS(h), &names);
    g_assert_cmpstr(s, ==,
                    "content-type:video/x-matroska\nhost:h\nx-amz-meta-b:two words here,second\n");
    g_assert_cmpstr(names, ==, "content-type;host;x-amz-meta-b");
    g_free(s);
    g_free(names);
}

static void test_signing_key(void)
{
    /* AWS's general SigV4 documentation example key derivation
     * (secret wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY, 20120215, us-east-1, iam) */
    const struct sigv4_credentials c = {
        .access_key = "AKIDEXAMPLE", .secret_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        .region = "us-east-1", .service = "iam",
    };
    unsigned char key[32];
    g_assert_cmpint(sigv4_signing_key(&c, "20120215", key), ==, 0);
    char *hex = g_malloc(65);
    for (int i = 0; i < 32; i++)
        g_snprintf(hex + 2 * i, 3, "%02x", key[i]);
    g_assert_cmpstr(hex, ==, "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d");
    g_free(hex);
}

static void test_amz_date(void)
{
    char d[SIGV4_AMZ_DATE_LEN + 1];
    sigv4_amz_date(1369353600, d); /* 2013-05-24 00:00:00 UTC */
    g_assert_cmpstr(d, ==, EXAMPLE_DATE);
}

static void test_bad_date(void)
{
    const struct sigv4_request r = {
        .method = "GET", .path = "/", .headers = bucket_headers,
        .n_headers = G_N_ELEMENTS(bucket_headers), .payload_hash = SIGV4_EMPTY_SHA256,
    };
    g_assert_null(sigv4_authorization(&r, &aws_example_cred, "2013-05-24"));
    g_assert_null(sigv4_authorization(&r, &aws_example_cred, NULL));
    g_assert_null(sigv4_authorization(&r, &aws_example_cred, "20130524X000000Z"));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/sigv4/aws-example/get-object", test_get_object);
    g_test_add_func("/sigv4/aws-example/put-object", test_put_object);
    g_test_add_func("/sigv4/aws-example/get-lifecycle", test_get_lifecycle);
    g_test_add_func("/sigv4/aws-example/list-objects", test_list_objects);
    g_test_add_func("/sigv4/uri-encode", test_uri_encode);
    g_test_add_func("/sigv4/canonical-query", test_canonical_query);
    g_test_add_func("/sigv4/canonical-headers", test_canonical_headers);
    g_test_add_func("/sigv4/signing-key", test_signing_key);
    g_test_add_func("/sigv4/amz-date", test_amz_date);
    g_test_add_func("/sigv4/bad-date", test_bad_date);
    return g_test_run();
}
