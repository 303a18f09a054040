/*
 * tests/fuzz/fuzz_ipc.c - libFuzzer target for the IPC framing (proto/ipc.c)
 * and the IPC payload decoders (proto/ipc_msg.c).
 *
 * The input is a byte stream as read from a link.  It is:
 *   1. split into frames by ipc_frame_decode over the whole buffer (the
 *      reference), then fed to an ipc_reader all at once, byte by byte and in
 *      pseudo-random chunks: all four must agree on every frame and on the
 *      final state (ERROR / NEED_MORE);
 *   2. every frame's payload goes through every *_decode, whatever its type;
 *      what decodes must re-encode, decode again to the same values, and
 *      convert to the client messages the master builds from it;
 *   3. an input that cannot start a frame (first byte is not 0x57, e.g. any
 *      JSON text) is also decoded whole as a payload, so that the corpus can
 *      hold plain JSON payloads.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "fuzz_common.h"
#include "ipc.h"
#include "ipc_msg.h"

#define MAX_FRAMES 4096

struct ref_frame {
    uint16_t type;
    uint64_t id;
    uint32_t len;
    size_t offset; /* of the payload in the input */
};

static int str_eq(const char *a, const char *b)
{
    if (!a || !b)
        return a == b;
    return strcmp(a, b) == 0;
}

/* The master turns these into client messages: that must never fail. */
static void check_client_builders(const char *s)
{
    char *e = client_msg_error("%s", s);
    FUZZ_CHECK(e != NULL);
    free(e);
}

static void fuzz_hello(const uint8_t *p, size_t n)
{
    struct ipc_hello m, m2;
    json_t *root = NULL, *root2 = NULL;
    char err[256];
    if (ipc_hello_decode(p, n, &m, &root, err, sizeof(err)) != 0) {
        FUZZ_CHECK(root == NULL);
        return;
    }
    char *s = ipc_hello_encode(&m);
    FUZZ_CHECK(s != NULL);
    FUZZ_CHECK(ipc_hello_decode((const uint8_t *)s, strlen(s), &m2, &root2, err, sizeof(err)) == 0);
    FUZZ_CHECK(m.pid == m2.pid);
    json_decref(root2);
    free(s);
    json_decref(root);
}

static void fuzz_heartbeat(const uint8_t *p, size_t n)
{
    struct ipc_heartbeat m, m2;
    json_t *root = NULL, *root2 = NULL;
    char err[256];
    if (ipc_heartbeat_decode(p, n, &m, &root, err, sizeof(err)) != 0) {
        FUZZ_CHECK(root == NULL);
        return;
    }
    char *s = ipc_heartbeat_encode(&m);
    FUZZ_CHECK(s != NULL);
    FUZZ_CHECK(ipc_heartbeat_decode((const uint8_t *)s, strlen(s), &m2, &root2, err, sizeof(err)) == 0);
    FUZZ_CHECK(str_eq(m.state, m2.state) && m.bytes == m2.bytes);
    json_decref(root2);
    free(s);
    json_decref(root);
}

static int s3_eq(const struct ipc_s3 *a, const struct ipc_s3 *b)
{
    return str_eq(a->bucket, b->bucket) && str_eq(a->region, b->region) &&
           str_eq(a->endpoint, b->endpoint) && str_eq(a->prefix, b->prefix) &&
           !!a->path_style == !!b->path_style && str_eq(a->access_key, b->access_key) &&
           str_eq(a->secret_key, b->secret_key) && str_eq(a->session_token, b->session_token) &&
           a->part_size == b->part_size && a->timeout_ms == b->timeout_ms;
}

static void fuzz_start(const uint8_t *p, size_t n)
{
    struct ipc_start m, m2;
    json_t *root = NULL, *root2 = NULL;
    char err[256];
    if (ipc_start_decode(p, n, &m, &root, err, sizeof(err)) != 0) {
        FUZZ_CHECK(root == NULL);
        return;
    }
    FUZZ_CHECK(m.n_ice_addresses <= IPC_MAX_ICE_ADDRESSES);
    char *s = ipc_start_encode(&m);
    FUZZ_CHECK(s != NULL);
    FUZZ_CHECK(ipc_start_decode((const uint8_t *)s, strlen(s), &m2, &root2, err, sizeof(err)) == 0);
    FUZZ_CHECK(str_eq(m.session, m2.session) && str_eq(m.sdp, m2.sdp) && str_eq(m.key, m2.key) &&
               str_eq(m.spool_dir, m2.spool_dir) && str_eq(m.storage_dir, m2.storage_dir) &&
               str_eq(m.url_base, m2.url_base) && !!m.loopback == !!m2.loopback);
    FUZZ_CHECK(m.has_s3 == m2.has_s3 && (!m.has_s3 || s3_eq(&m.s3, &m2.s3)));
    FUZZ_CHECK(m.n_ice_addresses == m2.n_ice_addresses);
    for (size_t i = 0; i < m.n_ice_addresses; i++)
        FUZZ_CHECK(str_eq(m.ice_addresses[i], m2.ice_addresses[i]));
    json_decref(root2);
    free(s);
    json_decref(root);
}

static void fuzz_candidate(const uint8_t *p, size_t n)
{
    struct ice_candidate m, m2;
    json_t *root = NULL, *root2 = NULL;
    char err[256];
    if (ipc_candidate_decode(p, n, &m, &root, err, sizeof(err)) != 0) {
        FUZZ_CHECK(root == NULL);
        check_client_builders(err);
        return;
    }
    FUZZ_CHECK(m.candidate != NULL);
    FUZZ_CHECK(m.sdp_mline_index >= -1 && m.sdp_mline_index <= 1024);
    FUZZ_CHECK(m.candidate[0] == '\0' || m.sdp_mid != NULL || m.sdp_mline_index >= 0);
    char *s = ipc_candidate_encode(&m);
    FUZZ_CHECK(s != NULL);
    FUZZ_CHECK(ipc_candidate_decode((const uint8_t *)s, strlen(s), &m2, &root2, err, sizeof(err)) == 0);
    FUZZ_CHECK(str_eq(m.candidate, m2.candidate) && str_eq(m.sdp_mid, m2.sdp_mid) &&
               m.sdp_mline_index == m2.sdp_mline_index);
    json_decref(root2);
    free(s);
    /* The master forwards a worker's candidate to the client. */
    s = client_msg_ice_candidate(&m);
    FUZZ_CHECK(s != NULL);
    free(s);
    json_decref(root);
}

static void fuzz_answer(const uint8_t *p, size_t n)
{
    struct ipc_answer m, m2;
    json_t *root = NULL, *root2 = NULL;
    char err[256];
    if (ipc_answer_decode(p, n, &m, &root, err, sizeof(err)) != 0) {
        FUZZ_CHECK(root == NULL);
        return;
    }
    char *s = ipc_answer_encode(&m);
    FUZZ_CHECK(s != NULL);
    FUZZ_CHECK(ipc_answer_decode((const uint8_t *)s, strlen(s), &m2, &root2, err, sizeof(err)) == 0);
    FUZZ_CHECK(str_eq(m.sdp, m2.sdp));
    json_decref(root2);
    free(s);
    s = client_msg_start_response(m.sdp);
    FUZZ_CHECK(s != NULL);
    free(s);
    json_decref(root);
}

static void fuzz_done(const uint8_t *p, size_t n)
{
    struct ipc_done m, m2;
    json_t *root = NULL, *root2 = NULL;
    char err[256];
    if (ipc_done_decode(p, n, &m, &root, err, sizeof(err)) != 0) {
        FUZZ_CHECK(root == NULL);
        return;
    }
    char *s = ipc_done_encode(&m);
    FUZZ_CHECK(s != NULL);
    FUZZ_CHECK(ipc_done_decode((const uint8_t *)s, strlen(s), &m2, &root2, err, sizeof(err)) == 0);
    FUZZ_CHECK(str_eq(m.key, m2.key) && str_eq(m.url, m2.url) && m.bytes == m2.bytes &&
               m.duration_ms == m2.duration_ms && str_eq(m.sha256, m2.sha256));
    json_decref(root2);
    free(s);
    s = client_msg_upload_success(m.url, m.key);
    FUZZ_CHECK(s != NULL);
    free(s);
    json_decref(root);
}

static void fuzz_upload(const uint8_t *p, size_t n)
{
    struct ipc_upload m, m2;
    json_t *root = NULL, *root2 = NULL;
    char err[256];
    if (ipc_upload_decode(p, n, &m, &root, err, sizeof(err)) != 0) {
        FUZZ_CHECK(root == NULL);
        return;
    }
    FUZZ_CHECK(m.s3.part_size >= 5 * 1024 * 1024);
    char *s = ipc_upload_encode(&m);
    FUZZ_CHECK(s != NULL);
    FUZZ_CHECK(ipc_upload_decode((const uint8_t *)s, strlen(s), &m2, &root2, err, sizeof(err)) == 0);
    FUZZ_CHECK(str_eq(m.path, m2.path) && str_eq(m.key, m2.key) && s3_eq(&m.s3, &m2.s3));
    json_decref(root2);
    free(s);
    json_decref(root);
}

static void fuzz_pending(const uint8_t *p, size_t n)
{
    struct ipc_pending m, m2;
    json_t *root = NULL, *root2 = NULL;
    char err[256];
    if (ipc_pending_decode(p, n, &m, &root, err, sizeof(err)) != 0) {
        FUZZ_CHECK(root == NULL);
        return;
    }
    char *s = ipc_pending_encode(&m);
    FUZZ_CHECK(s != NULL);
    FUZZ_CHECK(ipc_pending_decode((const uint8_t *)s, strlen(s), &m2, &root2, err, sizeof(err)) == 0);
    FUZZ_CHECK(str_eq(m.key, m2.key) && m.bytes == m2.bytes && str_eq(m.message, m2.message));
    json_decref(root2);
    free(s);
    json_decref(root);
}

static void fuzz_error(const uint8_t *p, size_t n)
{
    struct ipc_error m, m2;
    json_t *root = NULL, *root2 = NULL;
    char err[256];
    if (ipc_error_decode(p, n, &m, &root, err, sizeof(err)) != 0) {
        FUZZ_CHECK(root == NULL);
        check_client_builders(err);
        return;
    }
    char *s = ipc_error_encode(&m);
    FUZZ_CHECK(s != NULL);
    FUZZ_CHECK(ipc_error_decode((const uint8_t *)s, strlen(s), &m2, &root2, err, sizeof(err)) == 0);
    FUZZ_CHECK(str_eq(m.message, m2.message) && !!m.fatal == !!m2.fatal);
    json_decref(root2);
    free(s);
    check_client_builders(m.message);
    json_decref(root);
}

static void fuzz_ws_open(const uint8_t *p, size_t n)
{
    struct ipc_ws_open m, m2;
    json_t *root = NULL, *root2 = NULL;
    char err[256];
    if (ipc_ws_open_decode(p, n, &m, &root, err, sizeof(err)) != 0) {
        FUZZ_CHECK(root == NULL);
        return;
    }
    char *s = ipc_ws_open_encode(&m);
    FUZZ_CHECK(s != NULL);
    FUZZ_CHECK(ipc_ws_open_decode((const uint8_t *)s, strlen(s), &m2, &root2, err, sizeof(err)) == 0);
    FUZZ_CHECK(str_eq(m.path, m2.path) && str_eq(m.peer, m2.peer) && str_eq(m.host, m2.host));
    json_decref(root2);
    free(s);
    json_decref(root);
}

static void fuzz_http_request(const uint8_t *p, size_t n)
{
    struct ipc_http_request m, m2;
    json_t *root = NULL, *root2 = NULL;
    char err[256];
    if (ipc_http_request_decode(p, n, &m, &root, err, sizeof(err)) != 0) {
        FUZZ_CHECK(root == NULL);
        return;
    }
    char *s = ipc_http_request_encode(&m);
    FUZZ_CHECK(s != NULL);
    FUZZ_CHECK(ipc_http_request_decode((const uint8_t *)s, strlen(s), &m2, &root2, err, sizeof(err)) == 0);
    FUZZ_CHECK(str_eq(m.method, m2.method) && str_eq(m.path, m2.path) &&
               str_eq(m.accept, m2.accept));
    json_decref(root2);
    free(s);
    json_decref(root);
}

static void fuzz_http_response(const uint8_t *p, size_t n)
{
    struct ipc_http_response m, m2;
    json_t *root = NULL, *root2 = NULL;
    char err[256];
    if (ipc_http_response_decode(p, n, &m, &root, err, sizeof(err)) != 0) {
        FUZZ_CHECK(root == NULL);
        return;
    }
    FUZZ_CHECK(m.status >= 100 && m.status <= 599);
    /* ...and is the number that was sent, not a narrowed one. */
    FUZZ_CHECK(json_integer_value(json_object_get(root, "status")) == m.status);
    char *s = ipc_http_response_encode(&m);
    FUZZ_CHECK(s != NULL);
    FUZZ_CHECK(ipc_http_response_decode((const uint8_t *)s, strlen(s), &m2, &root2, err, sizeof(err)) == 0);
    FUZZ_CHECK(m.status == m2.status && str_eq(m.content_type, m2.content_type) &&
               str_eq(m.body, m2.body));
    json_decref(root2);
    free(s);
    json_decref(root);
}

static void fuzz_payload(const uint8_t *p, size_t n)
{
    /* An exact-size copy, so that ASan catches a decoder reading past n. */
    uint8_t *copy = malloc(n ? n : 1);
    FUZZ_CHECK(copy != NULL);
    if (n)
        memcpy(copy, p, n);
    fuzz_hello(copy, n);
    fuzz_heartbeat(copy, n);
    fuzz_start(copy, n);
    fuzz_candidate(copy, n);
    fuzz_answer(copy, n);
    fuzz_done(copy, n);
    fuzz_error(copy, n);
    fuzz_upload(copy, n);
    fuzz_pending(copy, n);
    fuzz_ws_open(copy, n);
    fuzz_http_request(copy, n);
    fuzz_http_response(copy, n);
    free(copy);
}

/* Feed data to a reader in chunks; check frames against the reference. */
static void feed_reader(const uint8_t *data, size_t size, const struct ref_frame *ref, size_t nref,
                        enum ipc_decode_result ref_end, int mode)
{
    struct ipc_reader r;
    struct ipc_frame f;
    size_t pos = 0, got = 0;
    uint32_t rng = (uint32_t)size * 2654435761u + 1u;
    enum ipc_decode_result res = IPC_DECODE_NEED_MORE;

    ipc_reader_init(&r);
    if (mode == 2) /* a zero-length read into a fresh reader */
        FUZZ_CHECK(ipc_reader_append(&r, NULL, 0) == 0);
    while (pos < size) {
        size_t c;
        if (mode == 0)
            c = size;
        else if (mode == 1)
            c = 1;
        else {
            rng = rng * 1103515245u + 12345u;
            c = 1 + (rng >> 16) % 40;
        }
        if (c > size - pos)
            c = size - pos;
        FUZZ_CHECK(ipc_reader_append(&r, data + pos, c) == 0);
        pos += c;
        if (mode == 2 && (rng >> 8) % 5 == 0)
            FUZZ_CHECK(ipc_reader_append(&r, NULL, 0) == 0);
        while ((res = ipc_reader_next(&r, &f)) == IPC_DECODE_OK) {
            FUZZ_CHECK(got < nref);
            FUZZ_CHECK(f.type == ref[got].type && f.id == ref[got].id && f.len == ref[got].len);
            FUZZ_CHECK(f.len == 0 || memcmp(f.payload, data + ref[got].offset, f.len) == 0);
            got++;
        }
        if (res == IPC_DECODE_ERROR)
            break;
    }
    FUZZ_CHECK(got == nref);
    FUZZ_CHECK(res == ref_end);
    ipc_reader_free(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct ref_frame ref[MAX_FRAMES];
    size_t nref = 0, pos = 0;
    enum ipc_decode_result res;

    /* Reference split: ipc_frame_decode over the whole buffer. */
    for (;;) {
        struct ipc_frame f;
        size_t consumed = 0;
        res = ipc_frame_decode(data + pos, size - pos, &f, &consumed);
        if (res != IPC_DECODE_OK)
            break;
        FUZZ_CHECK(consumed == IPC_HEADER_SIZE + (size_t)f.len && consumed <= size - pos);
        FUZZ_CHECK(f.payload == data + pos + IPC_HEADER_SIZE);
        FUZZ_CHECK(ipc_type_valid(f.type) && f.len <= IPC_MAX_PAYLOAD);
        /* The header re-encodes to the same bytes. */
        uint8_t hdr[IPC_HEADER_SIZE];
        FUZZ_CHECK(ipc_header_encode(hdr, f.type, f.id, f.len) == 0);
        FUZZ_CHECK(memcmp(hdr, data + pos, IPC_HEADER_SIZE) == 0);
        if (nref == MAX_FRAMES)
            return 0; /* too many to track; uninteresting anyway */
        ref[nref++] = (struct ref_frame){f.type, f.id, f.len, pos + IPC_HEADER_SIZE};
        pos += consumed;
    }
    /* NEED_MORE only ever with an incomplete frame left. */
    if (res == IPC_DECODE_NEED_MORE && size - pos >= IPC_HEADER_SIZE) {
        uint32_t len = (uint32_t)data[pos + 4] << 24 | (uint32_t)data[pos + 5] << 16 |
                       (uint32_t)data[pos + 6] << 8 | data[pos + 7];
        FUZZ_CHECK(size - pos - IPC_HEADER_SIZE < len);
    }

    for (int mode = 0; mode < 3; mode++)
        feed_reader(data, size, ref, nref, res, mode);

    for (size_t i = 0; i < nref; i++)
        fuzz_payload(data + ref[i].offset, ref[i].len);

    if (size > 0 && data[0] != (IPC_MAGIC >> 8))
        fuzz_payload(data, size);
    return 0;
}
