/*
 * proto/rooms_msg.h - the rooms signaling protocol on the websocket at /videre
 * (seed 001, videre-server).  Every packet, both ways:
 *
 *   {"Header":{"Event":"connect","UserId":"peer1","RoomId":"room"},
 *    "Payload":"<a JSON document, as a string>"}
 *
 * Events: connect, broadcast, ping, disconnect (client -> server and back),
 * error (server -> client only; Payload "{\"message\":\"...\"}").
 * UserId and RoomId are non-empty strings of at most ROOMS_MAX_ID bytes;
 * Payload is a string (optional; a missing one counts as "{}").  Unknown
 * fields are ignored.  docs/signaling.md has the semantics.
 */
#ifndef WV_PROTO_ROOMS_MSG_H
#define WV_PROTO_ROOMS_MSG_H

#include <jansson.h>
#include <stddef.h>

#define ROOMS_MAX_ID 128

enum rooms_event {
    ROOMS_CONNECT,
    ROOMS_BROADCAST,
    ROOMS_PING,
    ROOMS_DISCONNECT,
};

struct rooms_packet {
    enum rooms_event event;
    json_t *root; /* owns the strings below */
    const char *user_id;
    const char *room_id;
    const char *payload;
};

/* Parse one packet: 0, or -1 with a readable reason in err.  On failure
 * p->user_id and p->room_id may still be set (for the error packet), valid
 * until rooms_packet_clear. */
int rooms_packet_parse(const char *data, size_t len, struct rooms_packet *p, char *err,
                       size_t errlen);
void rooms_packet_clear(struct rooms_packet *p);

/* Server -> client packets, malloc'd compact JSON (free()). */
char *rooms_packet_build(const char *event, const char *user_id, const char *room_id,
                         const char *payload);
/* connect echoed to its sender: Payload "{\"initiator\":true|false}". */
char *rooms_connect_reply(const char *user_id, const char *room_id, int initiator);
/* ping answered: Payload "[\"peer1\",\"peer2\"]" (a JSON array, as a string). */
char *rooms_ping_reply(const char *user_id, const char *room_id, const char *const *users,
                       size_t n);
/* error: Payload "{\"message\":\"...\"}"; ids may be NULL (sent as ""). */
char *rooms_error(const char *user_id, const char *room_id, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
