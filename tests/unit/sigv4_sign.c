/*
 * tests/unit/sigv4_sign.c - a command-line front end to worker/sigv4.c, so
 * that tests/unit/test_sigv4_botocore.py can sign the same request with
 * botocore and with our signer and compare the results.
 *
 *   sigv4-sign ACCESS SECRET REGION AMZDATE METHOD RAWPATH PAYLOADHASH
 *              [-q NAME=VALUE]... [-H NAME:VALUE]...
 *
 * RAWPATH and query names/values are raw (not percent-encoded); the query
 * value is everything after the first '=' ("-q uploads" has none); the
 * header value everything after the first ':'.  Prints the Authorization
 * header value on stdout.
 */
#include <stdio.h>
#include <string.h>

#include "sigv4.h"

static void split_pair(const char *arg, char sep, struct sigv4_pair *out)
{
    const char *at = strchr(arg, sep);
    out->name = at ? g_strndup(arg, (gsize)(at - arg)) : g_strdup(arg);
    out->value = at ? at + 1 : NULL;
}

int main(int argc, char **argv)
{
    if (argc < 8) {
        fprintf(stderr, "usage: sigv4-sign ACCESS SECRET REGION AMZDATE METHOD RAWPATH "
                        "PAYLOADHASH [-q NAME=VALUE]... [-H NAME:VALUE]...\n");
        return 2;
    }
    const struct sigv4_credentials cred = {
        .access_key = argv[1], .secret_key = argv[2], .region = argv[3], .service = "s3",
    };
    struct sigv4_pair *query = g_new0(struct sigv4_pair, argc);
    struct sigv4_pair *headers = g_new0(struct sigv4_pair, argc);
    size_t nq = 0, nh = 0;
    for (int i = 8; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "-q") == 0)
            split_pair(argv[i + 1], '=', &query[nq++]);
        else if (strcmp(argv[i], "-H") == 0)
            split_pair(argv[i + 1], ':', &headers[nh++]);
    }
    const struct sigv4_request r = {
        .method = argv[5], .path = argv[6], .query = query, .n_query = nq,
        .headers = headers, .n_headers = nh, .payload_hash = argv[7],
    };
    char *auth = sigv4_authorization(&r, &cred, argv[4]);
    int rc = auth ? 0 : 1;
    if (auth)
        printf("%s\n", auth);
    g_free(auth);
    for (size_t i = 0; i < nq; i++)
        g_free((char *)query[i].name);
    for (size_t i = 0; i < nh; i++)
        g_free((char *)headers[i].name);
    g_free(query);
    g_free(headers);
    return rc;
}
