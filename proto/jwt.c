/*
 * proto/jwt.c - HS256 JSON Web Tokens (see jwt.h).  base64 is GLib's, with
 * the URL-safe alphabet swapped in and out; HMAC-SHA256 is OpenSSL's; the
 * signature comparison is common/secret.c's constant-time one.
 */
#include "jwt.h"

#include <glib.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "secret.h"

#define JWT_SIG_LEN 32 /* SHA-256 */

static const char *const jwt_role_names[] = {"owner", "attendee", "share"};

/* The only header we write; what we accept is checked field by field. */
static const char jwt_header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";

char *jwt_b64url_encode(const void *data, size_t n)
{
    gchar *b64 = g_base64_encode(data, n);
    size_t len = strlen(b64);
    while (len > 0 && b64[len - 1] == '=')
        len--;
    b64[len] = '\0';
    for (char *p = b64; *p; p++)
        *p = *p == '+' ? '-' : *p == '/' ? '_' : *p;
    char *out = strdup(b64);
    g_free(b64);
    return out;
}

unsigned char *jwt_b64url_decode(const char *text, size_t len, size_t *n)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    if (len % 4 == 1)
        return NULL;
    /* g_base64_decode skips characters outside its alphabet: check first */
    for (size_t i = 0; i < len; i++)
        if (!text[i] || !strchr(alphabet, text[i]))
            return NULL;
    char *padded = g_malloc(len + 4);
    for (size_t i = 0; i < len; i++)
        padded[i] = text[i] == '-' ? '+' : text[i] == '_' ? '/' : text[i];
    size_t plen = len;
    while (plen % 4)
        padded[plen++] = '=';
    padded[plen] = '\0';
    gsize outlen = 0;
    guchar *raw = g_base64_decode(padded, &outlen);
    g_free(padded);
    /* canonical: unused trailing bits must be zero, i.e. it re-encodes the same */
    char *again = jwt_b64url_encode(raw, outlen);
    int canonical = again && strlen(again) == len && memcmp(again, text, len) == 0;
    free(again);
    if (!canonical) {
        g_free(raw);
        return NULL;
    }
    unsigned char *out = malloc(outlen ? outlen : 1);
    if (out)
        memcpy(out, raw, outlen);
    g_free(raw);
    *n = outlen;
    return out;
}

static int jwt_hmac(const void *key, size_t keylen, const char *data, size_t len,
                    unsigned char out[JWT_SIG_LEN])
{
    unsigned int outlen = 0;
    if (!HMAC(EVP_sha256(), key, (int)keylen, (const unsigned char *)data, len, out, &outlen))
        return -1;
    return outlen == JWT_SIG_LEN ? 0 : -1;
}

static int jwt_id_ok(const char *id, int may_be_empty)
{
    size_t n = strlen(id);
    return (n > 0 || may_be_empty) && n <= JWT_MAX_ID;
}

char *jwt_sign(const struct jwt_claims *c, const void *key, size_t keylen)
{
    char *header = NULL, *payload = NULL, *signing = NULL, *sig = NULL, *out = NULL;
    unsigned char mac[JWT_SIG_LEN];
    json_t *o;

    if ((unsigned)c->role > JWT_ROLE_SHARE || !jwt_id_ok(c->workspace, 0) ||
        !jwt_id_ok(c->attendee, c->role == JWT_ROLE_SHARE))
        return NULL;
    o = json_pack("{s:s, s:s, s:I, s:I}", "workspace", c->workspace, "role",
                  jwt_role_names[c->role], "iat", (json_int_t)c->iat, "exp", (json_int_t)c->exp);
    if (o && c->attendee[0])
        json_object_set_new(o, "attendee", json_string(c->attendee));
    char *claims = proto_json_dump(o);
    if (!claims)
        goto error;
    header = jwt_b64url_encode(jwt_header, strlen(jwt_header));
    payload = jwt_b64url_encode(claims, strlen(claims));
    free(claims);
    if (!header || !payload || asprintf(&signing, "%s.%s", header, payload) < 0) {
        signing = NULL;
        goto error;
    }
    if (jwt_hmac(key, keylen, signing, strlen(signing), mac) != 0)
        goto error;
    sig = jwt_b64url_encode(mac, sizeof(mac));
    if (!sig || asprintf(&out, "%s.%s", signing, sig) < 0)
        out = NULL;
error:
    free(header);
    free(payload);
    free(signing);
    free(sig);
    return out;
}

/* The decoded segment as a JSON object, or NULL. */
static json_t *jwt_segment_json(const char *text, size_t len)
{
    size_t n;
    unsigned char *raw = jwt_b64url_decode(text, len, &n);
    if (!raw)
        return NULL;
    json_t *o = json_loadb((const char *)raw, n, JSON_REJECT_DUPLICATES, NULL);
    free(raw);
    if (o && !json_is_object(o)) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static int jwt_check_header(const char *text, size_t len, char *err, size_t errlen)
{
    json_t *h = jwt_segment_json(text, len);
    const char *key;
    json_t *v;
    int rc = 0;

    if (!h) {
        snprintf(err, errlen, "token: malformed header");
        return -1;
    }
    json_object_foreach(h, key, v) {
        if (strcmp(key, "alg") == 0 && json_is_string(v) &&
            strcmp(json_string_value(v), "HS256") == 0)
            continue;
        if (strcmp(key, "typ") == 0 && json_is_string(v) &&
            strcmp(json_string_value(v), "JWT") == 0)
            continue;
        if (strcmp(key, "alg") == 0)
            snprintf(err, errlen, "token: algorithm %.16s refused (only HS256)",
                     json_is_string(v) ? json_string_value(v) : "?");
        else
            snprintf(err, errlen, "token: header field '%.32s' refused", key);
        rc = -1;
        break;
    }
    if (rc == 0 && !json_object_get(h, "alg")) {
        snprintf(err, errlen, "token: header without alg");
        rc = -1;
    }
    json_decref(h);
    return rc;
}

static const struct field_rule jwt_claim_rules[] = {
    {"workspace", FIELD_STRING, 1, 0},
    {"attendee", FIELD_STRING, 0, 0},
    {"role", FIELD_STRING, 1, 0},
    {"iat", FIELD_INTEGER, 1, 0},
    {"exp", FIELD_INTEGER, 1, 0},
};

static int jwt_parse_claims(json_t *o, struct jwt_claims *c, char *err, size_t errlen)
{
    if (FIELDS_CHECK(o, "token", jwt_claim_rules, err, errlen) != 0)
        return -1;
    const char *ws = json_string_value(json_object_get(o, "workspace"));
    const char *att = json_string_value(json_object_get(o, "attendee"));
    const char *role = json_string_value(json_object_get(o, "role"));
    size_t r = 0;
    while (r < G_N_ELEMENTS(jwt_role_names) && strcmp(role, jwt_role_names[r]) != 0)
        r++;
    if (r == G_N_ELEMENTS(jwt_role_names)) {
        snprintf(err, errlen, "token: unknown role");
        return -1;
    }
    c->role = (enum jwt_role)r;
    if (!jwt_id_ok(ws, 0) || (att && !jwt_id_ok(att, 0)) ||
        (!att && c->role != JWT_ROLE_SHARE)) {
        snprintf(err, errlen, "token: bad 'workspace' or 'attendee'");
        return -1;
    }
    snprintf(c->workspace, sizeof(c->workspace), "%s", ws);
    snprintf(c->attendee, sizeof(c->attendee), "%s", att ? att : "");
    c->iat = (int64_t)json_integer_value(json_object_get(o, "iat"));
    c->exp = (int64_t)json_integer_value(json_object_get(o, "exp"));
    return 0;
}

int jwt_verify(const char *token, const void *key, size_t keylen, int64_t now,
               struct jwt_claims *c, char *err, size_t errlen)
{
    unsigned char mac[JWT_SIG_LEN], *sig = NULL;
    size_t siglen = 0, len = strnlen(token, JWT_MAX_TOKEN + 1);
    const char *dot1, *dot2;
    json_t *claims = NULL;
    int rc = -1;

    memset(c, 0, sizeof(*c));
    if (len > JWT_MAX_TOKEN) {
        snprintf(err, errlen, "token: longer than %d bytes", JWT_MAX_TOKEN);
        return -1;
    }
    dot1 = memchr(token, '.', len);
    dot2 = dot1 ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token)) : NULL;
    if (!dot2 || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token))) {
        snprintf(err, errlen, "token: not three dot-separated segments");
        return -1;
    }
    if (jwt_check_header(token, (size_t)(dot1 - token), err, errlen) != 0)
        return -1;
    sig = jwt_b64url_decode(dot2 + 1, len - (size_t)(dot2 + 1 - token), &siglen);
    if (jwt_hmac(key, keylen, token, (size_t)(dot2 - token), mac) != 0) {
        snprintf(err, errlen, "token: cannot compute the signature");
        goto error;
    }
    if (!sig || !secret_equal(sig, siglen, mac, sizeof(mac))) {
        snprintf(err, errlen, "token: signature mismatch");
        goto error;
    }
    claims = jwt_segment_json(dot1 + 1, (size_t)(dot2 - dot1 - 1));
    if (!claims) {
        snprintf(err, errlen, "token: malformed claims");
        goto error;
    }
    if (jwt_parse_claims(claims, c, err, errlen) != 0)
        goto error;
    if (now >= c->exp) {
        snprintf(err, errlen, "token expired");
        goto error;
    }
    if (c->iat > now + JWT_CLOCK_SKEW) {
        snprintf(err, errlen, "token: issued in the future");
        goto error;
    }
    rc = 0;
error:
    free(sig);
    json_decref(claims);
    if (rc != 0)
        memset(c, 0, sizeof(*c));
    return rc;
}
