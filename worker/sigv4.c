/*
 * worker/sigv4.c - AWS Signature Version 4 (see sigv4.h), pure functions.
 *
 * Owns building the canonical request, the string to sign, the signing key
 * and the Authorization header.  No I/O and no clock: the caller gives the
 * time (x-amz-date) and gets strings back, which is what lets the unit tests
 * compare every step with AWS's published examples and with botocore.
 */
#include "sigv4.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "hex.h"

#define SIGV4_ALGORITHM "AWS4-HMAC-SHA256"

int sigv4_sha256_hex(const void *data, size_t len, char *out)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    if (!EVP_Digest(data, len, md, &md_len, EVP_sha256(), NULL) || md_len != 32)
        return -1;
    hex_encode(md, md_len, out);
    return 0;
}

static int sigv4_hmac(const void *key, size_t key_len, const char *data, unsigned char *out)
{
    size_t out_len = 0;
    if (!EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, key_len, (const unsigned char *)data,
                   strlen(data), out, 32, &out_len) ||
        out_len != 32)
        return -1;
    return 0;
}

void sigv4_amz_date(time_t t, char *out)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, SIGV4_AMZ_DATE_LEN + 1, "%Y%m%dT%H%M%SZ", &tm);
}

static gboolean sigv4_unreserved(unsigned char c)
{
    return g_ascii_isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

static void sigv4_encode_into(GString *out, const char *s, gboolean keep_slash)
{
    static const char digits[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (sigv4_unreserved(*p) || (keep_slash && *p == '/')) {
            g_string_append_c(out, (char)*p);
        } else {
            g_string_append_c(out, '%');
            g_string_append_c(out, digits[*p >> 4]);
            g_string_append_c(out, digits[*p & 0xf]);
        }
    }
}

char *sigv4_uri_encode(const char *s, gboolean keep_slash)
{
    GString *out = g_string_sized_new(strlen(s) + 8);
    sigv4_encode_into(out, s, keep_slash);
    return g_string_free(out, FALSE);
}

char *sigv4_canonical_uri(const char *path)
{
    if (!path || !*path)
        return g_strdup("/");
    return sigv4_uri_encode(path, TRUE);
}

struct sigv4_query_entry {
    char *name; /* encoded */
    char *value;
};

static int sigv4_cmp_query(const void *a, const void *b)
{
    const struct sigv4_query_entry *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    return c ? c : strcmp(x->value, y->value);
}

char *sigv4_canonical_query(const struct sigv4_pair *query, size_t n)
{
    /* sorted by encoded name, then encoded value, byte order */
    struct sigv4_query_entry *e = g_new0(struct sigv4_query_entry, n ? n : 1);
    for (size_t i = 0; i < n; i++) {
        e[i].name = sigv4_uri_encode(query[i].name, FALSE);
        e[i].value = sigv4_uri_encode(query[i].value ? query[i].value : "", FALSE);
    }
    qsort(e, n, sizeof(*e), sigv4_cmp_query);
    GString *out = g_string_new(NULL);
    for (size_t i = 0; i < n; i++) {
        g_string_append_printf(out, "%s%s=%s", i ? "&" : "", e[i].name, e[i].value);
        g_free(e[i].name);
        g_free(e[i].value);
    }
    g_free(e);
    return g_string_free(out, FALSE);
}

struct sigv4_header_entry {
    char *name; /* lowercased */
    const char *value;
    size_t order;
};

static int sigv4_cmp_header(const void *a, const void *b)
{
    const struct sigv4_header_entry *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    if (c)
        return c;
    return x->order < y->order ? -1 : x->order > y->order;
}

/* Trimall: no leading/trailing whitespace, inner runs become one space. */
static void sigv4_append_trimmed(GString *out, const char *value)
{
    gboolean pending_space = FALSE, any = FALSE;
    for (const char *p = value; *p; p++) {
        if (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') {
            pending_space = any;
            continue;
        }
        if (pending_space)
            g_string_append_c(out, ' ');
        pending_space = FALSE;
        any = TRUE;
        g_string_append_c(out, *p);
    }
}

char *sigv4_canonical_headers(const struct sigv4_pair *headers, size_t n, char **signed_headers)
{
    struct sigv4_header_entry *e = g_new0(struct sigv4_header_entry, n ? n : 1);
    for (size_t i = 0; i < n; i++) {
        e[i].name = g_ascii_strdown(headers[i].name, -1);
        g_strstrip(e[i].name);
        e[i].value = headers[i].value ? headers[i].value : "";
        e[i].order = i;
    }
    qsort(e, n, sizeof(*e), sigv4_cmp_header);

    GString *canon = g_string_new(NULL);
    GString *names = g_string_new(NULL);
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && strcmp(e[i].name, e[i - 1].name) == 0) {
            g_string_truncate(canon, canon->len - 1); /* drop the '\n': join */
            g_string_append_c(canon, ',');
        } else {
            if (names->len)
                g_string_append_c(names, ';');
            g_string_append(names, e[i].name);
            g_string_append(canon, e[i].name);
            g_string_append_c(canon, ':');
        }
        sigv4_append_trimmed(canon, e[i].value);
        g_string_append_c(canon, '\n');
    }
    for (size_t i = 0; i < n; i++)
        g_free(e[i].name);
    g_free(e);
    if (signed_headers)
        *signed_headers = g_string_free(names, FALSE);
    else
        g_string_free(names, TRUE);
    return g_string_free(canon, FALSE);
}

char *sigv4_canonical_request(const struct sigv4_request *r, char **signed_headers)
{
    char *names = NULL;
    char *uri = sigv4_canonical_uri(r->path);
    char *query = sigv4_canonical_query(r->query, r->n_query);
    char *headers = sigv4_canonical_headers(r->headers, r->n_headers, &names);
    char *out = g_strdup_printf("%s\n%s\n%s\n%s\n%s\n%s", r->method, uri, query, headers, names,
                                r->payload_hash);
    g_free(uri);
    g_free(query);
    g_free(headers);
    if (signed_headers)
        *signed_headers = names;
    else
        g_free(names);
    return out;
}

char *sigv4_scope(const char *amz_date, const struct sigv4_credentials *cred)
{
    return g_strdup_printf("%.8s/%s/%s/aws4_request", amz_date, cred->region, cred->service);
}

char *sigv4_string_to_sign(const char *amz_date, const char *scope, const char *canonical_request)
{
    char hash[SIGV4_SHA256_HEX_LEN + 1];
    if (sigv4_sha256_hex(canonical_request, strlen(canonical_request), hash) < 0)
        return NULL;
    return g_strdup_printf(SIGV4_ALGORITHM "\n%s\n%s\n%s", amz_date, scope, hash);
}

int sigv4_signing_key(const struct sigv4_credentials *cred, const char *date8, unsigned char *key)
{
    unsigned char k1[32], k2[32], k3[32];
    char *secret = g_strconcat("AWS4", cred->secret_key, NULL);
    int rc = -1;
    if (sigv4_hmac(secret, strlen(secret), date8, k1) < 0 ||
        sigv4_hmac(k1, sizeof(k1), cred->region, k2) < 0 ||
        sigv4_hmac(k2, sizeof(k2), cred->service, k3) < 0 ||
        sigv4_hmac(k3, sizeof(k3), "aws4_request", key) < 0)
        goto out;
    rc = 0;
out:
    OPENSSL_cleanse(secret, strlen(secret));
    OPENSSL_cleanse(k1, sizeof(k1));
    OPENSSL_cleanse(k2, sizeof(k2));
    OPENSSL_cleanse(k3, sizeof(k3));
    g_free(secret);
    return rc;
}

static gboolean sigv4_date_valid(const char *amz_date)
{
    if (!amz_date || strlen(amz_date) != SIGV4_AMZ_DATE_LEN || amz_date[8] != 'T' ||
        amz_date[15] != 'Z')
        return FALSE;
    for (int i = 0; i < 15; i++)
        if (i != 8 && !g_ascii_isdigit(amz_date[i]))
            return FALSE;
    return TRUE;
}

char *sigv4_authorization(const struct sigv4_request *r, const struct sigv4_credentials *cred,
                          const char *amz_date)
{
    char *names = NULL, *canonical = NULL, *scope = NULL, *sts = NULL, *out = NULL;
    char date8[9];
    unsigned char key[32], sig[32];
    char sig_hex[65];

    if (!sigv4_date_valid(amz_date))
        return NULL;
    memcpy(date8, amz_date, 8);
    date8[8] = '\0';

    canonical = sigv4_canonical_request(r, &names);
    scope = sigv4_scope(amz_date, cred);
    sts = sigv4_string_to_sign(amz_date, scope, canonical);
    if (!sts || sigv4_signing_key(cred, date8, key) < 0)
        goto error;
    if (sigv4_hmac(key, sizeof(key), sts, sig) < 0)
        goto error;
    hex_encode(sig, sizeof(sig), sig_hex);
    out = g_strdup_printf(SIGV4_ALGORITHM " Credential=%s/%s,SignedHeaders=%s,Signature=%s",
                          cred->access_key, scope, names, sig_hex);
error:
    OPENSSL_cleanse(key, sizeof(key));
    g_free(names);
    g_free(canonical);
    g_free(scope);
    g_free(sts);
    return out;
}
