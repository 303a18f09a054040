/*
 * proto/client.h - the recorder protocol spoken by browsers and SDK clients on
 * the websocket at /api/recorder (seed 000, itself Kurento's hello-world).
 *
 * Client -> server, one JSON object per websocket text message:
 *   {"id":"start", "sdpOffer":"v=0...", "loopback":false}
 *   {"id":"onIceCandidate", "candidate":{"candidate":"candidate:...",
 *                                        "sdpMid":"0", "sdpMLineIndex":0}}
 *   {"id":"stop"}
 * Server -> client:
 *   {"id":"startResponse", "sdpAnswer":"v=0..."}
 *   {"id":"iceCandidate", "candidate":{"candidate":..., "sdpMid":..., "sdpMLineIndex":...}}
 *   {"id":"uploadSuccess", "videoUrl":"http://.../recordings/KEY", "key":"KEY"}
 *   {"id":"error", "message":"..."}
 *
 * Unknown fields are ignored (browsers add e.g. usernameFragment); a missing
 * or mistyped required field is an error whose message names the field.
 */
#ifndef WV_PROTO_CLIENT_H
#define WV_PROTO_CLIENT_H

#include <jansson.h>
#include <stddef.h>

/* Largest websocket message a client may send (an SDP offer is ~5-10 KiB). */
#define CLIENT_MAX_MESSAGE (256u * 1024u)

/* One ICE candidate as trickled by either side.  An empty `candidate` string
 * means end-of-candidates.  sdp_mid may be NULL; sdp_mline_index is -1 when
 * absent. */
struct ice_candidate {
    const char *candidate;
    const char *sdp_mid;
    int sdp_mline_index;
};

enum client_msg_type {
    CLIENT_MSG_START,
    CLIENT_MSG_ICE_CANDIDATE,
    CLIENT_MSG_STOP,
};

struct client_msg {
    enum client_msg_type type;
    json_t *root; /* owns every string below */
    union {
        struct {
            const char *sdp_offer;
            int loopback;
        } start;
        struct ice_candidate candidate;
    } u;
};

/*
 * Parse one client message.  Returns 0 and fills *msg (release it with
 * client_msg_clear), or -1 with a human-readable reason in err.
 */
int client_msg_parse(const char *data, size_t len, struct client_msg *msg, char *err, size_t errlen);
void client_msg_clear(struct client_msg *msg);

/* Validate a candidate object {candidate, sdpMid, sdpMLineIndex}; strings
 * stay owned by obj.  Shared by the client and the worker IPC parsers. */
int ice_candidate_from_json(json_t *obj, struct ice_candidate *out, char *err, size_t errlen);
json_t *ice_candidate_to_json(const struct ice_candidate *c);

/* Reject what cannot be an SDP offer with audio or video (see client.c). */
int sdp_offer_check(const char *sdp, char *err, size_t errlen);

/* Server -> client messages, as malloc'd compact JSON strings (free()). */
char *client_msg_start_response(const char *sdp_answer);
char *client_msg_ice_candidate(const struct ice_candidate *c);
char *client_msg_upload_success(const char *video_url, const char *key);
char *client_msg_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
