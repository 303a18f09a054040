/*
 * tests/unit/test_ipc_msg.c - the JSON payloads of the IPC frames
 * (proto/ipc_msg.c): encoder/decoder round trips and schema enforcement.
 */
#include <glib.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ipc_msg.h"
#include "spool_meta.h"

union any_msg {
    struct ipc_hello hello;
    struct ipc_heartbeat heartbeat;
    struct ipc_start start;
    struct ice_candidate candidate;
    struct ipc_answer answer;
    struct ipc_done done;
    struct ipc_error error;
    struct ipc_ws_open ws_open;
    struct ipc_http_request http_request;
    struct ipc_http_response http_response;
    struct ipc_upload upload;
    struct ipc_pending pending;
};

typedef int (*decode_fn)(const uint8_t *p, size_t n, union any_msg *m, json_t **root, char *err,
                         size_t errlen);

#define WRAP(name, field)                                                                      \
    static int dec_##name(const uint8_t *p, size_t n, union any_msg *m, json_t **root, char *err, \
                          size_t errlen)                                                       \
    {                                                                                          \
        return ipc_##name##_decode(p, n, &m->field, root, err, errlen);                        \
    }
WRAP(hello, hello)
WRAP(heartbeat, heartbeat)
WRAP(start, start)
WRAP(candidate, candidate)
WRAP(answer, answer)
WRAP(done, done)
WRAP(error, error)
WRAP(ws_open, ws_open)
WRAP(http_request, http_request)
WRAP(http_response, http_response)
WRAP(upload, upload)
WRAP(pending, pending)

/* Decode `text` from an exact-size heap copy (no NUL: ASan sees over-reads). */
static int decode_text(decode_fn fn, const char *text, size_t len, union any_msg *m, json_t **root,
                       char *err, size_t errlen)
{
    uint8_t *copy = g_malloc(len ? len : 1);
    memcpy(copy, text, len);
    *root = (json_t *)(uintptr_t)0x1; /* must be overwritten */
    int r = fn(copy, len, m, root, err, errlen);
    g_free(copy);
    if (r == 0)
        g_assert_nonnull(*root);
    else
        g_assert_null(*root);
    return r;
}

static void decode_ok(decode_fn fn, const char *text, union any_msg *m, json_t **root)
{
    char err[512] = "";
    if (decode_text(fn, text, strlen(text), m, root, err, sizeof(err)) != 0)
        g_error("expected %s to decode, got: %s", text, err);
}

static void decode_fails(decode_fn fn, const char *text, const char *want)
{
    union any_msg m;
    json_t *root;
    char err[512] = "";
    if (decode_text(fn, text, strlen(text), &m, &root, err, sizeof(err)) != -1)
        g_error("expected %s to be rejected", text);
    if (want && strcmp(err, want) != 0)
        g_error("%s: expected reason \"%s\", got \"%s\"", text, want, err);
    g_assert_cmpuint(strlen(err), >, 0);
}

/* ---- round trips ------------------------------------------------------- */

static void test_hello(void)
{
    const long long pids[] = {1, 4242, INT32_MAX, INT64_MAX, 0};
    for (size_t i = 0; i < G_N_ELEMENTS(pids); i++) {
        struct ipc_hello in = {pids[i]};
        char *s = ipc_hello_encode(&in);
        union any_msg out;
        json_t *root;
        decode_ok(dec_hello, s, &out, &root);
        g_assert_cmpint(out.hello.pid, ==, pids[i]);
        json_decref(root);
        free(s);
    }
    struct ipc_hello h = {123};
    char *s = ipc_hello_encode(&h);
    g_assert_cmpstr(s, ==, "{\"pid\":123}");
    free(s);
}

static void test_heartbeat(void)
{
    struct ipc_heartbeat in = {"recording", 1234567890123LL};
    char *s = ipc_heartbeat_encode(&in);
    g_assert_cmpstr(s, ==, "{\"state\":\"recording\",\"bytes\":1234567890123}");
    union any_msg out;
    json_t *root;
    decode_ok(dec_heartbeat, s, &out, &root);
    g_assert_cmpstr(out.heartbeat.state, ==, "recording");
    g_assert_cmpint(out.heartbeat.bytes, ==, 1234567890123LL);
    json_decref(root);
    free(s);

    struct ipc_heartbeat bad = {"\xff", 0};
    g_assert_null(ipc_heartbeat_encode(&bad));
    struct ipc_heartbeat nul = {NULL, 0};
    g_assert_null(ipc_heartbeat_encode(&nul));
}

static struct ipc_start sample_start(void)
{
    struct ipc_start m;
    memset(&m, 0, sizeof(m));
    m.session = "s-42";
    m.sdp = "v=0\r\no=- 0 0 IN IP4 0.0.0.0\r\n";
    m.key = "0123456789abcdef0123456789abcdef";
    m.spool_dir = "/var/lib/webrtc-video/spool";
    m.storage_dir = "/var/lib/webrtc-video/recordings";
    m.url_base = "http://host:8080/recordings/";
    m.ice_addresses[0] = "10.0.0.1";
    m.ice_addresses[1] = "fd00::1";
    m.n_ice_addresses = 2;
    m.loopback = 1;
    return m;
}

static void check_start_equal(const struct ipc_start *a, const struct ipc_start *b)
{
    g_assert_cmpstr(a->session, ==, b->session);
    g_assert_cmpstr(a->sdp, ==, b->sdp);
    g_assert_cmpstr(a->key, ==, b->key);
    g_assert_cmpstr(a->spool_dir, ==, b->spool_dir);
    g_assert_cmpstr(a->storage_dir, ==, b->storage_dir);
    g_assert_cmpstr(a->url_base, ==, b->url_base);
    g_assert_cmpuint(a->n_ice_addresses, ==, b->n_ice_addresses);
    for (size_t i = 0; i < a->n_ice_addresses; i++)
        g_assert_cmpstr(a->ice_addresses[i], ==, b->ice_addresses[i]);
    g_assert_cmpint(!!a->loopback, ==, !!b->loopback);
}

static void test_start(void)
{
    struct ipc_start in = sample_start();
    for (size_t n = 0; n <= IPC_MAX_ICE_ADDRESSES; n++) {
        char addr[IPC_MAX_ICE_ADDRESSES][32];
        for (size_t i = 0; i < n; i++) {
            g_snprintf(addr[i], sizeof(addr[i]), "10.0.%zu.1", i);
            in.ice_addresses[i] = addr[i];
        }
        in.n_ice_addresses = n;
        in.loopback = (int)(n & 1);
        char *s = ipc_start_encode(&in);
        g_assert_nonnull(s);
        union any_msg out;
        json_t *root;
        decode_ok(dec_start, s, &out, &root);
        check_start_equal(&in, &out.start);
        json_decref(root);
        free(s);
    }

    in = sample_start();
    char *s = ipc_start_encode(&in);
    g_assert_cmpstr(s, ==,
                    "{\"session\":\"s-42\",\"sdp\":\"v=0\\r\\no=- 0 0 IN IP4 0.0.0.0\\r\\n\","
                    "\"key\":\"0123456789abcdef0123456789abcdef\","
                    "\"spool_dir\":\"/var/lib/webrtc-video/spool\","
                    "\"storage_dir\":\"/var/lib/webrtc-video/recordings\","
                    "\"url_base\":\"http://host:8080/recordings/\","
                    "\"ice_addresses\":[\"10.0.0.1\",\"fd00::1\"],\"loopback\":true}");
    free(s);

    /* loopback is optional on decode, false by default */
    union any_msg out;
    json_t *root;
    decode_ok(dec_start,
              "{\"session\":\"s\",\"sdp\":\"v=0\",\"key\":\"k\",\"spool_dir\":\"/a\","
              "\"storage_dir\":\"/b\",\"url_base\":\"http://x/\",\"ice_addresses\":[]}",
              &out, &root);
    g_assert_cmpint(out.start.loopback, ==, 0);
    g_assert_cmpuint(out.start.n_ice_addresses, ==, 0);
    json_decref(root);
}

static void test_start_encode_rejects(void)
{
    struct ipc_start in = sample_start();
    /* More addresses than the struct holds: refused, not read out of bounds. */
    in.n_ice_addresses = IPC_MAX_ICE_ADDRESSES + 1;
    g_assert_null(ipc_start_encode(&in));
    /* An address that cannot be encoded is an error, not silently dropped. */
    in = sample_start();
    in.ice_addresses[1] = "10.0.0.\xff";
    g_assert_null(ipc_start_encode(&in));
    in = sample_start();
    in.ice_addresses[0] = NULL;
    g_assert_null(ipc_start_encode(&in));
    /* A missing string (no leak of the address array either). */
    in = sample_start();
    in.session = NULL;
    g_assert_null(ipc_start_encode(&in));
    in = sample_start();
    in.url_base = "http://\xc3";
    g_assert_null(ipc_start_encode(&in));
}

static void test_start_ice_addresses(void)
{
    const char *base = "{\"session\":\"s\",\"sdp\":\"v=0\",\"key\":\"k\",\"spool_dir\":\"/a\","
                       "\"storage_dir\":\"/b\",\"url_base\":\"http://x/\",\"ice_addresses\":";
    const char *limit = "start: 'ice_addresses' must be an array of at most 16 strings";

    for (size_t n = 15; n <= 40; n++) {
        GString *s = g_string_new(base);
        g_string_append_c(s, '[');
        for (size_t i = 0; i < n; i++)
            g_string_append_printf(s, "%s\"10.0.0.%zu\"", i ? "," : "", i);
        g_string_append(s, "]}");
        if (n <= IPC_MAX_ICE_ADDRESSES) {
            union any_msg out;
            json_t *root;
            decode_ok(dec_start, s->str, &out, &root);
            g_assert_cmpuint(out.start.n_ice_addresses, ==, n);
            for (size_t i = 0; i < n; i++) {
                gchar *want = g_strdup_printf("10.0.0.%zu", i);
                g_assert_cmpstr(out.start.ice_addresses[i], ==, want);
                g_free(want);
            }
            json_decref(root);
        } else {
            decode_fails(dec_start, s->str, limit);
        }
        g_string_free(s, TRUE);
    }

    GString *s = g_string_new(NULL);
    g_string_printf(s, "%s\"10.0.0.1\"}", base);
    decode_fails(dec_start, s->str, limit);
    g_string_printf(s, "%s{}}", base);
    decode_fails(dec_start, s->str, limit);
    g_string_printf(s, "%snull}", base);
    decode_fails(dec_start, s->str, limit);
    g_string_printf(s, "%s[\"10.0.0.1\",5]}", base);
    decode_fails(dec_start, s->str, "start: 'ice_addresses' must hold strings");
    g_string_printf(s, "%s[null]}", base);
    decode_fails(dec_start, s->str, "start: 'ice_addresses' must hold strings");
    g_string_printf(s, "%s[[\"10.0.0.1\"]]}", base);
    decode_fails(dec_start, s->str, "start: 'ice_addresses' must hold strings");
    g_string_free(s, TRUE);
}

static void test_candidate(void)
{
    struct ice_candidate cases[] = {
        {"candidate:1 1 UDP 2122260223 10.0.0.1 40000 typ host", "0", 0},
        {"candidate:1", NULL, 3},
        {"candidate:1", "video", -1},
        {"", NULL, -1},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(cases); i++) {
        char *s = ipc_candidate_encode(&cases[i]);
        g_assert_nonnull(s);
        union any_msg out;
        json_t *root;
        decode_ok(dec_candidate, s, &out, &root);
        g_assert_cmpstr(out.candidate.candidate, ==, cases[i].candidate);
        g_assert_cmpstr(out.candidate.sdp_mid, ==, cases[i].sdp_mid);
        g_assert_cmpint(out.candidate.sdp_mline_index, ==, cases[i].sdp_mline_index);
        json_decref(root);
        free(s);
    }
    char *s = ipc_candidate_encode(&cases[0]);
    g_assert_cmpstr(s, ==,
                    "{\"candidate\":\"candidate:1 1 UDP 2122260223 10.0.0.1 40000 typ host\","
                    "\"sdpMid\":\"0\",\"sdpMLineIndex\":0}");
    free(s);

    /* The same rules as the client protocol. */
    decode_fails(dec_candidate, "{}", "invalid candidate: missing 'candidate'");
    decode_fails(dec_candidate, "{\"candidate\":1,\"sdpMid\":\"0\"}",
                 "invalid candidate: 'candidate' must be a string");
    decode_fails(dec_candidate, "{\"candidate\":\"c\"}",
                 "invalid candidate: needs 'sdpMid' or 'sdpMLineIndex'");
    decode_fails(dec_candidate, "{\"candidate\":\"c\",\"sdpMid\":1}",
                 "invalid candidate: 'sdpMid' must be a string");
    decode_fails(dec_candidate, "{\"candidate\":\"c\",\"sdpMLineIndex\":\"1\"}",
                 "invalid candidate: 'sdpMLineIndex' must be an integer");
    decode_fails(dec_candidate, "{\"candidate\":\"c\",\"sdpMLineIndex\":-1}",
                 "invalid candidate: 'sdpMLineIndex' out of range");
    decode_fails(dec_candidate, "[]", "payload is not a JSON object");

    /* Unencodable: NULL, never a candidate with a field silently missing. */
    struct ice_candidate bad = {"candidate:1", "\xfe", 0};
    g_assert_null(ipc_candidate_encode(&bad));
}

static void test_answer(void)
{
    struct ipc_answer in = {"v=0\r\na=group:BUNDLE 0 1\r\n"};
    char *s = ipc_answer_encode(&in);
    g_assert_cmpstr(s, ==, "{\"sdp\":\"v=0\\r\\na=group:BUNDLE 0 1\\r\\n\"}");
    union any_msg out;
    json_t *root;
    decode_ok(dec_answer, s, &out, &root);
    g_assert_cmpstr(out.answer.sdp, ==, in.sdp);
    json_decref(root);
    free(s);
}

static void test_done(void)
{
    struct ipc_done in = {"abc.webm", "http://h:8080/recordings/abc.webm", INT64_MAX, 61000, NULL};
    char *s = ipc_done_encode(&in);
    g_assert_cmpstr(s, ==,
                    "{\"key\":\"abc.webm\",\"url\":\"http://h:8080/recordings/abc.webm\","
                    "\"bytes\":9223372036854775807,\"duration_ms\":61000}");
    union any_msg out;
    json_t *root;
    decode_ok(dec_done, s, &out, &root);
    g_assert_cmpstr(out.done.key, ==, in.key);
    g_assert_cmpstr(out.done.url, ==, in.url);
    g_assert_cmpint(out.done.bytes, ==, in.bytes);
    g_assert_cmpint(out.done.duration_ms, ==, in.duration_ms);
    json_decref(root);
    free(s);
}

static struct ipc_s3 sample_s3(void)
{
    struct ipc_s3 s3 = {
        .bucket = "recordings", .region = "eu-west-1", .endpoint = "http://127.0.0.1:4569",
        .prefix = "rec/", .path_style = 1, .access_key = "AKID", .secret_key = "s\"cr3t",
        .session_token = NULL, .part_size = 5 * 1024 * 1024, .timeout_ms = 30000,
    };
    return s3;
}

static void check_s3_equal(const struct ipc_s3 *a, const struct ipc_s3 *b)
{
    g_assert_cmpstr(a->bucket, ==, b->bucket);
    g_assert_cmpstr(a->region, ==, b->region);
    g_assert_cmpstr(a->endpoint, ==, b->endpoint);
    g_assert_cmpstr(a->prefix, ==, b->prefix);
    g_assert_cmpint(a->path_style, ==, b->path_style);
    g_assert_cmpstr(a->access_key, ==, b->access_key);
    g_assert_cmpstr(a->secret_key, ==, b->secret_key);
    g_assert_cmpstr(a->session_token, ==, b->session_token);
    g_assert_cmpint(a->part_size, ==, b->part_size);
    g_assert_cmpint(a->timeout_ms, ==, b->timeout_ms);
}

/* START may carry S3 settings; UPLOAD always does; part sizes under S3's
 * 5 MiB minimum are refused. */
static void test_s3_settings(void)
{
    union any_msg out;
    json_t *root;
    struct ipc_start in = sample_start();
    in.has_s3 = 1;
    in.s3 = sample_s3();
    char *s = ipc_start_encode(&in);
    decode_ok(dec_start, s, &out, &root);
    g_assert_true(out.start.has_s3);
    check_s3_equal(&out.start.s3, &in.s3);
    json_decref(root);
    free(s);

    struct ipc_upload up = {"/spool/abc.webm", "abc.webm", sample_s3()};
    up.s3.endpoint = NULL;
    up.s3.session_token = "tok";
    s = ipc_upload_encode(&up);
    decode_ok(dec_upload, s, &out, &root);
    g_assert_cmpstr(out.upload.path, ==, up.path);
    g_assert_cmpstr(out.upload.key, ==, up.key);
    check_s3_equal(&out.upload.s3, &up.s3);
    json_decref(root);
    free(s);

    up.s3.part_size = 5 * 1024 * 1024 - 1;
    s = ipc_upload_encode(&up);
    decode_fails(dec_upload, s, "upload: s3: part_size or timeout_ms out of range");
    free(s);
    decode_fails(dec_upload, "{\"path\":\"p\",\"key\":\"k\",\"s3\":{}}",
                 "upload: s3: Object item not found: bucket");
}

static void test_pending(void)
{
    struct ipc_pending in = {"abc.webm", 1234, "S3 PUT failed: connection refused"};
    char *s = ipc_pending_encode(&in);
    union any_msg out;
    json_t *root;
    decode_ok(dec_pending, s, &out, &root);
    g_assert_cmpstr(out.pending.key, ==, in.key);
    g_assert_cmpint(out.pending.bytes, ==, in.bytes);
    g_assert_cmpstr(out.pending.message, ==, in.message);
    json_decref(root);
    free(s);

    struct ipc_done d = {"p/abc.webm", "http://s3/b/p/abc.webm", 1, 2, "00ff"};
    s = ipc_done_encode(&d);
    decode_ok(dec_done, s, &out, &root);
    g_assert_cmpstr(out.done.sha256, ==, "00ff");
    json_decref(root);
    free(s);
}

static void test_spool_meta(void)
{
    struct spool_meta in = {"abc.webm", 99, "ab12", 3, "S3 down", 1700000000};
    char *s = spool_meta_encode(&in);
    struct spool_meta out;
    json_t *root;
    char err[256];
    g_assert_cmpint(spool_meta_decode(s, strlen(s), &out, &root, err, sizeof(err)), ==, 0);
    g_assert_cmpstr(out.key, ==, in.key);
    g_assert_cmpint(out.bytes, ==, 99);
    g_assert_cmpstr(out.sha256, ==, "ab12");
    g_assert_cmpint(out.attempts, ==, 3);
    g_assert_cmpstr(out.last_error, ==, "S3 down");
    g_assert_cmpint(out.updated, ==, 1700000000);
    json_decref(root);
    free(s);
    static const char *const bad[] = {
        "{\"key\":\"../x\",\"bytes\":1,\"attempts\":0,\"last_error\":\"\",\"updated\":0}",
        "{\"key\":\".x\",\"bytes\":1,\"attempts\":0,\"last_error\":\"\",\"updated\":0}",
        "{\"key\":\"x\",\"bytes\":-1,\"attempts\":0,\"last_error\":\"\",\"updated\":0}",
        "{\"key\":\"x\",\"bytes\":1}",
        "[]",
    };
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        root = (json_t *)(uintptr_t)1;
        g_assert_cmpint(spool_meta_decode(bad[i], strlen(bad[i]), &out, &root, err, sizeof(err)),
                        ==, -1);
        g_assert_null(root);
    }
}

static void test_error(void)
{
    for (int fatal = 0; fatal <= 1; fatal++) {
        struct ipc_error in = {"pipeline: \"webmmux\" failed", fatal};
        char *s = ipc_error_encode(&in);
        union any_msg out;
        json_t *root;
        decode_ok(dec_error, s, &out, &root);
        g_assert_cmpstr(out.error.message, ==, in.message);
        g_assert_cmpint(out.error.fatal, ==, fatal);
        json_decref(root);
        free(s);
    }
    struct ipc_error e = {"x", 1};
    char *s = ipc_error_encode(&e);
    g_assert_cmpstr(s, ==, "{\"message\":\"x\",\"fatal\":true}");
    free(s);

    /* fatal is optional, false by default */
    union any_msg out;
    json_t *root;
    decode_ok(dec_error, "{\"message\":\"m\"}", &out, &root);
    g_assert_cmpint(out.error.fatal, ==, 0);
    json_decref(root);
}

static void test_ws_open(void)
{
    struct ipc_ws_open in = {"/api/recorder", "10.0.0.2", "host:8080"};
    char *s = ipc_ws_open_encode(&in);
    g_assert_cmpstr(s, ==, "{\"path\":\"/api/recorder\",\"peer\":\"10.0.0.2\",\"host\":\"host:8080\"}");
    union any_msg out;
    json_t *root;
    decode_ok(dec_ws_open, s, &out, &root);
    g_assert_cmpstr(out.ws_open.path, ==, in.path);
    g_assert_cmpstr(out.ws_open.peer, ==, in.peer);
    g_assert_cmpstr(out.ws_open.host, ==, in.host);
    json_decref(root);
    free(s);
}

static void test_http_request(void)
{
    struct ipc_http_request in = {"GET", "/sessions?x=1", "*/*"};
    char *s = ipc_http_request_encode(&in);
    g_assert_cmpstr(s, ==, "{\"method\":\"GET\",\"path\":\"/sessions?x=1\",\"accept\":\"*/*\"}");
    union any_msg out;
    json_t *root;
    decode_ok(dec_http_request, s, &out, &root);
    g_assert_cmpstr(out.http_request.method, ==, in.method);
    g_assert_cmpstr(out.http_request.path, ==, in.path);
    g_assert_cmpstr(out.http_request.accept, ==, in.accept);
    json_decref(root);
    free(s);
}

static void test_http_response(void)
{
    const int ok[] = {100, 200, 204, 404, 503, 599};
    for (size_t i = 0; i < G_N_ELEMENTS(ok); i++) {
        struct ipc_http_response in = {ok[i], "text/plain; charset=utf-8", "0\n"};
        char *s = ipc_http_response_encode(&in);
        union any_msg out;
        json_t *root;
        decode_ok(dec_http_response, s, &out, &root);
        g_assert_cmpint(out.http_response.status, ==, ok[i]);
        g_assert_cmpstr(out.http_response.content_type, ==, in.content_type);
        g_assert_cmpstr(out.http_response.body, ==, in.body);
        json_decref(root);
        free(s);
    }
    struct ipc_http_response r = {200, "text/plain", ""};
    char *s = ipc_http_response_encode(&r);
    g_assert_cmpstr(s, ==, "{\"status\":200,\"content_type\":\"text/plain\",\"body\":\"\"}");
    free(s);

    decode_fails(dec_http_response, "{\"status\":99,\"content_type\":\"t\",\"body\":\"\"}",
                 "http-response: status 99 out of range");
    decode_fails(dec_http_response, "{\"status\":600,\"content_type\":\"t\",\"body\":\"\"}",
                 "http-response: status 600 out of range");
    decode_fails(dec_http_response, "{\"status\":0,\"content_type\":\"t\",\"body\":\"\"}",
                 "http-response: status 0 out of range");
    decode_fails(dec_http_response, "{\"status\":-200,\"content_type\":\"t\",\"body\":\"\"}",
                 "http-response: status -200 out of range");
    /* 2^32 + 200 must not wrap to 200. */
    decode_fails(dec_http_response, "{\"status\":4294967496,\"content_type\":\"t\",\"body\":\"\"}",
                 "http-response: status 4294967496 out of range");
    decode_fails(dec_http_response,
                 "{\"status\":-9223372036854775808,\"content_type\":\"t\",\"body\":\"\"}",
                 "http-response: status -9223372036854775808 out of range");
    decode_fails(dec_http_response, "{\"status\":200.0,\"content_type\":\"t\",\"body\":\"\"}",
                 "http-response: Expected integer, got real");
    decode_fails(dec_http_response, "{\"status\":\"200\",\"content_type\":\"t\",\"body\":\"\"}",
                 "http-response: Expected integer, got string");
}

/* ---- schema enforcement, generically ----------------------------------- */

struct schema {
    const char *what;
    decode_fn fn;
    const char *valid;    /* a valid payload */
    const char *optional; /* space-separated keys that may be absent */
};

static const struct schema schemas[] = {
    {"hello", dec_hello, "{\"pid\":12}", ""},
    {"heartbeat", dec_heartbeat, "{\"state\":\"idle\",\"bytes\":0}", ""},
    {"start", dec_start,
     "{\"session\":\"s\",\"sdp\":\"v=0\",\"key\":\"k\",\"spool_dir\":\"/a\",\"storage_dir\":\"/b\","
     "\"url_base\":\"http://x/\",\"ice_addresses\":[\"10.0.0.1\"],\"loopback\":false}",
     "loopback"},
    {"candidate", dec_candidate, "{\"candidate\":\"c\",\"sdpMid\":\"0\",\"sdpMLineIndex\":0}",
     "sdpMid sdpMLineIndex"},
    {"answer", dec_answer, "{\"sdp\":\"v=0\"}", ""},
    {"done", dec_done, "{\"key\":\"k.webm\",\"url\":\"http://x/k.webm\",\"bytes\":10,\"duration_ms\":5}", ""},
    {"error", dec_error, "{\"message\":\"m\",\"fatal\":true}", "fatal"},
    {"ws-open", dec_ws_open, "{\"path\":\"/\",\"peer\":\"1.2.3.4\",\"host\":\"h\"}", ""},
    {"http-request", dec_http_request, "{\"method\":\"GET\",\"path\":\"/\",\"accept\":\"*/*\"}", ""},
    {"http-response", dec_http_response, "{\"status\":200,\"content_type\":\"t\",\"body\":\"b\"}", ""},
};

static gboolean is_optional(const struct schema *sc, const char *key)
{
    gchar **opt = g_strsplit(sc->optional, " ", -1);
    gboolean r = g_strv_contains((const gchar *const *)opt, key);
    g_strfreev(opt);
    return r;
}

/* Values of a type different from v's. */
static json_t *wrong_values(json_t *v)
{
    json_t *all = json_pack("[s, i, f, b, n, {}, []]", "x", 7, 1.5, 1);
    json_t *out = json_array();
    size_t i;
    json_t *w;
    json_array_foreach(all, i, w) {
        if (json_typeof(w) == json_typeof(v))
            continue;
        if (json_is_boolean(w) && json_is_boolean(v))
            continue;
        json_array_append(out, w);
    }
    json_decref(all);
    return out;
}

static void test_schemas(void)
{
    for (size_t s = 0; s < G_N_ELEMENTS(schemas); s++) {
        const struct schema *sc = &schemas[s];
        union any_msg m;
        json_t *root;
        char err[512];

        decode_ok(sc->fn, sc->valid, &m, &root);
        json_decref(root);

        json_t *valid = json_loads(sc->valid, 0, NULL);
        g_assert_nonnull(valid);

        /* Unknown fields are ignored. */
        json_t *extra = json_deep_copy(valid);
        json_object_set_new(extra, "zzz_future_field", json_pack("{s:[i]}", "a", 1));
        char *text = json_dumps(extra, JSON_COMPACT);
        decode_ok(sc->fn, text, &m, &root);
        json_decref(root);
        free(text);
        json_decref(extra);

        const char *key;
        json_t *v;
        json_object_foreach(valid, key, v) {
            /* Remove the field. */
            json_t *o = json_deep_copy(valid);
            json_object_del(o, key);
            text = json_dumps(o, JSON_COMPACT);
            int r = decode_text(sc->fn, text, strlen(text), &m, &root, err, sizeof(err));
            if (is_optional(sc, key)) {
                if (r != 0)
                    g_error("%s without optional %s rejected: %s", sc->what, key, err);
                json_decref(root);
            } else {
                if (r != -1)
                    g_error("%s without %s accepted", sc->what, key);
                if (strcmp(sc->what, "candidate") != 0) {
                    gchar *want = g_strdup_printf("%s: Object item not found: %s", sc->what, key);
                    g_assert_cmpstr(err, ==, want);
                    g_free(want);
                }
            }
            free(text);
            json_decref(o);

            /* Give the field every wrong type. */
            json_t *wrongs = wrong_values(v);
            size_t i;
            json_t *w;
            json_array_foreach(wrongs, i, w) {
                if (json_is_null(w) && is_optional(sc, key) && strcmp(sc->what, "candidate") == 0)
                    continue; /* null sdpMid/sdpMLineIndex means absent */
                o = json_deep_copy(valid);
                json_object_set(o, key, w);
                text = json_dumps(o, JSON_COMPACT);
                r = decode_text(sc->fn, text, strlen(text), &m, &root, err, sizeof(err));
                if (r != -1)
                    g_error("%s with %s accepted", sc->what, text);
                g_assert_true(g_str_has_prefix(err, sc->what) ||
                              g_str_has_prefix(err, "invalid candidate: "));
                free(text);
                json_decref(o);
            }
            json_decref(wrongs);
        }

        /* Not an object / not JSON / empty / duplicate keys. */
        decode_fails(sc->fn, "[]", "payload is not a JSON object");
        decode_fails(sc->fn, "[{}]", "payload is not a JSON object");
        decode_fails(sc->fn, "{", NULL);
        decode_fails(sc->fn, "", NULL);
        decode_fails(sc->fn, "\"x\"", NULL);
        gchar *dup = g_strdup_printf("%.*s,%s", (int)strlen(sc->valid) - 1, sc->valid, sc->valid + 1);
        decode_fails(sc->fn, dup, NULL);
        g_free(dup);
        /* Trailing garbage. */
        gchar *trail = g_strdup_printf("%s x", sc->valid);
        decode_fails(sc->fn, trail, NULL);
        g_free(trail);

        /* Every strict prefix of the valid payload is rejected (and read
         * within bounds). */
        size_t len = strlen(sc->valid);
        for (size_t k = 0; k < len; k++) {
            if (decode_text(sc->fn, sc->valid, k, &m, &root, err, sizeof(err)) != -1)
                g_error("%s prefix of %zu bytes accepted", sc->what, k);
            g_assert_true(g_str_has_prefix(err, "malformed JSON: "));
        }
        json_decref(valid);
    }
}

static void test_decode_no_leak_on_failure(void)
{
    /* Exercised under ASan/LSan: a failed decode must release its root. */
    for (int i = 0; i < 100; i++) {
        decode_fails(dec_start,
                     "{\"session\":\"s\",\"sdp\":\"v=0\",\"key\":\"k\",\"spool_dir\":\"/a\","
                     "\"storage_dir\":\"/b\",\"url_base\":\"http://x/\",\"ice_addresses\":[1]}",
                     NULL);
        decode_fails(dec_http_response, "{\"status\":700,\"content_type\":\"t\",\"body\":\"b\"}", NULL);
        decode_fails(dec_candidate, "{\"candidate\":\"c\"}", NULL);
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/ipc-msg/hello", test_hello);
    g_test_add_func("/ipc-msg/heartbeat", test_heartbeat);
    g_test_add_func("/ipc-msg/start", test_start);
    g_test_add_func("/ipc-msg/start/encode-rejects", test_start_encode_rejects);
    g_test_add_func("/ipc-msg/start/ice-addresses", test_start_ice_addresses);
    g_test_add_func("/ipc-msg/candidate", test_candidate);
    g_test_add_func("/ipc-msg/answer", test_answer);
    g_test_add_func("/ipc-msg/done", test_done);
    g_test_add_func("/ipc-msg/error", test_error);
    g_test_add_func("/ipc-msg/ws-open", test_ws_open);
    g_test_add_func("/ipc-msg/http-request", test_http_request);
    g_test_add_func("/ipc-msg/http-response", test_http_response);
    g_test_add_func("/ipc-msg/schemas", test_schemas);
    g_test_add_func("/ipc-msg/s3-settings", test_s3_settings);
    g_test_add_func("/ipc-msg/pending", test_pending);
    g_test_add_func("/ipc-msg/spool-meta", test_spool_meta);
    g_test_add_func("/ipc-msg/no-leak-on-failure", test_decode_no_leak_on_failure);
    return g_test_run();
}
