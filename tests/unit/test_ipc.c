/*
 * tests/unit/test_ipc.c - the 16-byte frame header (proto/ipc.c) and the
 * stream reassembler ipc_reader.
 */
#include <glib.h>
#include <stdint.h>
#include <string.h>

#include "ipc.h"

static const uint16_t all_types[] = {
    IPC_WS_OPEN, IPC_WS_TEXT, IPC_WS_CLOSE, IPC_HTTP_REQUEST, IPC_HTTP_RESPONSE,
    IPC_W_HELLO, IPC_W_HEARTBEAT, IPC_W_START, IPC_W_CANDIDATE, IPC_W_ANSWER,
    IPC_W_STOP, IPC_W_DONE, IPC_W_ERROR, IPC_W_UPLOAD, IPC_W_PENDING,
};
#define N_TYPES (sizeof(all_types) / sizeof(all_types[0]))

/* Append one whole frame (header + payload) to `out`. */
static void add_frame(GByteArray *out, uint16_t type, uint64_t id, const void *payload, size_t len)
{
    uint8_t hdr[IPC_HEADER_SIZE];
    g_assert_cmpint(ipc_header_encode(hdr, type, id, len), ==, 0);
    g_byte_array_append(out, hdr, IPC_HEADER_SIZE);
    if (len)
        g_byte_array_append(out, payload, (guint)len);
}

/* A deterministic payload of `len` bytes, distinct per `seed`. */
static uint8_t *make_payload(size_t len, unsigned seed)
{
    uint8_t *p = g_malloc(len ? len : 1);
    for (size_t i = 0; i < len; i++)
        p[i] = (uint8_t)(seed * 31u + i * 7u + (i >> 8));
    return p;
}

/* ---- types ------------------------------------------------------------- */

static void test_type_names(void)
{
    const char *expect[] = {"ws-open", "ws-text", "ws-close", "http-request", "http-response",
                            "hello", "heartbeat", "start", "candidate", "answer", "stop",
                            "done", "error", "upload", "pending"};
    for (size_t i = 0; i < N_TYPES; i++) {
        g_assert_true(ipc_type_valid(all_types[i]));
        g_assert_cmpstr(ipc_type_name(all_types[i]), ==, expect[i]);
    }
    const uint16_t bad[] = {0, 6, 7, 15, 26, 27, 0x0100, 0x1000, 0x7fff, 0xffff};
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_assert_false(ipc_type_valid(bad[i]));
        g_assert_null(ipc_type_name(bad[i]));
    }
    /* The numeric values are wire format: pin them. */
    g_assert_cmpint(IPC_WS_OPEN, ==, 1);
    g_assert_cmpint(IPC_HTTP_RESPONSE, ==, 5);
    g_assert_cmpint(IPC_W_HELLO, ==, 16);
    g_assert_cmpint(IPC_W_ERROR, ==, 23);
    g_assert_cmpint(IPC_W_UPLOAD, ==, 24);
    g_assert_cmpint(IPC_W_PENDING, ==, 25);
}

/* ---- header encode ----------------------------------------------------- */

static void test_header_layout(void)
{
    uint8_t hdr[IPC_HEADER_SIZE];
    g_assert_cmpint(IPC_HEADER_SIZE, ==, 16);
    g_assert_cmpint(ipc_header_encode(hdr, IPC_W_START, 0x0102030405060708ull, 0x000A0B0Cu), ==, 0);
    static const uint8_t want[IPC_HEADER_SIZE] = {0x57, 0x56, 0x00, 0x12, 0x00, 0x0A, 0x0B, 0x0C,
                                                  0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08};
    g_assert_cmpmem(hdr, sizeof(hdr), want, sizeof(want));

    g_assert_cmpint(ipc_header_encode(hdr, IPC_WS_TEXT, 0, 0), ==, 0);
    static const uint8_t want0[IPC_HEADER_SIZE] = {0x57, 0x56, 0x00, 0x02, 0, 0, 0, 0,
                                                   0,    0,    0,    0,    0, 0, 0, 0};
    g_assert_cmpmem(hdr, sizeof(hdr), want0, sizeof(want0));

    g_assert_cmpint(ipc_header_encode(hdr, IPC_W_ERROR, UINT64_MAX, IPC_MAX_PAYLOAD), ==, 0);
    static const uint8_t wantmax[IPC_HEADER_SIZE] = {0x57, 0x56, 0x00, 0x17, 0x00, 0x10, 0x00, 0x00,
                                                     0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    g_assert_cmpmem(hdr, sizeof(hdr), wantmax, sizeof(wantmax));
}

static void test_header_encode_rejects(void)
{
    uint8_t hdr[IPC_HEADER_SIZE];
    uint8_t untouched[IPC_HEADER_SIZE];
    memset(hdr, 0xAA, sizeof(hdr));
    memset(untouched, 0xAA, sizeof(untouched));

    g_assert_cmpint(ipc_header_encode(hdr, IPC_WS_TEXT, 1, (size_t)IPC_MAX_PAYLOAD + 1), ==, -1);
    g_assert_cmpint(ipc_header_encode(hdr, IPC_WS_TEXT, 1, SIZE_MAX), ==, -1);
    g_assert_cmpint(ipc_header_encode(hdr, IPC_WS_TEXT, 1, (size_t)UINT32_MAX + 1), ==, -1);
    g_assert_cmpint(ipc_header_encode(hdr, 0, 1, 0), ==, -1);
    g_assert_cmpint(ipc_header_encode(hdr, 99, 1, 0), ==, -1);
    g_assert_cmpmem(hdr, sizeof(hdr), untouched, sizeof(untouched));
}

static void test_header_round_trip(void)
{
    const uint64_t ids[] = {0, 1, 0xff, 0x100, 0x8000000000000000ull, UINT64_MAX, 0x0123456789abcdefull};
    const size_t lens[] = {0, 1, 255, 256, 65535, 65536, IPC_MAX_PAYLOAD};
    uint8_t *buf = g_malloc0(IPC_HEADER_SIZE + IPC_MAX_PAYLOAD);

    for (size_t t = 0; t < N_TYPES; t++)
        for (size_t i = 0; i < G_N_ELEMENTS(ids); i++)
            for (size_t l = 0; l < G_N_ELEMENTS(lens); l++) {
                struct ipc_frame f;
                size_t consumed = 0;
                g_assert_cmpint(ipc_header_encode(buf, all_types[t], ids[i], lens[l]), ==, 0);
                g_assert_cmpint(ipc_frame_decode(buf, IPC_HEADER_SIZE + lens[l], &f, &consumed), ==,
                                IPC_DECODE_OK);
                g_assert_cmpuint(f.type, ==, all_types[t]);
                g_assert_cmpuint(f.id, ==, ids[i]);
                g_assert_cmpuint(f.len, ==, lens[l]);
                g_assert_true(f.payload == buf + IPC_HEADER_SIZE);
                g_assert_cmpuint(consumed, ==, IPC_HEADER_SIZE + lens[l]);
            }
    g_free(buf);
}

static void test_header_decode(void)
{
    uint8_t hdr[IPC_HEADER_SIZE];
    struct ipc_frame f;

    for (size_t t = 0; t < N_TYPES; t++) {
        g_assert_cmpint(ipc_header_encode(hdr, all_types[t], 0x1122334455667788ull, 1000 + t), ==, 0);
        memset(&f, 0xa5, sizeof(f));
        g_assert_cmpint(ipc_header_decode(hdr, &f), ==, IPC_DECODE_OK);
        g_assert_cmpuint(f.type, ==, all_types[t]);
        g_assert_cmpuint(f.id, ==, 0x1122334455667788ull);
        g_assert_cmpuint(f.len, ==, 1000 + t);
        g_assert_null(f.payload);
    }
    g_assert_cmpint(ipc_header_encode(hdr, IPC_WS_TEXT, 1, IPC_MAX_PAYLOAD), ==, 0);
    g_assert_cmpint(ipc_header_decode(hdr, &f), ==, IPC_DECODE_OK);
    g_assert_cmpuint(f.len, ==, IPC_MAX_PAYLOAD);

    /* magic, type, len: each is checked */
    const struct {
        int at;
        uint8_t v;
    } bad[] = {{0, 0x00}, {0, 0x56}, {1, 0x57}, {1, 0xff}, {2, 0x01}, {3, 0x00}, {3, 0x06},
               {3, 0x1a}, {4, 0x01}, {5, 0x11}, {6, 0x00}};
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_assert_cmpint(ipc_header_encode(hdr, IPC_WS_TEXT, 1, IPC_MAX_PAYLOAD), ==, 0);
        hdr[bad[i].at] = bad[i].v;
        if (bad[i].at == 6) /* len = 0x00100000 + 1 */
            hdr[7] = 0x01;
        g_assert_cmpint(ipc_header_decode(hdr, &f), ==, IPC_DECODE_ERROR);
    }
}

/* ---- frame decode ------------------------------------------------------ */

static void test_decode_bad_magic(void)
{
    struct ipc_frame f;
    size_t consumed = 12345;

    /* An empty buffer simply needs more. */
    g_assert_cmpint(ipc_frame_decode(NULL, 0, &f, &consumed), ==, IPC_DECODE_NEED_MORE);

    /* A wrong first byte is fatal at once, even alone. */
    for (unsigned b = 0; b < 256; b++) {
        uint8_t one = (uint8_t)b;
        enum ipc_decode_result want = b == 0x57 ? IPC_DECODE_NEED_MORE : IPC_DECODE_ERROR;
        g_assert_cmpint(ipc_frame_decode(&one, 1, &f, &consumed), ==, want);
    }
    /* A wrong second byte is fatal with two bytes. */
    for (unsigned b = 0; b < 256; b++) {
        uint8_t two[2] = {0x57, (uint8_t)b};
        enum ipc_decode_result want = b == 0x56 ? IPC_DECODE_NEED_MORE : IPC_DECODE_ERROR;
        g_assert_cmpint(ipc_frame_decode(two, 2, &f, &consumed), ==, want);
    }
    /* Byte-swapped magic ("VW") in a complete header. */
    uint8_t hdr[IPC_HEADER_SIZE];
    g_assert_cmpint(ipc_header_encode(hdr, IPC_WS_TEXT, 7, 0), ==, 0);
    hdr[0] = 0x56;
    hdr[1] = 0x57;
    g_assert_cmpint(ipc_frame_decode(hdr, sizeof(hdr), &f, &consumed), ==, IPC_DECODE_ERROR);
    g_assert_cmpuint(consumed, ==, 12345); /* not touched on error */
}

static void test_decode_unknown_type(void)
{
    const uint16_t bad[] = {0, 6, 15, 26, 0x0102, 0xffff};
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        uint8_t hdr[IPC_HEADER_SIZE];
        struct ipc_frame f;
        size_t consumed;
        g_assert_cmpint(ipc_header_encode(hdr, IPC_WS_TEXT, 1, 0), ==, 0);
        hdr[2] = (uint8_t)(bad[i] >> 8);
        hdr[3] = (uint8_t)bad[i];
        g_assert_cmpint(ipc_frame_decode(hdr, sizeof(hdr), &f, &consumed), ==, IPC_DECODE_ERROR);
    }
}

static void test_decode_oversized(void)
{
    const uint32_t lens[] = {IPC_MAX_PAYLOAD + 1, IPC_MAX_PAYLOAD * 2, 0x7fffffffu, 0x80000000u, 0xffffffffu};
    for (size_t i = 0; i < G_N_ELEMENTS(lens); i++) {
        uint8_t hdr[IPC_HEADER_SIZE];
        struct ipc_frame f;
        size_t consumed;
        g_assert_cmpint(ipc_header_encode(hdr, IPC_WS_TEXT, 1, 0), ==, 0);
        hdr[4] = (uint8_t)(lens[i] >> 24);
        hdr[5] = (uint8_t)(lens[i] >> 16);
        hdr[6] = (uint8_t)(lens[i] >> 8);
        hdr[7] = (uint8_t)lens[i];
        /* An error as soon as the header is complete: no waiting for the payload. */
        g_assert_cmpint(ipc_frame_decode(hdr, sizeof(hdr), &f, &consumed), ==, IPC_DECODE_ERROR);
    }
    /* Exactly the limit is fine, it just needs its payload. */
    uint8_t hdr[IPC_HEADER_SIZE];
    struct ipc_frame f;
    size_t consumed;
    g_assert_cmpint(ipc_header_encode(hdr, IPC_WS_TEXT, 1, IPC_MAX_PAYLOAD), ==, 0);
    g_assert_cmpint(ipc_frame_decode(hdr, sizeof(hdr), &f, &consumed), ==, IPC_DECODE_NEED_MORE);
}

static void test_decode_every_split(void)
{
    const char *payload = "{\"sdp\":\"v=0\\r\\n\"}";
    size_t plen = strlen(payload);
    GByteArray *b = g_byte_array_new();
    add_frame(b, IPC_W_ANSWER, 0xdeadbeefcafef00dull, payload, plen);
    size_t total = b->len;
    g_assert_cmpuint(total, ==, IPC_HEADER_SIZE + plen);

    for (size_t k = 0; k < total; k++) {
        /* Copy the prefix into an exact-size heap block so ASan sees any
         * read past it. */
        uint8_t *prefix = g_memdup2(b->data, k ? k : 1);
        struct ipc_frame f;
        size_t consumed = 999;
        g_assert_cmpint(ipc_frame_decode(prefix, k, &f, &consumed), ==, IPC_DECODE_NEED_MORE);
        g_assert_cmpuint(consumed, ==, 999);
        g_free(prefix);
    }
    uint8_t *whole = g_memdup2(b->data, total);
    struct ipc_frame f;
    size_t consumed = 0;
    g_assert_cmpint(ipc_frame_decode(whole, total, &f, &consumed), ==, IPC_DECODE_OK);
    g_assert_cmpuint(consumed, ==, total);
    g_assert_cmpuint(f.type, ==, IPC_W_ANSWER);
    g_assert_cmpuint(f.id, ==, 0xdeadbeefcafef00dull);
    g_assert_cmpmem(f.payload, f.len, payload, plen);
    g_free(whole);

    /* Trailing bytes (the start of the next frame) are left alone. */
    add_frame(b, IPC_W_STOP, 1, "{}", 2);
    g_assert_cmpint(ipc_frame_decode(b->data, b->len, &f, &consumed), ==, IPC_DECODE_OK);
    g_assert_cmpuint(consumed, ==, total);
    g_assert_cmpint(ipc_frame_decode(b->data + consumed, b->len - consumed, &f, &consumed), ==,
                    IPC_DECODE_OK);
    g_assert_cmpuint(f.type, ==, IPC_W_STOP);
    g_assert_cmpmem(f.payload, f.len, "{}", 2);
    g_byte_array_unref(b);
}

static void test_decode_empty_payload(void)
{
    uint8_t *hdr = g_malloc(IPC_HEADER_SIZE);
    struct ipc_frame f;
    size_t consumed;
    g_assert_cmpint(ipc_header_encode(hdr, IPC_WS_CLOSE, 3, 0), ==, 0);
    g_assert_cmpint(ipc_frame_decode(hdr, IPC_HEADER_SIZE, &f, &consumed), ==, IPC_DECODE_OK);
    g_assert_cmpuint(f.len, ==, 0);
    g_assert_cmpuint(consumed, ==, IPC_HEADER_SIZE);
    g_free(hdr);
}

/* ---- ipc_reader -------------------------------------------------------- */

struct expect {
    uint16_t type;
    uint64_t id;
    uint8_t *payload;
    size_t len;
};

/* Build `n` frames of varied types, ids and sizes into `stream`. */
static struct expect *build_stream(GByteArray *stream, size_t n, size_t maxlen)
{
    struct expect *e = g_new0(struct expect, n);
    for (size_t i = 0; i < n; i++) {
        e[i].type = all_types[i % N_TYPES];
        e[i].id = (uint64_t)i * 0x9E3779B97F4A7C15ull;
        e[i].len = (i * 37u) % (maxlen + 1);
        if (i % 5 == 0)
            e[i].len = 0;
        e[i].payload = make_payload(e[i].len, (unsigned)i);
        add_frame(stream, e[i].type, e[i].id, e[i].payload, e[i].len);
    }
    return e;
}

static void free_expect(struct expect *e, size_t n)
{
    for (size_t i = 0; i < n; i++)
        g_free(e[i].payload);
    g_free(e);
}

static void check_frame(const struct ipc_frame *f, const struct expect *e)
{
    g_assert_cmpuint(f->type, ==, e->type);
    g_assert_cmpuint(f->id, ==, e->id);
    g_assert_cmpmem(f->payload, f->len, e->payload, e->len);
}

/* Feed `stream` to a reader in chunks of chunk(i) bytes; check every frame. */
static void feed_in_chunks(const GByteArray *stream, const struct expect *e, size_t n,
                           size_t (*chunk)(size_t i))
{
    struct ipc_reader r;
    struct ipc_frame f;
    size_t got = 0, pos = 0;

    ipc_reader_init(&r);
    g_assert_cmpint(ipc_reader_next(&r, &f), ==, IPC_DECODE_NEED_MORE);
    for (size_t i = 0; pos < stream->len; i++) {
        size_t c = MIN(chunk(i), stream->len - pos);
        g_assert_cmpint(ipc_reader_append(&r, stream->data + pos, c), ==, 0);
        pos += c;
        enum ipc_decode_result res;
        while ((res = ipc_reader_next(&r, &f)) == IPC_DECODE_OK) {
            g_assert_cmpuint(got, <, n);
            check_frame(&f, &e[got]);
            got++;
        }
        g_assert_cmpint(res, ==, IPC_DECODE_NEED_MORE);
    }
    g_assert_cmpuint(got, ==, n);
    g_assert_cmpint(ipc_reader_next(&r, &f), ==, IPC_DECODE_NEED_MORE);
    ipc_reader_free(&r);
    g_assert_null(r.buf);
}

static size_t chunk_one(size_t i)
{
    (void)i;
    return 1;
}

static size_t chunk_all(size_t i)
{
    (void)i;
    return SIZE_MAX;
}

static size_t chunk_odd(size_t i)
{
    static const size_t sizes[] = {3, 15, 16, 17, 1, 4096, 7, 31, 100, 2};
    return sizes[i % G_N_ELEMENTS(sizes)];
}

static void test_reader_byte_by_byte(void)
{
    GByteArray *s = g_byte_array_new();
    struct expect *e = build_stream(s, 40, 300);
    feed_in_chunks(s, e, 40, chunk_one);
    free_expect(e, 40);
    g_byte_array_unref(s);
}

static void test_reader_many_in_one_append(void)
{
    GByteArray *s = g_byte_array_new();
    struct expect *e = build_stream(s, 1000, 2000);
    feed_in_chunks(s, e, 1000, chunk_all);
    feed_in_chunks(s, e, 1000, chunk_odd);
    free_expect(e, 1000);
    g_byte_array_unref(s);
}

static void test_reader_large_frame(void)
{
    /* A maximum-size frame, then a small one, in odd chunks: the buffer grows
     * well past its initial 4 KiB. */
    GByteArray *s = g_byte_array_new();
    struct expect e[3];
    e[0] = (struct expect){IPC_WS_TEXT, 1, make_payload(IPC_MAX_PAYLOAD, 1), IPC_MAX_PAYLOAD};
    e[1] = (struct expect){IPC_W_STOP, 2, make_payload(2, 2), 2};
    e[2] = (struct expect){IPC_WS_TEXT, 3, make_payload(70000, 3), 70000};
    for (int i = 0; i < 3; i++)
        add_frame(s, e[i].type, e[i].id, e[i].payload, e[i].len);
    feed_in_chunks(s, e, 3, chunk_all);
    feed_in_chunks(s, e, 3, chunk_odd);
    for (int i = 0; i < 3; i++)
        g_free(e[i].payload);
    g_byte_array_unref(s);
}

static void test_reader_payload_validity(void)
{
    GByteArray *s = g_byte_array_new();
    struct expect *e = build_stream(s, 4, 50);
    struct ipc_reader r;
    struct ipc_frame f1, f2;

    ipc_reader_init(&r);
    /* All four frames plus half a header of a fifth. */
    g_assert_cmpint(ipc_reader_append(&r, s->data, s->len), ==, 0);
    g_assert_cmpint(ipc_reader_append(&r, "\x57\x56\x00", 3), ==, 0);

    g_assert_cmpint(ipc_reader_next(&r, &f1), ==, IPC_DECODE_OK);
    check_frame(&f1, &e[0]);
    /* The payload is still intact right before the next call... */
    const uint8_t *p1 = f1.payload;
    g_assert_cmpmem(p1, f1.len, e[0].payload, e[0].len);
    g_assert_cmpint(ipc_reader_next(&r, &f2), ==, IPC_DECODE_OK);
    check_frame(&f2, &e[1]);
    /* ...and frames are handed out in place, one after the other. */
    g_assert_true(f2.payload == p1 + f1.len + IPC_HEADER_SIZE);

    /* Appending while a frame is handed out (which invalidates it) must not
     * lose or duplicate it: the next frame is e[2]. */
    g_assert_cmpint(ipc_reader_append(&r, "", 0), ==, 0);
    g_assert_cmpint(ipc_reader_next(&r, &f1), ==, IPC_DECODE_OK);
    check_frame(&f1, &e[2]);
    g_assert_cmpint(ipc_reader_next(&r, &f1), ==, IPC_DECODE_OK);
    check_frame(&f1, &e[3]);
    g_assert_cmpint(ipc_reader_next(&r, &f1), ==, IPC_DECODE_NEED_MORE);
    g_assert_cmpint(ipc_reader_next(&r, &f1), ==, IPC_DECODE_NEED_MORE);

    /* Complete the fifth frame. */
    const uint8_t rest[] = {0x15, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 9, '{', '}'};
    g_assert_cmpint(ipc_reader_append(&r, rest, sizeof(rest)), ==, 0);
    g_assert_cmpint(ipc_reader_next(&r, &f1), ==, IPC_DECODE_OK);
    g_assert_cmpuint(f1.type, ==, IPC_W_STOP);
    g_assert_cmpuint(f1.id, ==, 9);
    g_assert_cmpmem(f1.payload, f1.len, "{}", 2);
    g_assert_cmpint(ipc_reader_next(&r, &f1), ==, IPC_DECODE_NEED_MORE);

    ipc_reader_free(&r);
    free_expect(e, 4);
    g_byte_array_unref(s);
}

static void test_reader_error_is_sticky(void)
{
    struct ipc_reader r;
    struct ipc_frame f;
    uint8_t hdr[IPC_HEADER_SIZE];

    ipc_reader_init(&r);
    g_assert_cmpint(ipc_header_encode(hdr, IPC_WS_TEXT, 1, 1), ==, 0);
    g_assert_cmpint(ipc_reader_append(&r, hdr, sizeof(hdr)), ==, 0);
    g_assert_cmpint(ipc_reader_append(&r, "x", 1), ==, 0);
    g_assert_cmpint(ipc_reader_append(&r, "GET / HTTP/1.1\r\n", 16), ==, 0);
    g_assert_cmpint(ipc_reader_next(&r, &f), ==, IPC_DECODE_OK);
    g_assert_cmpmem(f.payload, f.len, "x", 1);
    g_assert_cmpint(ipc_reader_next(&r, &f), ==, IPC_DECODE_ERROR);
    /* It never resynchronises: garbage stays an error. */
    g_assert_cmpint(ipc_reader_next(&r, &f), ==, IPC_DECODE_ERROR);
    g_assert_cmpint(ipc_reader_append(&r, hdr, sizeof(hdr)), ==, 0);
    g_assert_cmpint(ipc_reader_next(&r, &f), ==, IPC_DECODE_ERROR);
    ipc_reader_free(&r);

    /* One bad byte is enough. */
    ipc_reader_init(&r);
    g_assert_cmpint(ipc_reader_append(&r, "\x00", 1), ==, 0);
    g_assert_cmpint(ipc_reader_next(&r, &f), ==, IPC_DECODE_ERROR);
    ipc_reader_free(&r);
}

static void test_reader_empty_appends(void)
{
    struct ipc_reader r;
    struct ipc_frame f;

    /* Appending nothing to a fresh reader (a zero-length read) is harmless. */
    ipc_reader_init(&r);
    g_assert_cmpint(ipc_reader_append(&r, NULL, 0), ==, 0);
    g_assert_cmpint(ipc_reader_append(&r, "", 0), ==, 0);
    g_assert_cmpint(ipc_reader_next(&r, &f), ==, IPC_DECODE_NEED_MORE);
    ipc_reader_free(&r);
    /* free() leaves it reusable. */
    ipc_reader_free(&r);
    uint8_t frame[IPC_HEADER_SIZE];
    g_assert_cmpint(ipc_header_encode(frame, IPC_W_STOP, 5, 0), ==, 0);
    g_assert_cmpint(ipc_reader_append(&r, frame, sizeof(frame)), ==, 0);
    g_assert_cmpint(ipc_reader_append(&r, NULL, 0), ==, 0);
    g_assert_cmpint(ipc_reader_next(&r, &f), ==, IPC_DECODE_OK);
    g_assert_cmpuint(f.id, ==, 5);
    g_assert_cmpuint(f.len, ==, 0);
    g_assert_cmpint(ipc_reader_next(&r, &f), ==, IPC_DECODE_NEED_MORE);
    ipc_reader_free(&r);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/ipc/type/names", test_type_names);
    g_test_add_func("/ipc/header/layout", test_header_layout);
    g_test_add_func("/ipc/header/encode-rejects", test_header_encode_rejects);
    g_test_add_func("/ipc/header/round-trip", test_header_round_trip);
    g_test_add_func("/ipc/header/decode", test_header_decode);
    g_test_add_func("/ipc/decode/bad-magic", test_decode_bad_magic);
    g_test_add_func("/ipc/decode/unknown-type", test_decode_unknown_type);
    g_test_add_func("/ipc/decode/oversized", test_decode_oversized);
    g_test_add_func("/ipc/decode/every-split", test_decode_every_split);
    g_test_add_func("/ipc/decode/empty-payload", test_decode_empty_payload);
    g_test_add_func("/ipc/reader/byte-by-byte", test_reader_byte_by_byte);
    g_test_add_func("/ipc/reader/many-in-one-append", test_reader_many_in_one_append);
    g_test_add_func("/ipc/reader/large-frame", test_reader_large_frame);
    g_test_add_func("/ipc/reader/payload-validity", test_reader_payload_validity);
    g_test_add_func("/ipc/reader/error-is-sticky", test_reader_error_is_sticky);
    g_test_add_func("/ipc/reader/empty-appends", test_reader_empty_appends);
    return g_test_run();
}
