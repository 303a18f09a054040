/*
 * proto/relay_msg.h - the caller/answerer relay protocol on the websocket at
 * /webrtc (seed 003, as used with webrtc_ros).  One JSON object per message,
 * told apart by "type":
 *
 *   client -> server   {"type":"init"}
 *                      {"type":"join","id":JOIN}     become the answerer
 *                      {"type":"watch","id":WATCH}   become a watcher
 *   relayed            {"type":"offer"|"answer","sdp":...}
 *                      {"type":"ice_candidate","sdp_mid":...,"sdp_mline_index":N,
 *                       "candidate":...}
 *                      {"type":"configure","actions":[{"type":"add_stream",...},...]}
 *                      optional "to" (caller -> one peer), "from" (added by
 *                      the relay on what it delivers to the caller)
 *   server -> client   {"type":"init","join":JOIN,"watch":WATCH}
 *                      {"type":"peer_joined"|"peer_left","from":PEER,"role":ROLE}
 *                      {"type":"error","message":...}
 *
 * Relayed messages are checked (their required fields, every configure
 * action's type) and then forwarded as they came.  Unknown fields are
 * ignored and kept.  docs/signaling.md has the semantics.
 */
#ifndef WV_PROTO_RELAY_MSG_H
#define WV_PROTO_RELAY_MSG_H

#include <jansson.h>
#include <stddef.h>

#define RELAY_MAX_ID 64

enum relay_type {
    RELAY_INIT,
    RELAY_JOIN,
    RELAY_WATCH,
    RELAY_OFFER,
    RELAY_ANSWER,
    RELAY_ICE_CANDIDATE,
    RELAY_CONFIGURE,
};

struct relay_msg {
    enum relay_type type;
    json_t *root; /* owns the strings below */
    const char *id; /* join, watch */
    const char *to; /* relayed messages: NULL or the addressed peer */
};

/* Parse one message: 0, or -1 with a readable reason in err. */
int relay_msg_parse(const char *data, size_t len, struct relay_msg *msg, char *err,
                    size_t errlen);
void relay_msg_clear(struct relay_msg *msg);
/* Is this a message relayed between peers (offer, answer, candidate, configure)? */
int relay_msg_relayed(const struct relay_msg *msg);

/* Server -> client messages, malloc'd compact JSON (free()). */
char *relay_msg_init(const char *join, const char *watch);
char *relay_msg_peer(const char *type, const char *from, const char *role);
/* The parsed message with "from" set: what the caller receives. */
char *relay_msg_from(const struct relay_msg *msg, const char *from);
char *relay_msg_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
