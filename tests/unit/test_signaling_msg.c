/*
 * tests/unit/test_signaling_msg.c - the signaling wire formats: seed 001's
 * room packets (proto/rooms_msg.c) and seed 003's relay messages
 * (proto/relay_msg.c), valid and invalid, and their builders.
 */
#include <glib.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "relay_msg.h"
#include "rooms_msg.h"

/* Parse from an exact-size heap copy (no NUL) so that ASan sees overreads. */
static int rooms_parse(const char *text, struct rooms_packet *p, char *err, size_t errlen)
{
    size_t len = strlen(text);
    char *copy = g_malloc(len ? len : 1);
    memcpy(copy, text, len);
    int r = rooms_packet_parse(copy, len, p, err, errlen);
    g_free(copy);
    return r;
}

static int relay_parse(const char *text, struct relay_msg *m, char *err, size_t errlen)
{
    size_t len = strlen(text);
    char *copy = g_malloc(len ? len : 1);
    memcpy(copy, text, len);
    int r = relay_msg_parse(copy, len, m, err, errlen);
    g_free(copy);
    return r;
}

static void rooms_fails(const char *text, const char *want)
{
    struct rooms_packet p;
    char err[512] = "";
    g_assert_cmpint(rooms_parse(text, &p, err, sizeof(err)), ==, -1);
    if (!strstr(err, want))
        g_error("%s: expected '%s' in '%s'", text, want, err);
    rooms_packet_clear(&p);
}

static void relay_fails(const char *text, const char *want)
{
    struct relay_msg m;
    char err[512] = "";
    g_assert_cmpint(relay_parse(text, &m, err, sizeof(err)), ==, -1);
    if (!strstr(err, want))
        g_error("%s: expected '%s' in '%s'", text, want, err);
    g_assert_null(m.root);
}

static void test_rooms_valid(void)
{
    struct rooms_packet p;
    char err[512];
    g_assert_cmpint(rooms_parse("{\"Header\":{\"Event\":\"broadcast\",\"UserId\":\"u\","
                                "\"RoomId\":\"r\",\"x\":1},\"Payload\":\"{\\\"a\\\":1}\"}",
                                &p, err, sizeof(err)),
                    ==, 0);
    g_assert_cmpint(p.event, ==, ROOMS_BROADCAST);
    g_assert_cmpstr(p.user_id, ==, "u");
    g_assert_cmpstr(p.room_id, ==, "r");
    g_assert_cmpstr(p.payload, ==, "{\"a\":1}");
    rooms_packet_clear(&p);
    g_assert_cmpint(rooms_parse("{\"Header\":{\"Event\":\"ping\",\"UserId\":\"u\","
                                "\"RoomId\":\"r\"}}",
                                &p, err, sizeof(err)),
                    ==, 0);
    g_assert_cmpint(p.event, ==, ROOMS_PING);
    g_assert_cmpstr(p.payload, ==, "{}");
    rooms_packet_clear(&p);
}

static void test_rooms_invalid(void)
{
    char long_id[ROOMS_MAX_ID + 2];
    memset(long_id, 'x', sizeof(long_id) - 1);
    long_id[sizeof(long_id) - 1] = '\0';
    gchar *too_long = g_strdup_printf(
        "{\"Header\":{\"Event\":\"connect\",\"UserId\":\"%s\",\"RoomId\":\"r\"}}", long_id);

    rooms_fails("nope", "malformed JSON");
    rooms_fails("[]", "must be a JSON object");
    rooms_fails("{\"Payload\":\"{}\"}", "packet: missing 'Header'");
    rooms_fails("{\"Header\":{\"Event\":\"connect\",\"UserId\":\"u\"}}", "missing 'RoomId'");
    rooms_fails("{\"Header\":{\"Event\":7,\"UserId\":\"u\",\"RoomId\":\"r\"}}",
                "'Event' must be a string");
    rooms_fails("{\"Header\":{\"Event\":\"shout\",\"UserId\":\"u\",\"RoomId\":\"r\"}}",
                "unknown Event 'shout'");
    rooms_fails("{\"Header\":{\"Event\":\"ping\",\"UserId\":\"u\",\"RoomId\":\"r\"},"
                "\"Payload\":{}}",
                "'Payload' must be a string");
    rooms_fails("{\"Header\":{\"Event\":\"ping\",\"UserId\":\"\",\"RoomId\":\"r\"}}",
                "'UserId' must be 1 to 128 bytes long");
    rooms_fails(too_long, "'UserId' must be 1 to 128 bytes long");
    g_free(too_long);
}

static json_t *loads(const char *text)
{
    json_t *j = json_loads(text, 0, NULL);
    g_assert_nonnull(j);
    return j;
}

static void test_rooms_build(void)
{
    const char *users[] = {"a", "b\"c"};
    char *s = rooms_connect_reply("a", "r", 1);
    json_t *j = loads(s);
    g_assert_cmpstr(json_string_value(json_object_get(j, "Payload")), ==,
                    "{\"initiator\":true}");
    g_assert_cmpstr(json_string_value(json_object_get(json_object_get(j, "Header"), "Event")),
                    ==, "connect");
    json_decref(j);
    free(s);
    s = rooms_ping_reply("a", "r", users, 2);
    j = loads(s);
    json_t *list = loads(json_string_value(json_object_get(j, "Payload")));
    g_assert_cmpint(json_array_size(list), ==, 2);
    g_assert_cmpstr(json_string_value(json_array_get(list, 1)), ==, "b\"c");
    json_decref(list);
    json_decref(j);
    free(s);
    s = rooms_error(NULL, NULL, "bad %s", "thing");
    j = loads(s);
    json_t *payload = loads(json_string_value(json_object_get(j, "Payload")));
    g_assert_cmpstr(json_string_value(json_object_get(payload, "message")), ==, "bad thing");
    g_assert_cmpstr(json_string_value(json_object_get(json_object_get(j, "Header"), "UserId")),
                    ==, "");
    json_decref(payload);
    json_decref(j);
    free(s);
}

static void test_relay_valid(void)
{
    static const char *const ok[] = {
        "{\"type\":\"init\"}",
        "{\"type\":\"join\",\"id\":\"abc\"}",
        "{\"type\":\"watch\",\"id\":\"abc\"}",
        "{\"type\":\"offer\",\"sdp\":\"v=0\"}",
        "{\"type\":\"answer\",\"sdp\":\"v=0\",\"to\":\"w1\"}",
        "{\"type\":\"ice_candidate\",\"sdp_mid\":\"0\",\"sdp_mline_index\":0,"
        "\"candidate\":\"c\"}",
        "{\"type\":\"ice_candidate\",\"sdp_mid\":\"0\",\"sdp_mline_index\":0,"
        "\"candiate\":\"c\"}",
        "{\"type\":\"configure\",\"actions\":[{\"type\":\"add_stream\",\"id\":\"s\"},"
        "{\"type\":\"remove_stream\"},{\"type\":\"add_video_track\"},"
        "{\"type\":\"add_audio_track\"},{\"type\":\"expect_stream\"},"
        "{\"type\":\"expect_video_track\"}]}",
    };
    static const enum relay_type types[] = {RELAY_INIT,   RELAY_JOIN,          RELAY_WATCH,
                                            RELAY_OFFER,  RELAY_ANSWER,        RELAY_ICE_CANDIDATE,
                                            RELAY_ICE_CANDIDATE, RELAY_CONFIGURE};
    for (size_t i = 0; i < G_N_ELEMENTS(ok); i++) {
        struct relay_msg m;
        char err[512] = "";
        if (relay_parse(ok[i], &m, err, sizeof(err)) != 0)
            g_error("%s: %s", ok[i], err);
        g_assert_cmpint(m.type, ==, types[i]);
        g_assert_cmpint(relay_msg_relayed(&m), ==, types[i] >= RELAY_OFFER);
        if (types[i] == RELAY_ANSWER)
            g_assert_cmpstr(m.to, ==, "w1");
        if (types[i] == RELAY_JOIN)
            g_assert_cmpstr(m.id, ==, "abc");
        relay_msg_clear(&m);
    }
}

static void test_relay_invalid(void)
{
    relay_fails("nope", "malformed JSON");
    relay_fails("[]", "must be a JSON object");
    relay_fails("{}", "message: missing 'type'");
    relay_fails("{\"type\":\"dance\"}", "unknown message type 'dance'");
    relay_fails("{\"type\":\"init\",\"to\":5}", "'to' must be a string");
    relay_fails("{\"type\":\"join\"}", "join: missing 'id'");
    relay_fails("{\"type\":\"watch\",\"id\":\"\"}", "watch: 'id' must be 1 to 64 bytes long");
    relay_fails("{\"type\":\"offer\"}", "offer: missing 'sdp'");
    relay_fails("{\"type\":\"ice_candidate\",\"sdp_mline_index\":0,\"candidate\":\"c\"}",
                "missing 'sdp_mid'");
    relay_fails("{\"type\":\"ice_candidate\",\"sdp_mid\":\"0\",\"sdp_mline_index\":0}",
                "ice_candidate: missing 'candidate'");
    relay_fails("{\"type\":\"configure\"}", "configure: missing 'actions'");
    relay_fails("{\"type\":\"configure\",\"actions\":[1]}", "action 0 must be an object");
    relay_fails("{\"type\":\"configure\",\"actions\":[{\"type\":\"fly\"}]}",
                "unknown action type 'fly'");
}

static void test_relay_build(void)
{
    struct relay_msg m;
    char err[512];
    g_assert_cmpint(relay_parse("{\"type\":\"answer\",\"sdp\":\"v=0\",\"x\":[1]}", &m, err,
                                sizeof(err)),
                    ==, 0);
    char *s = relay_msg_from(&m, "w2");
    json_t *j = loads(s);
    g_assert_cmpstr(json_string_value(json_object_get(j, "from")), ==, "w2");
    g_assert_cmpstr(json_string_value(json_object_get(j, "sdp")), ==, "v=0");
    g_assert_cmpint(json_array_size(json_object_get(j, "x")), ==, 1);
    /* the parsed message itself is left as it came */
    g_assert_null(json_object_get(m.root, "from"));
    json_decref(j);
    free(s);
    relay_msg_clear(&m);
    s = relay_msg_init("j", "w");
    g_assert_cmpstr(s, ==, "{\"type\":\"init\",\"join\":\"j\",\"watch\":\"w\"}");
    free(s);
    s = relay_msg_error("no %s", "way");
    g_assert_cmpstr(s, ==, "{\"type\":\"error\",\"message\":\"no way\"}");
    free(s);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/rooms/parse/valid", test_rooms_valid);
    g_test_add_func("/rooms/parse/invalid", test_rooms_invalid);
    g_test_add_func("/rooms/build", test_rooms_build);
    g_test_add_func("/relay/parse/valid", test_relay_valid);
    g_test_add_func("/relay/parse/invalid", test_relay_invalid);
    g_test_add_func("/relay/build", test_relay_build);
    return g_test_run();
}
