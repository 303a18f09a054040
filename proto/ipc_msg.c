/*
 * proto/ipc_msg.c - schemas of the IPC frames' JSON payloads (see ipc_msg.h).
 *
 * Every decoder is one jansson unpack format: the format is the schema.
 */
#include "ipc_msg.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

static json_t *load(const uint8_t *p, size_t n, char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *root = json_loadb((const char *)p, n, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        snprintf(err, errlen, "malformed JSON: %s", jerr.text);
    else if (!json_is_object(root)) {
        snprintf(err, errlen, "payload is not a JSON object");
        json_decref(root);
        root = NULL;
    }
    return root;
}

static int fail(json_t **root, const json_error_t *jerr, const char *what, char *err, size_t errlen)
{
    snprintf(err, errlen, "%s: %s", what, jerr->text);
    json_decref(*root);
    *root = NULL;
    return -1;
}

/* Unpack `root` (parsed from p/n) with `fmt`, or fail naming `what`. */
#define DECODE(what, fmt, ...)                                                                 \
    do {                                                                                       \
        json_error_t jerr_;                                                                    \
        if (!(*root = load(p, n, err, errlen)))                                                \
            return -1;                                                                         \
        if (json_unpack_ex(*root, &jerr_, 0, fmt, __VA_ARGS__) != 0)                           \
            return fail(root, &jerr_, what, err, errlen);                                      \
    } while (0)

/* The "s3" object of START and UPLOAD. */
static int ipc_s3_unpack(json_t *o, struct ipc_s3 *s3, const char *what, char *err, size_t errlen)
{
    json_error_t jerr;
    json_int_t part = 0, timeout = 0;
    if (json_unpack_ex(o, &jerr, 0, "{s:s, s:s, s?s, s?s, s:b, s:s, s:s, s?s, s:I, s:I}",
                       "bucket", &s3->bucket, "region", &s3->region, "endpoint", &s3->endpoint,
                       "prefix", &s3->prefix, "path_style", &s3->path_style, "access_key",
                       &s3->access_key, "secret_key", &s3->secret_key, "session_token",
                       &s3->session_token, "part_size", &part, "timeout_ms", &timeout) != 0) {
        snprintf(err, errlen, "%s: s3: %s", what, jerr.text);
        return -1;
    }
    if (part < 5 * 1024 * 1024 || part > 5LL * 1024 * 1024 * 1024 || timeout < 0) {
        snprintf(err, errlen, "%s: s3: part_size or timeout_ms out of range", what);
        return -1;
    }
    s3->part_size = part;
    s3->timeout_ms = timeout;
    return 0;
}

static json_t *ipc_s3_pack(const struct ipc_s3 *s3)
{
    json_t *o = json_pack("{s:s, s:s, s:b, s:s, s:s, s:I, s:I}", "bucket", s3->bucket, "region",
                          s3->region, "path_style", s3->path_style, "access_key", s3->access_key,
                          "secret_key", s3->secret_key, "part_size", (json_int_t)s3->part_size,
                          "timeout_ms", (json_int_t)s3->timeout_ms);
    if (o && s3->endpoint)
        json_object_set_new(o, "endpoint", json_string(s3->endpoint));
    if (o && s3->prefix)
        json_object_set_new(o, "prefix", json_string(s3->prefix));
    if (o && s3->session_token)
        json_object_set_new(o, "session_token", json_string(s3->session_token));
    return o;
}

int ipc_hello_decode(const uint8_t *p, size_t n, struct ipc_hello *m, json_t **root, char *err, size_t errlen)
{
    memset(m, 0, sizeof(*m));
    DECODE("hello", "{s:I}", "pid", &m->pid);
    return 0;
}

int ipc_heartbeat_decode(const uint8_t *p, size_t n, struct ipc_heartbeat *m, json_t **root, char *err, size_t errlen)
{
    memset(m, 0, sizeof(*m));
    DECODE("heartbeat", "{s:s, s:I}", "state", &m->state, "bytes", &m->bytes);
    return 0;
}

int ipc_start_decode(const uint8_t *p, size_t n, struct ipc_start *m, json_t **root, char *err, size_t errlen)
{
    json_t *addrs = NULL, *s3 = NULL;
    memset(m, 0, sizeof(*m));
    DECODE("start", "{s:s, s:s, s:s, s:s, s:s, s:s, s:o, s?b, s?o}", "session", &m->session, "sdp",
           &m->sdp, "key", &m->key, "spool_dir", &m->spool_dir, "storage_dir", &m->storage_dir,
           "url_base", &m->url_base, "ice_addresses", &addrs, "loopback", &m->loopback, "s3", &s3);
    if (s3) {
        if (ipc_s3_unpack(s3, &m->s3, "start", err, errlen) != 0)
            goto error;
        m->has_s3 = 1;
    }
    if (!json_is_array(addrs) || json_array_size(addrs) > IPC_MAX_ICE_ADDRESSES) {
        snprintf(err, errlen, "start: 'ice_addresses' must be an array of at most %d strings",
                 IPC_MAX_ICE_ADDRESSES);
        goto error;
    }
    size_t i;
    json_t *a;
    json_array_foreach(addrs, i, a) {
        if (!json_is_string(a)) {
            snprintf(err, errlen, "start: 'ice_addresses' must hold strings");
            goto error;
        }
        m->ice_addresses[m->n_ice_addresses++] = json_string_value(a);
    }
    return 0;
error:
    json_decref(*root);
    *root = NULL;
    return -1;
}

int ipc_candidate_decode(const uint8_t *p, size_t n, struct ice_candidate *m, json_t **root, char *err, size_t errlen)
{
    if (!(*root = load(p, n, err, errlen)))
        return -1;
    if (ice_candidate_from_json(*root, m, err, errlen) != 0) {
        json_decref(*root);
        *root = NULL;
        return -1;
    }
    return 0;
}

int ipc_answer_decode(const uint8_t *p, size_t n, struct ipc_answer *m, json_t **root, char *err, size_t errlen)
{
    memset(m, 0, sizeof(*m));
    DECODE("answer", "{s:s}", "sdp", &m->sdp);
    return 0;
}

int ipc_done_decode(const uint8_t *p, size_t n, struct ipc_done *m, json_t **root, char *err, size_t errlen)
{
    memset(m, 0, sizeof(*m));
    DECODE("done", "{s:s, s:s, s:I, s:I, s?s}", "key", &m->key, "url", &m->url, "bytes", &m->bytes,
           "duration_ms", &m->duration_ms, "sha256", &m->sha256);
    return 0;
}

int ipc_error_decode(const uint8_t *p, size_t n, struct ipc_error *m, json_t **root, char *err, size_t errlen)
{
    memset(m, 0, sizeof(*m));
    DECODE("error", "{s:s, s?b}", "message", &m->message, "fatal", &m->fatal);
    return 0;
}

int ipc_ws_open_decode(const uint8_t *p, size_t n, struct ipc_ws_open *m, json_t **root, char *err, size_t errlen)
{
    memset(m, 0, sizeof(*m));
    DECODE("ws-open", "{s:s, s:s, s:s}", "path", &m->path, "peer", &m->peer, "host", &m->host);
    return 0;
}

int ipc_http_request_decode(const uint8_t *p, size_t n, struct ipc_http_request *m, json_t **root, char *err, size_t errlen)
{
    memset(m, 0, sizeof(*m));
    DECODE("http-request", "{s:s, s:s, s:s}", "method", &m->method, "path", &m->path, "accept",
           &m->accept);
    return 0;
}

int ipc_http_response_decode(const uint8_t *p, size_t n, struct ipc_http_response *m, json_t **root, char *err, size_t errlen)
{
    /* Unpacked as json_int_t and range-checked before narrowing: with "i",
     * jansson would cast e.g. 4294967496 to int 200. */
    json_int_t status = 0;
    memset(m, 0, sizeof(*m));
    DECODE("http-response", "{s:I, s:s, s:s}", "status", &status, "content_type",
           &m->content_type, "body", &m->body);
    if (status < 100 || status > 599) {
        snprintf(err, errlen, "http-response: status %" JSON_INTEGER_FORMAT " out of range", status);
        json_decref(*root);
        *root = NULL;
        return -1;
    }
    m->status = (int)status;
    return 0;
}

char *ipc_hello_encode(const struct ipc_hello *m)
{
    return proto_json_dump(json_pack("{s:I}", "pid", (json_int_t)m->pid));
}

char *ipc_heartbeat_encode(const struct ipc_heartbeat *m)
{
    return proto_json_dump(json_pack("{s:s, s:I}", "state", m->state, "bytes", (json_int_t)m->bytes));
}

char *ipc_start_encode(const struct ipc_start *m)
{
    if (m->n_ice_addresses > IPC_MAX_ICE_ADDRESSES)
        return NULL;
    json_t *addrs = json_array();
    for (size_t i = 0; addrs && i < m->n_ice_addresses; i++) {
        /* json_string() fails on NULL or invalid UTF-8: fail, do not drop it. */
        if (json_array_append_new(addrs, json_string(m->ice_addresses[i])) != 0) {
            json_decref(addrs);
            return NULL;
        }
    }
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:b}", "session", m->session, "sdp",
                          m->sdp, "key", m->key, "spool_dir", m->spool_dir, "storage_dir",
                          m->storage_dir, "url_base", m->url_base, "ice_addresses", addrs,
                          "loopback", m->loopback);
    if (o && m->has_s3 && json_object_set_new(o, "s3", ipc_s3_pack(&m->s3)) != 0) {
        json_decref(o);
        return NULL;
    }
    return proto_json_dump(o);
}

int ipc_upload_decode(const uint8_t *p, size_t n, struct ipc_upload *m, json_t **root, char *err, size_t errlen)
{
    json_t *s3 = NULL;
    memset(m, 0, sizeof(*m));
    DECODE("upload", "{s:s, s:s, s:o}", "path", &m->path, "key", &m->key, "s3", &s3);
    if (ipc_s3_unpack(s3, &m->s3, "upload", err, errlen) != 0) {
        json_decref(*root);
        *root = NULL;
        return -1;
    }
    return 0;
}

char *ipc_upload_encode(const struct ipc_upload *m)
{
    json_t *s3 = ipc_s3_pack(&m->s3);
    if (!s3)
        return NULL;
    return proto_json_dump(json_pack("{s:s, s:s, s:o}", "path", m->path, "key", m->key, "s3", s3));
}

int ipc_pending_decode(const uint8_t *p, size_t n, struct ipc_pending *m, json_t **root, char *err, size_t errlen)
{
    memset(m, 0, sizeof(*m));
    DECODE("pending", "{s:s, s:I, s:s}", "key", &m->key, "bytes", &m->bytes, "message",
           &m->message);
    return 0;
}

char *ipc_pending_encode(const struct ipc_pending *m)
{
    return proto_json_dump(json_pack("{s:s, s:I, s:s}", "key", m->key, "bytes",
                                     (json_int_t)m->bytes, "message", m->message));
}

char *ipc_candidate_encode(const struct ice_candidate *m)
{
    return proto_json_dump(ice_candidate_to_json(m));
}

char *ipc_answer_encode(const struct ipc_answer *m)
{
    return proto_json_dump(json_pack("{s:s}", "sdp", m->sdp));
}

char *ipc_done_encode(const struct ipc_done *m)
{
    json_t *o = json_pack("{s:s, s:s, s:I, s:I}", "key", m->key, "url", m->url, "bytes",
                          (json_int_t)m->bytes, "duration_ms", (json_int_t)m->duration_ms);
    if (o && m->sha256)
        json_object_set_new(o, "sha256", json_string(m->sha256));
    return proto_json_dump(o);
}

char *ipc_error_encode(const struct ipc_error *m)
{
    return proto_json_dump(json_pack("{s:s, s:b}", "message", m->message, "fatal", m->fatal));
}

char *ipc_ws_open_encode(const struct ipc_ws_open *m)
{
    return proto_json_dump(json_pack("{s:s, s:s, s:s}", "path", m->path, "peer", m->peer, "host", m->host));
}

char *ipc_http_request_encode(const struct ipc_http_request *m)
{
    return proto_json_dump(json_pack("{s:s, s:s, s:s}", "method", m->method, "path", m->path, "accept",
                          m->accept));
}

char *ipc_http_response_encode(const struct ipc_http_response *m)
{
    return proto_json_dump(json_pack("{s:i, s:s, s:s}", "status", m->status, "content_type",
                          m->content_type, "body", m->body));
}
