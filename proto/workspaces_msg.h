/*
 * proto/workspaces_msg.h - the workspaces protocol on the websocket at
 * /workspaces (seed 004, webRTCWorkspaces).  One envelope for every event,
 * both directions:
 *
 *   {"event":"attend","token":"<JWT>","data":{...}}
 *
 * "event" is required; "token" is required on every client event except
 * create (proto/jwt.h: the token is verified before anything else); "data"
 * is an object, absent meaning {}.  Unknown fields are ignored.
 *
 *   client -> server  data fields (? optional)
 *   create            name?, pin?, host?
 *   destroy, re-attend, leave, iceservers, busy   (none)
 *   attend            pin?, name?
 *   ring              to, offer{type,sdp}
 *   answer            answer{type,sdp}
 *   hangup            to?  (absent: every attendee)
 *   icecandidate      to, candidate{candidate, sdpMid?, sdpMLineIndex?}
 *   negotiation       to, description{type, sdp?}
 *
 * Server -> client events and their data are built by the functions below;
 * docs/signaling.md ("Workspaces") documents every one with examples.
 */
#ifndef WV_PROTO_WORKSPACES_MSG_H
#define WV_PROTO_WORKSPACES_MSG_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define WORKSPACES_MAX_NAME 128 /* workspace and attendee names, bytes */
#define WORKSPACES_MAX_PIN 64
#define WORKSPACES_MIN_PIN 4
#define WORKSPACES_MAX_ID 64

enum workspaces_event {
    WSE_CREATE,
    WSE_DESTROY,
    WSE_ATTEND,
    WSE_REATTEND,
    WSE_LEAVE,
    WSE_RING,
    WSE_ANSWER,
    WSE_BUSY,
    WSE_HANGUP,
    WSE_ICESERVERS,
    WSE_ICECANDIDATE,
    WSE_NEGOTIATION,
};

struct workspaces_msg {
    enum workspaces_event event;
    json_t *root;      /* owns everything below */
    const char *token; /* NULL only for create */
    json_t *data;      /* always an object */
    const char *name;  /* create: workspace name; attend: attendee name (NULL: default) */
    const char *host;  /* create: the owner's name (NULL: default) */
    const char *pin;   /* create, attend: NULL if none */
    const char *to;    /* ring, hangup, icecandidate, negotiation: the addressee */
};

/* Parse one client message: 0, or -1 with a reason naming the field in err.
 * On failure msg->event is the event if it was recognised, else -1. */
int workspaces_msg_parse(const char *text, size_t len, struct workspaces_msg *msg, char *err,
                         size_t errlen);
void workspaces_msg_clear(struct workspaces_msg *msg);
const char *workspaces_event_name(enum workspaces_event event);

/* Server -> client: {"event":EVENT[,"token":TOKEN],"data":DATA}, taking
 * ownership of `data` (NULL: {}); malloc'd compact JSON (free()). */
char *workspaces_msg_build(const char *event, const char *token, json_t *data);
/* {"event":"alert","data":{"message":...[,"event":EVENT]}} */
char *workspaces_msg_alert(const char *event, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* What the addressee of a relayed event receives: the sender's data with
 * "to" removed and "from" set, no token. */
char *workspaces_msg_forward(const struct workspaces_msg *msg, const char *from);

/*
 * The iceservers reply's data: {"iceServers":[{"urls":[STUN...]},
 * {"urls":[TURN...],"username":U,"credential":C}]}, the RTCIceServer
 * dictionaries a browser's RTCPeerConnection takes as they are.  The TURN
 * entry is present when turn_uris and turn_secret are set; its credentials
 * are coturn's REST-API scheme (use-auth-secret): U = "EXPIRY:ATTENDEE",
 * EXPIRY = now + ttl in Unix seconds, C = base64(HMAC-SHA1(secret, U)).
 */
json_t *workspaces_msg_iceservers(char *const *stun, size_t n_stun, char *const *turn,
                                  size_t n_turn, const char *turn_secret, int64_t ttl,
                                  const char *attendee, int64_t now);
/* coturn's REST-API password for `username`: base64(HMAC-SHA1(secret, username)). */
char *workspaces_turn_password(const char *secret, const char *username);

#endif
