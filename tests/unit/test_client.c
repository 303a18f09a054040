/*
 * tests/unit/test_client.c - the browser-facing recorder protocol
 * (proto/client.c): parsing every valid and invalid client message, and the
 * server -> client builders.
 */
#include <glib.h>
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"

/*
 * Parse `len` bytes copied into an exact-size heap block with no terminating
 * NUL, so that AddressSanitizer catches any read past `len`.
 */
static int parse_n(const char *data, size_t len, struct client_msg *msg, char *err, size_t errlen)
{
    char *copy = g_malloc(len ? len : 1);
    memcpy(copy, data, len);
    int r = client_msg_parse(copy, len, msg, err, errlen);
    g_free(copy);
    return r;
}

/* Parse a message that must be valid; strings in *msg stay owned by msg->root. */
static void parse_ok(const char *text, struct client_msg *msg)
{
    char err[512] = "";
    /* The strings in msg point into msg->root, not into the input buffer,
     * which parse_n frees. */
    int r = parse_n(text, strlen(text), msg, err, sizeof(err));
    if (r != 0)
        g_error("expected %s to parse, got: %s", text, err);
    g_assert_nonnull(msg->root);
}

/* Parse a message that must be rejected with exactly `want` as the reason. */
static void parse_fails(const char *text, const char *want)
{
    struct client_msg msg;
    char err[512] = "";
    memset(&msg, 0x5a, sizeof(msg));
    g_assert_cmpint(parse_n(text, strlen(text), &msg, err, sizeof(err)), ==, -1);
    g_assert_cmpstr(err, ==, want);
    g_assert_null(msg.root); /* nothing to release after a failure */
    /* Every reason must be sendable to the client. */
    char *e = client_msg_error("%s", err);
    g_assert_nonnull(e);
    free(e);
}

/* As parse_fails, but only the start of the reason is ours (the rest is
 * jansson's parser message, which names the position). */
static void parse_fails_prefix(const char *text, const char *prefix)
{
    struct client_msg msg;
    char err[512] = "";
    g_assert_cmpint(parse_n(text, strlen(text), &msg, err, sizeof(err)), ==, -1);
    if (!g_str_has_prefix(err, prefix))
        g_error("%s: expected an error starting with \"%s\", got \"%s\"", text, prefix, err);
    g_assert_null(msg.root);
    char *e = client_msg_error("%s", err);
    g_assert_nonnull(e);
    free(e);
}

/* The smallest offer sdp_offer_check accepts, as JSON string content. */
#define OFFER_JSON "v=0\\r\\nm=audio 9 RTP/AVP 0\\r\\n"
#define OFFER "v=0\r\nm=audio 9 RTP/AVP 0\r\n"

/* ---- valid messages ---------------------------------------------------- */

static void test_start(void)
{
    struct client_msg m;

    parse_ok("{\"id\":\"start\",\"sdpOffer\":\"v=0\\r\\no=- 1 2 IN IP4 127.0.0.1\\r\\ns=-\\r\\n"
             "t=0 0\\r\\nm=video 9 UDP/TLS/RTP/SAVPF 96\\r\\n\"}",
             &m);
    g_assert_cmpint(m.type, ==, CLIENT_MSG_START);
    g_assert_cmpstr(m.u.start.sdp_offer, ==,
                    "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\n");
    g_assert_cmpint(m.u.start.loopback, ==, 0);
    client_msg_clear(&m);
    g_assert_null(m.root);

    parse_ok("{\"id\":\"start\",\"sdpOffer\":\"" OFFER_JSON "\",\"loopback\":true}", &m);
    g_assert_cmpint(m.type, ==, CLIENT_MSG_START);
    g_assert_cmpstr(m.u.start.sdp_offer, ==, OFFER);
    g_assert_cmpint(m.u.start.loopback, ==, 1);
    client_msg_clear(&m);

    parse_ok("{\"loopback\":false,\"sdpOffer\":\"" OFFER_JSON "\",\"id\":\"start\"}", &m);
    g_assert_cmpint(m.type, ==, CLIENT_MSG_START);
    g_assert_cmpint(m.u.start.loopback, ==, 0);
    client_msg_clear(&m);

    /* Whitespace around and inside is fine; non-ASCII SDP survives. */
    parse_ok(" \n{ \"id\" : \"start\" ,\t\"sdpOffer\" : \"v=0\\ns=\xc3\xa9\\u00e9\\nm=audio 1 x\" }\r\n", &m);
    g_assert_cmpstr(m.u.start.sdp_offer, ==, "v=0\ns=\xc3\xa9\xc3\xa9\nm=audio 1 x");
    client_msg_clear(&m);
}

static void test_candidate_variants(void)
{
    struct client_msg m;

    /* sdpMid only */
    parse_ok("{\"id\":\"onIceCandidate\",\"candidate\":{\"candidate\":\"candidate:1 1 UDP 1 "
             "10.0.0.2 5000 typ host\",\"sdpMid\":\"0\"}}",
             &m);
    g_assert_cmpint(m.type, ==, CLIENT_MSG_ICE_CANDIDATE);
    g_assert_cmpstr(m.u.candidate.candidate, ==, "candidate:1 1 UDP 1 10.0.0.2 5000 typ host");
    g_assert_cmpstr(m.u.candidate.sdp_mid, ==, "0");
    g_assert_cmpint(m.u.candidate.sdp_mline_index, ==, -1);
    client_msg_clear(&m);

    /* sdpMLineIndex only */
    parse_ok("{\"id\":\"onIceCandidate\",\"candidate\":{\"candidate\":\"candidate:x\","
             "\"sdpMLineIndex\":1}}",
             &m);
    g_assert_null(m.u.candidate.sdp_mid);
    g_assert_cmpint(m.u.candidate.sdp_mline_index, ==, 1);
    client_msg_clear(&m);

    /* both */
    parse_ok("{\"id\":\"onIceCandidate\",\"candidate\":{\"candidate\":\"candidate:x\","
             "\"sdpMid\":\"audio\",\"sdpMLineIndex\":0}}",
             &m);
    g_assert_cmpstr(m.u.candidate.sdp_mid, ==, "audio");
    g_assert_cmpint(m.u.candidate.sdp_mline_index, ==, 0);
    client_msg_clear(&m);

    /* null sdpMid, as Firefox sends it, with an index */
    parse_ok("{\"id\":\"onIceCandidate\",\"candidate\":{\"candidate\":\"candidate:x\","
             "\"sdpMid\":null,\"sdpMLineIndex\":2}}",
             &m);
    g_assert_null(m.u.candidate.sdp_mid);
    g_assert_cmpint(m.u.candidate.sdp_mline_index, ==, 2);
    client_msg_clear(&m);

    /* null sdpMLineIndex with a mid */
    parse_ok("{\"id\":\"onIceCandidate\",\"candidate\":{\"candidate\":\"candidate:x\","
             "\"sdpMid\":\"1\",\"sdpMLineIndex\":null}}",
             &m);
    g_assert_cmpstr(m.u.candidate.sdp_mid, ==, "1");
    g_assert_cmpint(m.u.candidate.sdp_mline_index, ==, -1);
    client_msg_clear(&m);

    /* the largest accepted index */
    parse_ok("{\"id\":\"onIceCandidate\",\"candidate\":{\"candidate\":\"c\",\"sdpMLineIndex\":1024}}", &m);
    g_assert_cmpint(m.u.candidate.sdp_mline_index, ==, 1024);
    client_msg_clear(&m);

    /* end-of-candidates: an empty candidate string, with or without mid/index */
    parse_ok("{\"id\":\"onIceCandidate\",\"candidate\":{\"candidate\":\"\"}}", &m);
    g_assert_cmpint(m.type, ==, CLIENT_MSG_ICE_CANDIDATE);
    g_assert_cmpstr(m.u.candidate.candidate, ==, "");
    g_assert_null(m.u.candidate.sdp_mid);
    g_assert_cmpint(m.u.candidate.sdp_mline_index, ==, -1);
    client_msg_clear(&m);

    parse_ok("{\"id\":\"onIceCandidate\",\"candidate\":{\"candidate\":\"\",\"sdpMid\":null,"
             "\"sdpMLineIndex\":null}}",
             &m);
    g_assert_cmpstr(m.u.candidate.candidate, ==, "");
    client_msg_clear(&m);

    parse_ok("{\"id\":\"onIceCandidate\",\"candidate\":{\"candidate\":\"\",\"sdpMid\":\"0\","
             "\"sdpMLineIndex\":0}}",
             &m);
    g_assert_cmpstr(m.u.candidate.candidate, ==, "");
    g_assert_cmpstr(m.u.candidate.sdp_mid, ==, "0");
    client_msg_clear(&m);
}

static void test_stop(void)
{
    struct client_msg m;
    parse_ok("{\"id\":\"stop\"}", &m);
    g_assert_cmpint(m.type, ==, CLIENT_MSG_STOP);
    client_msg_clear(&m);
}

static void test_extra_fields_ignored(void)
{
    struct client_msg m;

    parse_ok("{\"id\":\"start\",\"sdpOffer\":\"" OFFER_JSON "\",\"extra\":{\"nested\":[1,2,{}]},\"n\":null,"
             "\"x\":1.5}",
             &m);
    g_assert_cmpint(m.type, ==, CLIENT_MSG_START);
    g_assert_cmpstr(m.u.start.sdp_offer, ==, OFFER);
    client_msg_clear(&m);

    /* Chrome/Firefox add usernameFragment to the candidate object. */
    parse_ok("{\"id\":\"onIceCandidate\",\"candidate\":{\"candidate\":\"candidate:x\",\"sdpMid\":"
             "\"0\",\"sdpMLineIndex\":0,\"usernameFragment\":\"abcd\"},\"sessionId\":7}",
             &m);
    g_assert_cmpint(m.type, ==, CLIENT_MSG_ICE_CANDIDATE);
    g_assert_cmpstr(m.u.candidate.candidate, ==, "candidate:x");
    client_msg_clear(&m);

    parse_ok("{\"id\":\"stop\",\"reason\":\"bye\",\"sdpOffer\":5,\"candidate\":[]}", &m);
    g_assert_cmpint(m.type, ==, CLIENT_MSG_STOP);
    client_msg_clear(&m);
}

static void test_size_limit(void)
{
    /* Exactly CLIENT_MAX_MESSAGE bytes is accepted... */
    const char *head = "{\"id\":\"start\",\"sdpOffer\":\"v=0\\nm=video 9 x\\n";
    const char *tail = "\"}";
    size_t n = CLIENT_MAX_MESSAGE;
    char *buf = g_malloc(n + 1);
    size_t hl = strlen(head), tl = strlen(tail);
    memcpy(buf, head, hl);
    memset(buf + hl, 'a', n - hl - tl);
    memcpy(buf + n - tl, tail, tl);

    struct client_msg m;
    char err[512] = "";
    g_assert_cmpint(parse_n(buf, n, &m, err, sizeof(err)), ==, 0);
    g_assert_cmpuint(strlen(m.u.start.sdp_offer), ==, n - hl - tl + strlen("v=0\nm=video 9 x\n"));
    client_msg_clear(&m);

    /* ...one byte more is not, before any parsing (trailing whitespace would
     * otherwise be valid JSON). */
    buf[n] = ' ';
    g_assert_cmpint(parse_n(buf, n + 1, &m, err, sizeof(err)), ==, -1);
    g_assert_cmpstr(err, ==, "message too large (262145 bytes, limit 262144)");
    g_assert_null(m.root);
    g_free(buf);

    g_assert_cmpint(client_msg_parse("{}", SIZE_MAX, &m, err, sizeof(err)), ==, -1);
    g_assert_true(g_str_has_prefix(err, "message too large ("));
}

/* ---- invalid messages -------------------------------------------------- */

static void test_malformed(void)
{
    parse_fails_prefix("", "malformed JSON: ");
    parse_fails_prefix("{", "malformed JSON: ");
    parse_fails_prefix("{\"id\":\"stop\"", "malformed JSON: ");
    parse_fails_prefix("{\"id\":\"stop\",}", "malformed JSON: ");
    parse_fails_prefix("{'id':'stop'}", "malformed JSON: ");
    parse_fails_prefix("{\"id\":\"stop\"} {}", "malformed JSON: ");
    parse_fails_prefix("{\"id\":\"stop\"}x", "malformed JSON: ");
    parse_fails_prefix("{\"id\":\"st\xffop\"}", "malformed JSON: ");   /* invalid UTF-8 */
    parse_fails_prefix("{\"id\":\"st\\u0000op\"}", "malformed JSON: "); /* NUL in a string */
    parse_fails_prefix("\"stop\"", "malformed JSON: ");                  /* not an object/array */
    parse_fails_prefix("42", "malformed JSON: ");
    parse_fails_prefix("null", "malformed JSON: ");

    /* A raw NUL byte inside the given length is not the end of the message. */
    struct client_msg m;
    char err[512];
    g_assert_cmpint(parse_n("{\"id\":\"stop\"}\0", 14, &m, err, sizeof(err)), ==, -1);
    g_assert_true(g_str_has_prefix(err, "malformed JSON: "));

    /* The position is reported. */
    parse_fails("{\"id\":\"stop\",}",
                "malformed JSON: string or '}' expected near '}' (line 1, column 14)");

    /* Deep nesting is refused by the parser, not by a stack overflow. */
    char *deep = g_malloc(100000);
    memset(deep, '[', 100000);
    g_assert_cmpint(parse_n(deep, 100000, &m, err, sizeof(err)), ==, -1);
    g_assert_true(g_str_has_prefix(err, "malformed JSON: "));
    g_free(deep);
}

static void test_not_an_object(void)
{
    parse_fails("[]", "a message must be a JSON object");
    parse_fails("[{\"id\":\"stop\"}]", "a message must be a JSON object");
}

static void test_bad_id(void)
{
    parse_fails("{}", "message: missing 'id'");
    parse_fails("{\"ID\":\"stop\"}", "message: missing 'id'");
    parse_fails("{\"id\":5}", "message: 'id' must be a string");
    parse_fails("{\"id\":null}", "message: 'id' must be a string");
    parse_fails("{\"id\":[\"stop\"]}", "message: 'id' must be a string");
    parse_fails("{\"id\":true}", "message: 'id' must be a string");
    parse_fails("{\"id\":\"foo\"}", "unknown message id 'foo'");
    parse_fails("{\"id\":\"\"}", "unknown message id ''");
    parse_fails("{\"id\":\"Stop\"}", "unknown message id 'Stop'");
    parse_fails("{\"id\":\"stop \"}", "unknown message id 'stop '");
    parse_fails("{\"id\":\"startResponse\"}", "unknown message id 'startResponse'");

    /* A long id is quoted to 64 bytes. */
    GString *s = g_string_new("{\"id\":\"");
    for (int i = 0; i < 100; i++)
        g_string_append_c(s, (char)('a' + i % 26));
    g_string_append(s, "\"}");
    parse_fails(s->str, "unknown message id 'abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijkl'");
    g_string_free(s, TRUE);
}

static void test_bad_id_multibyte(void)
{
    /* 40 x U+00E9 (2 bytes each): the 64-byte cut falls inside one, if the
     * quote starts on an odd byte.  The reason must still reach the client. */
    GString *s = g_string_new("{\"id\":\"x");
    for (int i = 0; i < 40; i++)
        g_string_append(s, "\xc3\xa9");
    g_string_append(s, "\"}");
    struct client_msg m;
    char err[512];
    g_assert_cmpint(parse_n(s->str, s->len, &m, err, sizeof(err)), ==, -1);
    g_assert_true(g_str_has_prefix(err, "unknown message id 'x\xc3\xa9"));
    char *e = client_msg_error("%s", err);
    g_assert_nonnull(e);
    json_t *o = json_loads(e, 0, NULL);
    g_assert_nonnull(o);
    const char *text = json_string_value(json_object_get(o, "message"));
    g_assert_nonnull(text);
    g_assert_true(g_utf8_validate(text, -1, NULL));
    /* "x" + 31 whole characters, then the half one is replaced (U+FFFD). */
    g_assert_true(g_str_has_suffix(text, "\xc3\xa9\xef\xbf\xbd'"));
    json_decref(o);
    free(e);
    g_string_free(s, TRUE);
}

static void test_bad_start(void)
{
    parse_fails("{\"id\":\"start\"}", "start: missing 'sdpOffer'");
    parse_fails("{\"id\":\"start\",\"sdpoffer\":\"v=0\"}", "start: missing 'sdpOffer'");
    parse_fails("{\"id\":\"start\",\"sdpOffer\":\"\"}", "start: 'sdpOffer' is empty");
    parse_fails("{\"id\":\"start\",\"sdpOffer\":5}", "start: 'sdpOffer' must be a string");
    parse_fails("{\"id\":\"start\",\"sdpOffer\":\"hello\"}",
                "invalid SDP offer: it must begin with \"v=0\"");
    parse_fails("{\"id\":\"start\",\"sdpOffer\":\"v=0\\r\\ns=-\\r\\n\"}",
                "invalid SDP offer: no audio or video media section");
    parse_fails("{\"id\":\"start\",\"sdpOffer\":null}", "start: 'sdpOffer' must be a string");
    parse_fails("{\"id\":\"start\",\"sdpOffer\":{\"sdp\":\"v=0\"}}", "start: 'sdpOffer' must be a string");
    parse_fails("{\"id\":\"start\",\"sdpOffer\":\"" OFFER_JSON "\",\"loopback\":1}",
                "start: 'loopback' must be a boolean");
    parse_fails("{\"id\":\"start\",\"sdpOffer\":\"" OFFER_JSON "\",\"loopback\":\"true\"}",
                "start: 'loopback' must be a boolean");
}

static void test_sdp_offer_check(void)
{
    const char *ok[] = {
        OFFER,
        "v=0\nm=video 9 UDP/TLS/RTP/SAVPF 96\n",
        "v=0\r\no=- 1 2 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=application 9 x\r\nm=video 9 x\r\n",
        "v=0\nm=audio ",
    };
    for (size_t i = 0; i < G_N_ELEMENTS(ok); i++) {
        char err[256] = "";
        if (sdp_offer_check(ok[i], err, sizeof(err)) != 0)
            g_error("offer %s rejected: %s", ok[i], err);
    }
    const struct {
        const char *sdp, *err;
    } bad[] = {
        {"", "start: 'sdpOffer' is empty"},
        {"v=0", "invalid SDP offer: it must begin with \"v=0\""},
        {"v=00\r\nm=audio 9 x\r\n", "invalid SDP offer: it must begin with \"v=0\""},
        {"v=1\r\nm=audio 9 x\r\n", "invalid SDP offer: it must begin with \"v=0\""},
        {" v=0\r\nm=audio 9 x\r\n", "invalid SDP offer: it must begin with \"v=0\""},
        {"\r\nv=0\r\nm=audio 9 x\r\n", "invalid SDP offer: it must begin with \"v=0\""},
        {"V=0\r\nm=audio 9 x\r\n", "invalid SDP offer: it must begin with \"v=0\""},
        {"v=0\r\n", "invalid SDP offer: no audio or video media section"},
        {"v=0\r\nm=application 9 UDP/DTLS/SCTP webrtc-datachannel\r\n",
         "invalid SDP offer: no audio or video media section"},
        {"v=0\r\nm=audio\r\n", "invalid SDP offer: no audio or video media section"},
        {"v=0\r\na=x:m=audio 9\r\n", "invalid SDP offer: no audio or video media section"},
        {"v=0\r\nM=video 9 x\r\n", "invalid SDP offer: no audio or video media section"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        char err[256] = "";
        g_assert_cmpint(sdp_offer_check(bad[i].sdp, err, sizeof(err)), ==, -1);
        g_assert_cmpstr(err, ==, bad[i].err);
    }
}

static void test_bad_candidate(void)
{
    const char *not_obj = "onIceCandidate: 'candidate' must be an object";
    parse_fails("{\"id\":\"onIceCandidate\"}", "onIceCandidate: missing 'candidate'");
    parse_fails("{\"id\":\"onIceCandidate\",\"candidate\":\"candidate:x\"}", not_obj);
    parse_fails("{\"id\":\"onIceCandidate\",\"candidate\":null}", not_obj);
    parse_fails("{\"id\":\"onIceCandidate\",\"candidate\":[]}", not_obj);
    parse_fails("{\"id\":\"onIceCandidate\",\"candidate\":1}", not_obj);

    parse_fails("{\"id\":\"onIceCandidate\",\"candidate\":{}}",
                "invalid candidate: missing 'candidate'");
    parse_fails("{\"id\":\"onIceCandidate\",\"candidate\":{\"sdpMid\":\"0\",\"sdpMLineIndex\":0}}",
                "invalid candidate: missing 'candidate'");
    parse_fails("{\"id\":\"onIceCandidate\",\"candidate\":{\"candidate\":5,\"sdpMid\":\"0\"}}",
                "invalid candidate: 'candidate' must be a string");
    parse_fails("{\"id\":\"onIceCandidate\",\"candidate\":{\"candidate\":null,\"sdpMid\":\"0\"}}",
                "invalid candidate: 'candidate' must be a string");

    const char *range = "invalid candidate: 'sdpMLineIndex' out of range";
    parse_fails("{\"id\":\"onIceCandidate\",\"candidate\":{\"candidate\":\"c\",\"sdpMLineIndex\":-1}}", range);
    parse_fails("{\"id\":\"onIceCandidate\",\"candidate\":{\"candidate\":\"c\",\"sdpMLineIndex\":1025}}", range);
    parse_fails("{\"id\":\"onIceCandidate\",\"candidate\":{\"candidate\":\"c\",\"sdpMLineIndex\":4294967296}}", range);
    parse_fails("{\"id\":\"onIceCandidate\",\"candidate\":{\"candidate\":\"c\",\"sdpMLineIndex\":-9223372036854775808}}", range);
    parse_fails("{\"id\":\"onIceCandidate\",\"candidate\":{\"candidate\":\"c\",\"sdpMid\":\"0\",\"sdpMLineIndex\":-5}}", range);

    const char *notint = "invalid candidate: 'sdpMLineIndex' must be an integer";
    parse_fails("{\"id\":\"onIceCandidate\",\"candidate\":{\"candidate\":\"c\",\"sdpMLineIndex\":1.5}}", notint);
    parse_fails("{\"id\":\"onIceCandidate\",\"candidate\":{\"candidate\":\"c\",\"sdpMLineIndex\":0.0}}", notint);
    parse_fails("{\"id\":\"onIceCandidate\",\"candidate\":{\"candidate\":\"c\",\"sdpMLineIndex\":\"0\"}}", notint);
    parse_fails("{\"id\":\"onIceCandidate\",\"candidate\":{\"candidate\":\"c\",\"sdpMLineIndex\":true}}", notint);
    parse_fails("{\"id\":\"onIceCandidate\",\"candidate\":{\"candidate\":\"c\",\"sdpMLineIndex\":[0]}}", notint);

    const char *notstr = "invalid candidate: 'sdpMid' must be a string";
    parse_fails("{\"id\":\"onIceCandidate\",\"candidate\":{\"candidate\":\"c\",\"sdpMid\":0}}", notstr);
    parse_fails("{\"id\":\"onIceCandidate\",\"candidate\":{\"candidate\":\"c\",\"sdpMid\":{}}}", notstr);
    parse_fails("{\"id\":\"onIceCandidate\",\"candidate\":{\"candidate\":\"c\",\"sdpMid\":false,\"sdpMLineIndex\":0}}", notstr);

    const char *neither = "invalid candidate: needs 'sdpMid' or 'sdpMLineIndex'";
    parse_fails("{\"id\":\"onIceCandidate\",\"candidate\":{\"candidate\":\"candidate:x\"}}", neither);
    parse_fails("{\"id\":\"onIceCandidate\",\"candidate\":{\"candidate\":\"candidate:x\",\"sdpMid\":null,"
                "\"sdpMLineIndex\":null}}",
                neither);
}

static void test_duplicate_keys(void)
{
    parse_fails_prefix("{\"id\":\"stop\",\"id\":\"stop\"}", "malformed JSON: duplicate object key");
    parse_fails_prefix("{\"id\":\"start\",\"sdpOffer\":\"a\",\"sdpOffer\":\"b\"}",
                       "malformed JSON: duplicate object key");
    /* nested */
    parse_fails_prefix("{\"id\":\"onIceCandidate\",\"candidate\":{\"candidate\":\"a\",\"sdpMid\":\"0\","
                       "\"candidate\":\"b\"}}",
                       "malformed JSON: duplicate object key");
    /* in an ignored field too */
    parse_fails_prefix("{\"id\":\"stop\",\"x\":{\"a\":1,\"a\":2}}", "malformed JSON: duplicate object key");
}

static void test_small_err_buffer(void)
{
    struct client_msg m;
    char err[8];
    memset(err, 'Z', sizeof(err));
    g_assert_cmpint(parse_n("[]", 2, &m, err, sizeof(err)), ==, -1);
    g_assert_cmpstr(err, ==, "a messa");
}

/* ---- ice_candidate_from_json / to_json --------------------------------- */

static void test_candidate_json(void)
{
    struct ice_candidate c;
    char err[256];
    json_t *o = json_loads("{\"candidate\":\"candidate:1\",\"sdpMid\":\"v\",\"sdpMLineIndex\":3}", 0, NULL);
    g_assert_nonnull(o);
    g_assert_cmpint(ice_candidate_from_json(o, &c, err, sizeof(err)), ==, 0);
    g_assert_cmpstr(c.candidate, ==, "candidate:1");
    g_assert_cmpstr(c.sdp_mid, ==, "v");
    g_assert_cmpint(c.sdp_mline_index, ==, 3);

    json_t *back = ice_candidate_to_json(&c);
    g_assert_true(json_equal(o, back));
    json_decref(back);
    json_decref(o);

    /* Not an object at all. */
    o = json_string("candidate:1");
    g_assert_cmpint(ice_candidate_from_json(o, &c, err, sizeof(err)), ==, -1);
    g_assert_true(g_str_has_prefix(err, "invalid candidate: "));
    json_decref(o);

    /* to_json: absent fields become null, a NULL candidate "". */
    struct ice_candidate none = {NULL, NULL, -1};
    back = ice_candidate_to_json(&none);
    char *s = json_dumps(back, JSON_COMPACT);
    g_assert_cmpstr(s, ==, "{\"candidate\":\"\",\"sdpMid\":null,\"sdpMLineIndex\":null}");
    free(s);
    json_decref(back);

    /* Invalid UTF-8 anywhere: NULL, never a candidate with a field missing. */
    struct ice_candidate bad_mid = {"candidate:1", "\xff", 0};
    g_assert_null(ice_candidate_to_json(&bad_mid));
    struct ice_candidate bad_cand = {"candidate:\xc3", "0", 0};
    g_assert_null(ice_candidate_to_json(&bad_cand));
}

/* ---- builders ---------------------------------------------------------- */

/* Parse a builder's output; it must be a JSON object with exactly n keys. */
static json_t *load_built(const char *text, size_t nkeys)
{
    g_assert_nonnull(text);
    json_error_t jerr;
    json_t *o = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    if (!o)
        g_error("builder output %s: %s", text, jerr.text);
    g_assert_true(json_is_object(o));
    g_assert_cmpuint(json_object_size(o), ==, nkeys);
    /* compact: no newline or indentation */
    g_assert_null(strchr(text, '\n'));
    return o;
}

static const char *str_field(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    g_assert_true(json_is_string(v));
    return json_string_value(v);
}

static void test_build_start_response(void)
{
    char *s = client_msg_start_response("v=0\r\ns=\"q\"\r\n");
    g_assert_cmpstr(s, ==, "{\"id\":\"startResponse\",\"sdpAnswer\":\"v=0\\r\\ns=\\\"q\\\"\\r\\n\"}");
    json_t *o = load_built(s, 2);
    g_assert_cmpstr(str_field(o, "id"), ==, "startResponse");
    g_assert_cmpstr(str_field(o, "sdpAnswer"), ==, "v=0\r\ns=\"q\"\r\n");
    json_decref(o);
    free(s);

    /* invalid UTF-8 cannot be sent: NULL */
    g_assert_null(client_msg_start_response("v=0\xff"));
}

static void test_build_ice_candidate(void)
{
    struct ice_candidate c = {"candidate:1 1 UDP 2122260223 10.77.0.1 40000 typ host", "0", 0};
    char *s = client_msg_ice_candidate(&c);
    g_assert_cmpstr(s, ==,
                    "{\"id\":\"iceCandidate\",\"candidate\":{\"candidate\":\"candidate:1 1 UDP "
                    "2122260223 10.77.0.1 40000 typ host\",\"sdpMid\":\"0\",\"sdpMLineIndex\":0}}");
    json_t *o = load_built(s, 2);
    g_assert_cmpstr(str_field(o, "id"), ==, "iceCandidate");
    json_t *cand = json_object_get(o, "candidate");
    g_assert_true(json_is_object(cand));
    g_assert_cmpuint(json_object_size(cand), ==, 3);
    g_assert_cmpstr(str_field(cand, "candidate"), ==, c.candidate);
    g_assert_cmpstr(str_field(cand, "sdpMid"), ==, "0");
    g_assert_cmpint(json_integer_value(json_object_get(cand, "sdpMLineIndex")), ==, 0);

    /* What we build, the client parser accepts (same schema both ways). */
    struct ice_candidate back;
    char err[256];
    g_assert_cmpint(ice_candidate_from_json(cand, &back, err, sizeof(err)), ==, 0);
    g_assert_cmpstr(back.candidate, ==, c.candidate);
    g_assert_cmpstr(back.sdp_mid, ==, c.sdp_mid);
    g_assert_cmpint(back.sdp_mline_index, ==, c.sdp_mline_index);
    json_decref(o);
    free(s);

    /* No mid, no index, end-of-candidates. */
    struct ice_candidate eoc = {"", NULL, -1};
    s = client_msg_ice_candidate(&eoc);
    g_assert_cmpstr(s, ==,
                    "{\"id\":\"iceCandidate\",\"candidate\":{\"candidate\":\"\",\"sdpMid\":null,"
                    "\"sdpMLineIndex\":null}}");
    free(s);

    struct ice_candidate idx_only = {"candidate:2", NULL, 7};
    s = client_msg_ice_candidate(&idx_only);
    o = load_built(s, 2);
    cand = json_object_get(o, "candidate");
    g_assert_true(json_is_null(json_object_get(cand, "sdpMid")));
    g_assert_cmpint(json_integer_value(json_object_get(cand, "sdpMLineIndex")), ==, 7);
    json_decref(o);
    free(s);

    /* A candidate that cannot be encoded gives NULL, not a message without one. */
    struct ice_candidate bad = {"candidate:\xff", "0", 0};
    g_assert_null(client_msg_ice_candidate(&bad));
}

static void test_build_upload_success(void)
{
    char *s = client_msg_upload_success("http://10.77.0.1:8080/recordings/abc.webm", "abc.webm");
    g_assert_cmpstr(s, ==,
                    "{\"id\":\"uploadSuccess\",\"videoUrl\":\"http://10.77.0.1:8080/recordings/"
                    "abc.webm\",\"key\":\"abc.webm\"}");
    json_t *o = load_built(s, 3);
    g_assert_cmpstr(str_field(o, "id"), ==, "uploadSuccess");
    g_assert_cmpstr(str_field(o, "videoUrl"), ==, "http://10.77.0.1:8080/recordings/abc.webm");
    g_assert_cmpstr(str_field(o, "key"), ==, "abc.webm");
    json_decref(o);
    free(s);
}

static void test_build_error(void)
{
    char *s = client_msg_error("session %d: %s", 42, "no worker available");
    g_assert_cmpstr(s, ==, "{\"id\":\"error\",\"message\":\"session 42: no worker available\"}");
    json_t *o = load_built(s, 2);
    g_assert_cmpstr(str_field(o, "id"), ==, "error");
    g_assert_cmpstr(str_field(o, "message"), ==, "session 42: no worker available");
    json_decref(o);
    free(s);

    /* Quotes, backslashes and control characters are escaped. */
    s = client_msg_error("%s", "a\"b\\c\nd\te\x01");
    o = load_built(s, 2);
    g_assert_cmpstr(str_field(o, "message"), ==, "a\"b\\c\nd\te\x01");
    json_decref(o);
    free(s);

    s = client_msg_error("%s", "");
    g_assert_cmpstr(s, ==, "{\"id\":\"error\",\"message\":\"\"}");
    free(s);
}

static void test_build_error_truncation(void)
{
    /* The message is cut to 1023 bytes. */
    char *big = g_malloc(5001);
    memset(big, 'a', 5000);
    big[5000] = '\0';
    char *s = client_msg_error("%s", big);
    json_t *o = load_built(s, 2);
    const char *msg = str_field(o, "message");
    g_assert_cmpuint(strlen(msg), ==, 1023);
    g_assert_true(strspn(msg, "a") == 1023);
    json_decref(o);
    free(s);

    /* A cut through a 2-, 3- or 4-byte character still gives a message. */
    const char *chars[] = {"\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x8e\xa5"};
    for (size_t c = 0; c < G_N_ELEMENTS(chars); c++) {
        size_t cl = strlen(chars[c]);
        for (size_t shift = 0; shift < cl; shift++) {
            GString *in = g_string_new(NULL);
            for (size_t i = 0; i < shift; i++)
                g_string_append_c(in, 'x');
            while (in->len < 1100)
                g_string_append(in, chars[c]);
            s = client_msg_error("%s", in->str);
            o = load_built(s, 2);
            msg = str_field(o, "message");
            g_assert_true(g_utf8_validate(msg, -1, NULL));
            g_assert_cmpuint(strlen(msg), >=, 1023 - (cl - 1));
            /* Everything before the cut is kept. */
            g_assert_cmpint(strncmp(msg, in->str, 1023 - (cl - 1)), ==, 0);
            json_decref(o);
            free(s);
            g_string_free(in, TRUE);
        }
    }

    /* Each invalid byte becomes U+FFFD, the rest is kept. */
    s = client_msg_error("bad %s end", "\xff\xc3(\xed\xa0\x80\xc0\xaf\xf8");
    o = load_built(s, 2);
    g_assert_cmpstr(str_field(o, "message"), ==, "bad \xef\xbf\xbd\xef\xbf\xbd" "(" "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" " end");
    json_decref(o);
    free(s);

    /* Valid multi-byte text is untouched. */
    s = client_msg_error("%s", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x8e\xa5 \xf4\x8f\xbf\xbf");
    o = load_built(s, 2);
    g_assert_cmpstr(str_field(o, "message"), ==, "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x8e\xa5 \xf4\x8f\xbf\xbf");
    json_decref(o);
    free(s);
    g_free(big);
}

/* Every reason client_msg_parse can give for a long, non-ASCII input must be
 * sendable, whatever jansson quotes from it ("near '...'"). */
static void test_error_reasons_sendable(void)
{
    const char *frags[] = {"{\"id\":\"", "{\"", "{\"id\":\"stop\",\"", "{\"id\":\"stop\",\"k\":"};
    const char *tails[] = {"", "\"", "\"}", "\":", "x", "\",\"", "\" \""};
    for (size_t f = 0; f < G_N_ELEMENTS(frags); f++)
        for (size_t t = 0; t < G_N_ELEMENTS(tails); t++)
            for (size_t shift = 0; shift < 3; shift++) {
                GString *in = g_string_new(frags[f]);
                for (size_t i = 0; i < shift; i++)
                    g_string_append_c(in, 'q');
                for (int i = 0; i < 120; i++)
                    g_string_append(in, "\xe2\x82\xac");
                g_string_append(in, tails[t]);
                /* duplicate the key, to get "duplicate object key near '...'" */
                if (t == 5) {
                    g_string_append(in, in->str + strlen(frags[f]));
                }
                struct client_msg m;
                char err[512];
                if (parse_n(in->str, in->len, &m, err, sizeof(err)) == 0) {
                    client_msg_clear(&m);
                } else {
                    char *e = client_msg_error("%s", err);
                    if (!e)
                        g_error("reason for %s cannot be sent: %s", in->str, err);
                    free(e);
                }
                g_string_free(in, TRUE);
            }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/client/parse/start", test_start);
    g_test_add_func("/client/parse/candidate-variants", test_candidate_variants);
    g_test_add_func("/client/parse/stop", test_stop);
    g_test_add_func("/client/parse/extra-fields-ignored", test_extra_fields_ignored);
    g_test_add_func("/client/parse/size-limit", test_size_limit);
    g_test_add_func("/client/invalid/malformed", test_malformed);
    g_test_add_func("/client/invalid/not-an-object", test_not_an_object);
    g_test_add_func("/client/invalid/bad-id", test_bad_id);
    g_test_add_func("/client/invalid/bad-id-multibyte", test_bad_id_multibyte);
    g_test_add_func("/client/invalid/start", test_bad_start);
    g_test_add_func("/client/invalid/sdp-offer", test_sdp_offer_check);
    g_test_add_func("/client/invalid/candidate", test_bad_candidate);
    g_test_add_func("/client/invalid/duplicate-keys", test_duplicate_keys);
    g_test_add_func("/client/invalid/small-err-buffer", test_small_err_buffer);
    g_test_add_func("/client/candidate-json", test_candidate_json);
    g_test_add_func("/client/build/start-response", test_build_start_response);
    g_test_add_func("/client/build/ice-candidate", test_build_ice_candidate);
    g_test_add_func("/client/build/upload-success", test_build_upload_success);
    g_test_add_func("/client/build/error", test_build_error);
    g_test_add_func("/client/build/error-truncation", test_build_error_truncation);
    g_test_add_func("/client/build/error-reasons-sendable", test_error_reasons_sendable);
    return g_test_run();
}
