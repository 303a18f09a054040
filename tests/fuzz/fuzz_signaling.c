/*
 * tests/fuzz/fuzz_signaling.c - libFuzzer target for the signaling wire
 * formats: seed 001's room packets (proto/rooms_msg.c) and seed 003's relay
 * messages (proto/relay_msg.c).
 *
 * The input is one websocket text message, given to both parsers.  Beyond
 * "no crash, no leak, no UB", it checks what the services rely on:
 *   - a rejected message has a reason, and the error the client would get
 *     (rooms_error with whatever ids were read, relay_msg_error) can be built;
 *   - an accepted room packet has ids of 1..ROOMS_MAX_ID bytes and a payload,
 *     and the packets built from it (connect reply, ping list, disconnect
 *     notice) parse back with the same ids;
 *   - an accepted relay message has a bounded id when it needs one, and the
 *     copy the caller would receive (relay_msg_from) parses back as the same
 *     type.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "relay_msg.h"
#include "rooms_msg.h"

static void check_rooms_rebuilt(char *s, const char *user, const char *room)
{
    struct rooms_packet p;
    char err[512];
    FUZZ_CHECK(s != NULL);
    FUZZ_CHECK(rooms_packet_parse(s, strlen(s), &p, err, sizeof(err)) == 0);
    FUZZ_CHECK(strcmp(p.user_id, user) == 0 && strcmp(p.room_id, room) == 0);
    rooms_packet_clear(&p);
    free(s);
}

static void fuzz_rooms(const char *data, size_t size)
{
    struct rooms_packet p;
    char err[512] = "";

    if (rooms_packet_parse(data, size, &p, err, sizeof(err)) != 0) {
        FUZZ_CHECK(err[0] != '\0');
        char *e = rooms_error(p.user_id, p.room_id, "%s", err);
        FUZZ_CHECK(e != NULL);
        free(e);
        rooms_packet_clear(&p);
        return;
    }
    size_t nu = strlen(p.user_id), nr = strlen(p.room_id);
    FUZZ_CHECK(nu >= 1 && nu <= ROOMS_MAX_ID && nr >= 1 && nr <= ROOMS_MAX_ID);
    FUZZ_CHECK(p.payload != NULL);
    const char *users[] = {p.user_id, p.room_id};
    check_rooms_rebuilt(rooms_connect_reply(p.user_id, p.room_id, 1), p.user_id, p.room_id);
    check_rooms_rebuilt(rooms_ping_reply(p.user_id, p.room_id, users, 2), p.user_id, p.room_id);
    check_rooms_rebuilt(rooms_packet_build("disconnect", p.user_id, p.room_id, p.payload),
                        p.user_id, p.room_id);
    rooms_packet_clear(&p);
}

static void fuzz_relay(const char *data, size_t size)
{
    struct relay_msg m;
    char err[512] = "";

    if (relay_msg_parse(data, size, &m, err, sizeof(err)) != 0) {
        FUZZ_CHECK(err[0] != '\0' && m.root == NULL);
        char *e = relay_msg_error("%s", err);
        FUZZ_CHECK(e != NULL);
        free(e);
        return;
    }
    if (m.type == RELAY_JOIN || m.type == RELAY_WATCH)
        FUZZ_CHECK(m.id && strlen(m.id) >= 1 && strlen(m.id) <= RELAY_MAX_ID);
    if (relay_msg_relayed(&m)) {
        char *s = relay_msg_from(&m, "w1");
        struct relay_msg back;
        FUZZ_CHECK(s != NULL);
        FUZZ_CHECK(relay_msg_parse(s, strlen(s), &back, err, sizeof(err)) == 0);
        FUZZ_CHECK(back.type == m.type);
        relay_msg_clear(&back);
        free(s);
    }
    relay_msg_clear(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_rooms((const char *)data, size);
    fuzz_relay((const char *)data, size);
    return 0;
}
