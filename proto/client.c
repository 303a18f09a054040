/*
 * proto/client.c - parsing and building the recorder protocol's messages
 * (see client.h).  Validation is declarative: each message id maps to a
 * parser whose field rules (name, type, required) are checked first, so
 * every error names the field that was wrong.
 */
#include "client.h"

#include <glib.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

static const struct field_rule candidate_rules[] = {
    {"candidate", FIELD_STRING, 1, 0},
    {"sdpMid", FIELD_STRING, 0, 1},
    {"sdpMLineIndex", FIELD_INTEGER, 0, 1},
};

int ice_candidate_from_json(json_t *obj, struct ice_candidate *out, char *err, size_t errlen)
{
    json_t *mid, *mline;

    memset(out, 0, sizeof(*out));
    out->sdp_mline_index = -1;
    if (FIELDS_CHECK(obj, "invalid candidate", candidate_rules, err, errlen) != 0)
        return -1;
    out->candidate = json_string_value(json_object_get(obj, "candidate"));
    mid = json_object_get(obj, "sdpMid");
    mline = json_object_get(obj, "sdpMLineIndex");
    if (json_is_string(mid))
        out->sdp_mid = json_string_value(mid);
    if (json_is_integer(mline)) {
        json_int_t v = json_integer_value(mline);
        if (v < 0 || v > 1024) {
            snprintf(err, errlen, "invalid candidate: 'sdpMLineIndex' out of range");
            return -1;
        }
        out->sdp_mline_index = (int)v;
    }
    if (out->sdp_mid == NULL && out->sdp_mline_index < 0 && out->candidate[0] != '\0') {
        snprintf(err, errlen, "invalid candidate: needs 'sdpMid' or 'sdpMLineIndex'");
        return -1;
    }
    return 0;
}

/* NULL if any string is not valid UTF-8: never a candidate missing a field. */
json_t *ice_candidate_to_json(const struct ice_candidate *c)
{
    return json_pack("{s:s, s:o, s:o}", "candidate", c->candidate ? c->candidate : "", "sdpMid",
                     c->sdp_mid ? json_string(c->sdp_mid) : json_null(), "sdpMLineIndex",
                     c->sdp_mline_index >= 0 ? json_integer(c->sdp_mline_index) : json_null());
}

/*
 * A cheap first look at an offer, so that garbage costs no media worker: an
 * SDP starts with its version line and offers at least one audio or video
 * m-line.  The worker's SDP parser judges everything else.
 */
int sdp_offer_check(const char *sdp, char *err, size_t errlen)
{
    if (sdp[0] == '\0') {
        snprintf(err, errlen, "start: 'sdpOffer' is empty");
        return -1;
    }
    if (strncmp(sdp, "v=0", 3) != 0 || (sdp[3] != '\r' && sdp[3] != '\n')) {
        snprintf(err, errlen, "invalid SDP offer: it must begin with \"v=0\"");
        return -1;
    }
    if (!strstr(sdp, "\nm=audio ") && !strstr(sdp, "\nm=video ")) {
        snprintf(err, errlen, "invalid SDP offer: no audio or video media section");
        return -1;
    }
    return 0;
}

static const struct field_rule start_rules[] = {
    {"sdpOffer", FIELD_STRING, 1, 0},
    {"loopback", FIELD_BOOLEAN, 0, 1},
};

static int parse_start(struct client_msg *msg, char *err, size_t errlen)
{
    if (FIELDS_CHECK(msg->root, "start", start_rules, err, errlen) != 0)
        return -1;
    msg->u.start.sdp_offer = json_string_value(json_object_get(msg->root, "sdpOffer"));
    msg->u.start.loopback = json_is_true(json_object_get(msg->root, "loopback"));
    return sdp_offer_check(msg->u.start.sdp_offer, err, errlen);
}

static const struct field_rule on_ice_candidate_rules[] = {
    {"candidate", FIELD_OBJECT, 1, 0},
};

static int parse_candidate(struct client_msg *msg, char *err, size_t errlen)
{
    if (FIELDS_CHECK(msg->root, "onIceCandidate", on_ice_candidate_rules, err, errlen) != 0)
        return -1;
    return ice_candidate_from_json(json_object_get(msg->root, "candidate"), &msg->u.candidate,
                                   err, errlen);
}

static int parse_stop(struct client_msg *msg, char *err, size_t errlen)
{
    (void)msg;
    (void)err;
    (void)errlen;
    return 0;
}

static const struct {
    const char *id;
    enum client_msg_type type;
    int (*parse)(struct client_msg *msg, char *err, size_t errlen);
} client_schemas[] = {
    {"start", CLIENT_MSG_START, parse_start},
    {"onIceCandidate", CLIENT_MSG_ICE_CANDIDATE, parse_candidate},
    {"stop", CLIENT_MSG_STOP, parse_stop},
};

static const struct field_rule id_rules[] = {
    {"id", FIELD_STRING, 1, 0},
};

int client_msg_parse(const char *data, size_t len, struct client_msg *msg, char *err, size_t errlen)
{
    const char *id = NULL;

    memset(msg, 0, sizeof(*msg));
    if (len > CLIENT_MAX_MESSAGE) {
        snprintf(err, errlen, "message too large (%zu bytes, limit %u)", len, CLIENT_MAX_MESSAGE);
        return -1;
    }
    msg->root = proto_json_load_object(data, len, "message", err, errlen);
    if (!msg->root)
        return -1;
    if (FIELDS_CHECK(msg->root, "message", id_rules, err, errlen) != 0)
        goto error;
    id = json_string_value(json_object_get(msg->root, "id"));
    for (size_t i = 0; i < sizeof(client_schemas) / sizeof(client_schemas[0]); i++) {
        if (strcmp(id, client_schemas[i].id) != 0)
            continue;
        msg->type = client_schemas[i].type;
        if (client_schemas[i].parse(msg, err, errlen) != 0)
            goto error;
        return 0;
    }
    snprintf(err, errlen, "unknown message id '%.64s'", id);
error:
    client_msg_clear(msg);
    return -1;
}

void client_msg_clear(struct client_msg *msg)
{
    json_decref(msg->root);
    memset(msg, 0, sizeof(*msg));
}

char *client_msg_start_response(const char *sdp_answer)
{
    return proto_json_dump(json_pack("{s:s, s:s}", "id", "startResponse", "sdpAnswer", sdp_answer));
}

char *client_msg_ice_candidate(const struct ice_candidate *c)
{
    return proto_json_dump(
        json_pack("{s:s, s:o}", "id", "iceCandidate", "candidate", ice_candidate_to_json(c)));
}

char *client_msg_upload_success(const char *video_url, const char *key)
{
    return proto_json_dump(
        json_pack("{s:s, s:s, s:s}", "id", "uploadSuccess", "videoUrl", video_url, "key", key));
}

/* The message often quotes client input: see proto_json_error. */
char *client_msg_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *out = proto_json_error("id", "error", fmt, ap);
    va_end(ap);
    return out;
}
