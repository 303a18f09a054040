/*
 * tests/unit/test_workspaces.c - the workspaces' wire formats: HS256 tokens
 * (proto/jwt.c), the event envelope and every event's validation, the
 * server's events and the TURN REST credentials (proto/workspaces_msg.c).
 * Independent vectors: a token made with Python's hmac+base64, jwt.io's
 * HS256 example, and a coturn password computed with Python's hmac.
 */
#include <glib.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "jwt.h"
#include "workspaces_msg.h"

#define KEY "unit-test secret: long enough and random enough!"
#define NOW 1700000100

static char *sign(const char *ws, const char *att, enum jwt_role role, int64_t iat, int64_t exp)
{
    struct jwt_claims c = {.role = role, .iat = iat, .exp = exp};
    g_strlcpy(c.workspace, ws, sizeof(c.workspace));
    g_strlcpy(c.attendee, att, sizeof(c.attendee));
    return jwt_sign(&c, KEY, strlen(KEY));
}

static void verify_fails(const char *token, const char *want)
{
    struct jwt_claims c;
    char err[256] = "";
    g_assert_cmpint(jwt_verify(token, KEY, strlen(KEY), NOW, &c, err, sizeof(err)), ==, -1);
    if (!strstr(err, want))
        g_error("%s: expected '%s' in '%s'", token, want, err);
    g_assert_cmpstr(c.workspace, ==, "");
}

/* Replace segment `i` of token with base64url(text). */
static char *with_segment(const char *token, int i, const char *text)
{
    gchar **parts = g_strsplit(token, ".", 3);
    char *enc = jwt_b64url_encode(text, strlen(text));
    g_free(parts[i]);
    parts[i] = g_strdup(enc);
    free(enc);
    char *out = g_strjoinv(".", parts);
    g_strfreev(parts);
    return out;
}

static void test_jwt_roundtrip(void)
{
    struct jwt_claims c;
    char err[256];
    char *t = sign("Ab3dE6gH9k", "att1", JWT_ROLE_OWNER, NOW, NOW + 60);
    g_assert_nonnull(t);
    g_assert_true(g_str_has_prefix(t, "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."));
    g_assert_cmpint(jwt_verify(t, KEY, strlen(KEY), NOW, &c, err, sizeof(err)), ==, 0);
    g_assert_cmpstr(c.workspace, ==, "Ab3dE6gH9k");
    g_assert_cmpstr(c.attendee, ==, "att1");
    g_assert_cmpint(c.role, ==, JWT_ROLE_OWNER);
    g_assert_cmpint(c.exp, ==, NOW + 60);
    free(t);
    t = sign("Ab3dE6gH9k", "", JWT_ROLE_SHARE, NOW, NOW + 60);
    g_assert_cmpint(jwt_verify(t, KEY, strlen(KEY), NOW, &c, err, sizeof(err)), ==, 0);
    g_assert_cmpint(c.role, ==, JWT_ROLE_SHARE);
    g_assert_cmpstr(c.attendee, ==, "");
    free(t);
    /* an attendee token needs an attendee */
    g_assert_null(sign("w", "", JWT_ROLE_ATTENDEE, NOW, NOW + 60));
    g_assert_null(sign("", "a", JWT_ROLE_ATTENDEE, NOW, NOW + 60));
}

static void test_jwt_independent(void)
{
    /* made by Python's hmac + base64 (header keys in another order) */
    static const char py[] =
        "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9."
        "eyJ3b3Jrc3BhY2UiOiJBYjNkRTZnSDlrIiwiYXR0ZW5kZWUiOiIwMTIzNDU2Nzg5YWJjZGVmIiwicm9sZSI6"
        "ImF0dGVuZGVlIiwiaWF0IjoxNzAwMDAwMDAwLCJleHAiOjQxMDI0NDQ4MDB9."
        "xznFUwRqu8DmDwJS4XG-4rGVkNIxWdY2u0BQkWnopSw";
    static const char pykey[] = "an independent implementation's secret, 32+ bytes";
    /* jwt.io's HS256 example: a valid signature over claims that are not ours */
    static const char jwtio[] =
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
        "eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ."
        "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c";
    struct jwt_claims c;
    char err[256] = "";

    g_assert_cmpint(jwt_verify(py, pykey, strlen(pykey), NOW, &c, err, sizeof(err)), ==, 0);
    g_assert_cmpstr(c.workspace, ==, "Ab3dE6gH9k");
    g_assert_cmpstr(c.attendee, ==, "0123456789abcdef");
    g_assert_cmpint(c.role, ==, JWT_ROLE_ATTENDEE);
    g_assert_cmpint(c.iat, ==, 1700000000);
    g_assert_cmpint(c.exp, ==, 4102444800);
    /* the signature holds; then the claims are refused */
    g_assert_cmpint(jwt_verify(jwtio, "your-256-bit-secret", 19, NOW, &c, err, sizeof(err)), ==,
                    -1);
    g_assert_nonnull(strstr(err, "missing 'workspace'"));
    g_assert_cmpint(jwt_verify(jwtio, "another secret", 14, NOW, &c, err, sizeof(err)), ==, -1);
    g_assert_nonnull(strstr(err, "signature mismatch"));
}

static void test_jwt_refused(void)
{
    char *good = sign("Ab3dE6gH9k", "att1", JWT_ROLE_ATTENDEE, NOW, NOW + 60);
    char *t;

    /* tampered payload: role raised to owner, signature kept */
    t = with_segment(good, 1, "{\"workspace\":\"Ab3dE6gH9k\",\"attendee\":\"att1\","
                              "\"role\":\"owner\",\"iat\":1700000100,\"exp\":1700000160}");
    verify_fails(t, "signature mismatch");
    g_free(t);
    /* tampered signature: one character changed */
    t = g_strdup(good);
    char *last = t + strlen(t) - 2;
    *last = *last == 'A' ? 'B' : 'A';
    verify_fails(t, "signature mismatch");
    g_free(t);
    /* alg none, with and without a signature */
    t = with_segment(good, 0, "{\"alg\":\"none\",\"typ\":\"JWT\"}");
    verify_fails(t, "algorithm none refused");
    *strrchr(t, '.') = '\0';
    char *unsigned_token = g_strconcat(t, ".", NULL);
    verify_fails(unsigned_token, "algorithm none refused");
    g_free(unsigned_token);
    g_free(t);
    t = with_segment(good, 0, "{\"alg\":\"HS512\",\"typ\":\"JWT\"}");
    verify_fails(t, "algorithm HS512 refused");
    g_free(t);
    t = with_segment(good, 0, "{\"alg\":\"HS256\",\"kid\":\"../../key\"}");
    verify_fails(t, "header field 'kid' refused");
    g_free(t);
    t = with_segment(good, 0, "{\"typ\":\"JWT\"}");
    verify_fails(t, "without alg");
    g_free(t);
    t = with_segment(good, 0, "[\"HS256\"]");
    verify_fails(t, "malformed header");
    g_free(t);
    /* expired (exp == now is expired), issued in the future */
    t = sign("Ab3dE6gH9k", "att1", JWT_ROLE_ATTENDEE, NOW - 100, NOW);
    verify_fails(t, "token expired");
    free(t);
    t = sign("Ab3dE6gH9k", "att1", JWT_ROLE_ATTENDEE, NOW + 3600, NOW + 7200);
    verify_fails(t, "in the future");
    free(t);
    /* malformed segments */
    verify_fails("", "three");
    verify_fails("a.b", "three");
    verify_fails("a.b.c.d", "three");
    verify_fails("..", "malformed header");
    t = g_strconcat(good, "=", NULL); /* padding is not base64url */
    verify_fails(t, "signature mismatch");
    g_free(t);
    t = g_strdup(good);
    t[strlen(t) - 1] = '*';
    verify_fails(t, "signature mismatch");
    g_free(t);
    char *big = g_strnfill(3000, 'a');
    verify_fails(big, "longer than");
    g_free(big);
    free(good);
}

static void test_b64url(void)
{
    size_t n;
    char *e = jwt_b64url_encode("\xfb\xff\xfe", 3);
    g_assert_cmpstr(e, ==, "-__-");
    unsigned char *d = jwt_b64url_decode(e, strlen(e), &n);
    g_assert_cmpint(n, ==, 3);
    g_assert_cmpmem(d, 3, "\xfb\xff\xfe", 3);
    free(d);
    free(e);
    g_assert_null(jwt_b64url_decode("-__+", 4, &n)); /* standard alphabet */
    g_assert_null(jwt_b64url_decode("QQ==", 4, &n)); /* padding */
    g_assert_null(jwt_b64url_decode("QR", 2, &n));   /* non-canonical trailing bits */
    g_assert_null(jwt_b64url_decode("Q", 1, &n));
    d = jwt_b64url_decode("QQ", 2, &n);
    g_assert_cmpint(n, ==, 1);
    g_assert_cmpint(d[0], ==, 'A');
    free(d);
}

/* ---- events ----------------------------------------------------------- */

static int parse(const char *text, struct workspaces_msg *m, char *err, size_t errlen)
{
    size_t len = strlen(text);
    char *copy = g_malloc(len ? len : 1);
    memcpy(copy, text, len);
    int r = workspaces_msg_parse(copy, len, m, err, errlen);
    g_free(copy);
    return r;
}

static void msg_fails(const char *text, const char *want)
{
    struct workspaces_msg m;
    char err[512] = "";
    g_assert_cmpint(parse(text, &m, err, sizeof(err)), ==, -1);
    if (!strstr(err, want))
        g_error("%s: expected '%s' in '%s'", text, want, err);
    g_assert_null(m.root);
}

static void msg_ok(const char *text, enum workspaces_event ev, struct workspaces_msg *m)
{
    char err[512] = "";
    if (parse(text, m, err, sizeof(err)) != 0)
        g_error("%s: %s", text, err);
    g_assert_cmpint(m->event, ==, ev);
    g_assert_true(json_is_object(m->data));
}

static void test_events_valid(void)
{
    struct workspaces_msg m;

    msg_ok("{\"event\":\"create\",\"data\":{\"name\":\"Team\",\"pin\":\"123456\",\"host\":\"Ann\"}}",
           WSE_CREATE, &m);
    g_assert_cmpstr(m.name, ==, "Team");
    g_assert_cmpstr(m.pin, ==, "123456");
    g_assert_cmpstr(m.host, ==, "Ann");
    g_assert_null(m.token);
    workspaces_msg_clear(&m);
    msg_ok("{\"event\":\"create\"}", WSE_CREATE, &m);
    g_assert_null(m.name);
    g_assert_null(m.pin);
    workspaces_msg_clear(&m);
    msg_ok("{\"event\":\"create\",\"data\":{\"pin\":null},\"x\":[1]}", WSE_CREATE, &m);
    g_assert_null(m.pin);
    workspaces_msg_clear(&m);
    msg_ok("{\"event\":\"attend\",\"token\":\"t\",\"data\":{\"name\":\"Bo\",\"pin\":\"0000\"}}",
           WSE_ATTEND, &m);
    g_assert_cmpstr(m.token, ==, "t");
    g_assert_cmpstr(m.name, ==, "Bo");
    g_assert_cmpstr(m.pin, ==, "0000");
    workspaces_msg_clear(&m);
    const char *simple[] = {"destroy", "re-attend", "leave", "busy", "iceservers", "hangup"};
    const enum workspaces_event simple_ev[] = {WSE_DESTROY, WSE_REATTEND,   WSE_LEAVE,
                                               WSE_BUSY,    WSE_ICESERVERS, WSE_HANGUP};
    for (size_t i = 0; i < G_N_ELEMENTS(simple); i++) {
        char *text = g_strdup_printf("{\"event\":\"%s\",\"token\":\"t\"}", simple[i]);
        msg_ok(text, simple_ev[i], &m);
        g_assert_cmpstr(workspaces_event_name(m.event), ==, simple[i]);
        workspaces_msg_clear(&m);
        g_free(text);
    }
    msg_ok("{\"event\":\"ring\",\"token\":\"t\",\"data\":{\"to\":\"a1\","
           "\"offer\":{\"type\":\"offer\",\"sdp\":\"v=0\"}}}",
           WSE_RING, &m);
    g_assert_cmpstr(m.to, ==, "a1");
    char *fw = workspaces_msg_forward(&m, "own");
    g_assert_cmpstr(fw, ==,
                    "{\"event\":\"ring\",\"data\":{\"offer\":{\"type\":\"offer\",\"sdp\":\"v=0\"},"
                    "\"from\":\"own\"}}");
    free(fw);
    workspaces_msg_clear(&m);
    msg_ok("{\"event\":\"answer\",\"token\":\"t\",\"data\":{\"answer\":{\"type\":\"answer\","
           "\"sdp\":\"v=0\"}}}",
           WSE_ANSWER, &m);
    workspaces_msg_clear(&m);
    msg_ok("{\"event\":\"hangup\",\"token\":\"t\",\"data\":{\"to\":\"a1\"}}", WSE_HANGUP, &m);
    g_assert_cmpstr(m.to, ==, "a1");
    workspaces_msg_clear(&m);
    msg_ok("{\"event\":\"icecandidate\",\"token\":\"t\",\"data\":{\"to\":\"a1\",\"candidate\":"
           "{\"candidate\":\"candidate:1 1 udp 1 10.0.0.1 9 typ host\",\"sdpMid\":\"0\","
           "\"sdpMLineIndex\":0}}}",
           WSE_ICECANDIDATE, &m);
    workspaces_msg_clear(&m);
    msg_ok("{\"event\":\"icecandidate\",\"token\":\"t\",\"data\":{\"to\":\"a1\",\"candidate\":"
           "{\"candidate\":\"\",\"sdpMid\":null}}}",
           WSE_ICECANDIDATE, &m);
    workspaces_msg_clear(&m);
    msg_ok("{\"event\":\"negotiation\",\"token\":\"t\",\"data\":{\"to\":\"a2\",\"description\":"
           "{\"type\":\"rollback\"}}}",
           WSE_NEGOTIATION, &m);
    workspaces_msg_clear(&m);
}

static void test_events_invalid(void)
{
    msg_fails("{\"event\":", "malformed JSON");
    msg_fails("[1]", "must be a JSON object");
    msg_fails("{}", "message: missing 'event'");
    msg_fails("{\"event\":7}", "message: 'event' must be a string");
    msg_fails("{\"event\":\"party\",\"token\":\"t\"}", "unknown event 'party'");
    msg_fails("{\"event\":\"leave\"}", "leave: missing 'token'");
    msg_fails("{\"event\":\"leave\",\"token\":5}", "message: 'token' must be a string");
    msg_fails("{\"event\":\"leave\",\"token\":\"t\",\"data\":[]}", "'data' must be an object");
    msg_fails("{\"event\":\"create\",\"data\":{\"pin\":123456}}", "create: 'pin' must be a string");
    msg_fails("{\"event\":\"create\",\"data\":{\"pin\":\"12\"}}", "create: 'pin' must be 4 to 64");
    msg_fails("{\"event\":\"create\",\"data\":{\"name\":{}}}", "create: 'name' must be a string");
    msg_fails("{\"event\":\"attend\",\"token\":\"t\",\"data\":{\"name\":false}}",
              "attend: 'name' must be a string");
    msg_fails("{\"event\":\"ring\",\"token\":\"t\",\"data\":{\"offer\":{}}}", "ring: missing 'to'");
    msg_fails("{\"event\":\"ring\",\"token\":\"t\",\"data\":{\"to\":\"a\"}}", "ring: missing 'offer'");
    msg_fails("{\"event\":\"ring\",\"token\":\"t\",\"data\":{\"to\":\"a\",\"offer\":\"v=0\"}}",
              "ring: 'offer' must be an object");
    msg_fails("{\"event\":\"ring\",\"token\":\"t\",\"data\":{\"to\":\"a\",\"offer\":{\"type\":"
              "\"offer\"}}}",
              "ring: 'offer': missing 'sdp'");
    msg_fails("{\"event\":\"ring\",\"token\":\"t\",\"data\":{\"to\":\"a\",\"offer\":{\"type\":"
              "\"answer\",\"sdp\":\"v=0\"}}}",
              "type must be \"offer\"");
    msg_fails("{\"event\":\"ring\",\"token\":\"t\",\"data\":{\"to\":\"\",\"offer\":{\"type\":"
              "\"offer\",\"sdp\":\"v=0\"}}}",
              "ring: 'to' must be 1 to 64");
    msg_fails("{\"event\":\"answer\",\"token\":\"t\",\"data\":{}}", "answer: missing 'answer'");
    msg_fails("{\"event\":\"icecandidate\",\"token\":\"t\",\"data\":{\"to\":\"a\",\"candidate\":"
              "{\"sdpMid\":\"0\"}}}",
              "icecandidate: 'candidate': missing 'candidate'");
    msg_fails("{\"event\":\"icecandidate\",\"token\":\"t\",\"data\":{\"to\":\"a\",\"candidate\":"
              "{\"candidate\":\"\",\"sdpMLineIndex\":\"0\"}}}",
              "'sdpMLineIndex' must be an integer");
    msg_fails("{\"event\":\"negotiation\",\"token\":\"t\",\"data\":{\"to\":\"a\"}}",
              "negotiation: missing 'description'");
    msg_fails("{\"event\":\"hangup\",\"token\":\"t\",\"data\":{\"to\":1}}",
              "hangup: 'to' must be a string");
}

static void test_server_events(void)
{
    char *a = workspaces_msg_alert("attend", "wrong PIN \xff");
    g_assert_cmpstr(a, ==,
                    "{\"event\":\"alert\",\"data\":{\"message\":\"wrong PIN \xef\xbf\xbd\","
                    "\"event\":\"attend\"}}");
    free(a);
    a = workspaces_msg_build("create", "tok", json_pack("{s:s}", "workspace", "w"));
    g_assert_cmpstr(a, ==, "{\"event\":\"create\",\"data\":{\"workspace\":\"w\"},\"token\":\"tok\"}");
    free(a);
}

static void test_iceservers(void)
{
    char *stun[] = {"stun:127.0.0.1:3478"};
    char *turn[] = {"turn:127.0.0.1:3478?transport=udp", "turn:127.0.0.1:3478?transport=tcp"};
    /* independent: Python base64(hmac.new(b"turn-shared-secret", b"4102444800:0123456789abcdef", sha1)) */
    json_t *d = workspaces_msg_iceservers(stun, 1, turn, 2, "turn-shared-secret", 2402444700,
                                          "0123456789abcdef", 1700000100);
    char *s = json_dumps(d, JSON_COMPACT);
    g_assert_cmpstr(s, ==,
                    "{\"iceServers\":[{\"urls\":[\"stun:127.0.0.1:3478\"]},{\"urls\":["
                    "\"turn:127.0.0.1:3478?transport=udp\",\"turn:127.0.0.1:3478?transport=tcp\"],"
                    "\"username\":\"4102444800:0123456789abcdef\","
                    "\"credential\":\"3ntNbrkuD3JobnP4ZSI2duf6LHw=\"}]}");
    free(s);
    json_decref(d);
    /* no TURN secret: STUN only */
    d = workspaces_msg_iceservers(stun, 1, turn, 2, NULL, 60, "a", 0);
    g_assert_cmpint(json_array_size(json_object_get(d, "iceServers")), ==, 1);
    json_decref(d);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/jwt/roundtrip", test_jwt_roundtrip);
    g_test_add_func("/jwt/independent", test_jwt_independent);
    g_test_add_func("/jwt/refused", test_jwt_refused);
    g_test_add_func("/jwt/base64url", test_b64url);
    g_test_add_func("/workspaces/events-valid", test_events_valid);
    g_test_add_func("/workspaces/events-invalid", test_events_invalid);
    g_test_add_func("/workspaces/server-events", test_server_events);
    g_test_add_func("/workspaces/iceservers", test_iceservers);
    return g_test_run();
}
