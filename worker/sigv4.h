/*
 * worker/sigv4.h - AWS Signature Version 4 for S3, as pure functions.
 *
 * Owns the signing algorithm and nothing else (no I/O, no clock, no HTTP):
 * the canonical URI (S3 rules: every byte outside A-Za-z0-9-._~ is %XX
 * encoded exactly once, '/' kept), the canonical query string (names and
 * values encoded, sorted), the canonical headers (names lowercased, values
 * trimmed with inner runs of spaces collapsed, sorted), the string to sign,
 * the derived signing key and the Authorization header value.  SHA-256 and
 * HMAC-SHA256 come from OpenSSL's EVP interfaces.
 *
 * Paths, query names/values are given raw (not encoded): the caller sends
 * the request with exactly the encoding sigv4_uri_encode() produces, so the
 * bytes on the wire and the bytes signed are the same.
 */
#ifndef WV_WORKER_SIGV4_H
#define WV_WORKER_SIGV4_H

#include <glib.h>
#include <stddef.h>
#include <time.h>

#define SIGV4_SHA256_HEX_LEN 64
#define SIGV4_AMZ_DATE_LEN 16 /* 20130524T000000Z */
/* SHA-256 of zero bytes, the payload hash of a request without a body */
#define SIGV4_EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

struct sigv4_pair {
    const char *name;
    const char *value; /* query: NULL or "" both sign as "name=" */
};

struct sigv4_request {
    const char *method;                /* "PUT" */
    const char *path;                  /* raw, begins with '/': "/bucket/my key" */
    const struct sigv4_pair *query;    /* raw names and values, any order */
    size_t n_query;
    const struct sigv4_pair *headers;  /* every header to sign, any case/order */
    size_t n_headers;
    const char *payload_hash;          /* hex SHA-256 of the body (x-amz-content-sha256) */
};

struct sigv4_credentials {
    const char *access_key;
    const char *secret_key;
    const char *region;  /* "us-east-1" */
    const char *service; /* "s3" */
};

/* hex SHA-256 of len bytes into out[SIGV4_SHA256_HEX_LEN + 1]; 0, or -1 on
 * an OpenSSL failure. */
int sigv4_sha256_hex(const void *data, size_t len, char *out);

/* "YYYYMMDDTHHMMSSZ" (UTC) of t into out[SIGV4_AMZ_DATE_LEN + 1]. */
void sigv4_amz_date(time_t t, char *out);

/* RFC 3986 encoding as S3 wants it: unreserved bytes kept, every other byte
 * %XX (upper-case hex); '/' kept when keep_slash.  g_free the result. */
char *sigv4_uri_encode(const char *s, gboolean keep_slash);

/* The canonical URI of a raw path (sigv4_uri_encode(path, TRUE); "/" when
 * empty). */
char *sigv4_canonical_uri(const char *path);

/* "a=1&b=&c=x%20y": encoded, sorted by name then value. */
char *sigv4_canonical_query(const struct sigv4_pair *query, size_t n);

/* "host:x\nx-amz-date:y\n" (each line ends in '\n') and, in
 * *signed_headers, "host;x-amz-date".  Repeated names are joined with ','
 * in the order given.  g_free both. */
char *sigv4_canonical_headers(const struct sigv4_pair *headers, size_t n, char **signed_headers);

/* The canonical request; *signed_headers as above when not NULL. */
char *sigv4_canonical_request(const struct sigv4_request *r, char **signed_headers);

/* "YYYYMMDD/region/service/aws4_request" for amz_date. */
char *sigv4_scope(const char *amz_date, const struct sigv4_credentials *cred);

/* "AWS4-HMAC-SHA256\n<amz_date>\n<scope>\n<hex sha256(canonical request)>";
 * NULL on an OpenSSL failure. */
char *sigv4_string_to_sign(const char *amz_date, const char *scope, const char *canonical_request);

/* HMAC chain "AWS4"+secret -> date -> region -> service -> "aws4_request"
 * into key[32]; 0, or -1 on an OpenSSL failure. */
int sigv4_signing_key(const struct sigv4_credentials *cred, const char *date8, unsigned char *key);

/* The whole Authorization header value:
 * "AWS4-HMAC-SHA256 Credential=AK/scope,SignedHeaders=a;b,Signature=hex".
 * amz_date must equal the x-amz-date header among r->headers.  NULL on an
 * OpenSSL failure or a malformed amz_date. */
char *sigv4_authorization(const struct sigv4_request *r, const struct sigv4_credentials *cred,
                          const char *amz_date);

#endif
