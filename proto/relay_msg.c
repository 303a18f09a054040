/*
 * proto/relay_msg.c - parsing and building seed 003's messages (see relay_msg.h).
 * Validation is declarative, as in client.c: each type has its field rules.
 */
#include "relay_msg.h"

#include <glib.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

static const struct field_rule type_rules[] = {
    {"type", FIELD_STRING, 1, 0},
    {"to", FIELD_STRING, 0, 1},
};
static const struct field_rule id_rules[] = {
    {"id", FIELD_STRING, 1, 0},
};
static const struct field_rule sdp_rules[] = {
    {"sdp", FIELD_STRING, 1, 0},
};
/* Seed 003's documentation spells the field "candiate"; webrtc_ros sends
 * "candidate".  Either is accepted, and relayed as it came. */
static const struct field_rule candidate_rules[] = {
    {"sdp_mid", FIELD_STRING, 1, 0},
    {"sdp_mline_index", FIELD_INTEGER, 1, 0},
    {"candidate", FIELD_STRING, 0, 0},
    {"candiate", FIELD_STRING, 0, 0},
};
static const struct field_rule configure_rules[] = {
    {"actions", FIELD_ARRAY, 1, 0},
};
static const struct field_rule action_rules[] = {
    {"type", FIELD_STRING, 1, 0},
};

static const char *const relay_action_types[] = {
    "add_stream",      "remove_stream", "add_video_track",
    "add_audio_track", "expect_stream", "expect_video_track",
};

static int relay_parse_id(struct relay_msg *msg, const char *what, char *err, size_t errlen)
{
    if (FIELDS_CHECK(msg->root, what, id_rules, err, errlen) != 0)
        return -1;
    msg->id = json_string_value(json_object_get(msg->root, "id"));
    size_t n = strlen(msg->id);
    if (n == 0 || n > RELAY_MAX_ID) {
        snprintf(err, errlen, "%s: 'id' must be 1 to %d bytes long", what, RELAY_MAX_ID);
        return -1;
    }
    return 0;
}

static int relay_parse_candidate(struct relay_msg *msg, char *err, size_t errlen)
{
    if (FIELDS_CHECK(msg->root, "ice_candidate", candidate_rules, err, errlen) != 0)
        return -1;
    if (!json_object_get(msg->root, "candidate") && !json_object_get(msg->root, "candiate")) {
        snprintf(err, errlen, "ice_candidate: missing 'candidate'");
        return -1;
    }
    return 0;
}

static int relay_parse_configure(struct relay_msg *msg, char *err, size_t errlen)
{
    size_t i;
    json_t *action;

    if (FIELDS_CHECK(msg->root, "configure", configure_rules, err, errlen) != 0)
        return -1;
    json_array_foreach(json_object_get(msg->root, "actions"), i, action) {
        if (!json_is_object(action)) {
            snprintf(err, errlen, "configure: action %zu must be an object", i);
            return -1;
        }
        if (FIELDS_CHECK(action, "configure action", action_rules, err, errlen) != 0)
            return -1;
        const char *type = json_string_value(json_object_get(action, "type"));
        size_t k = 0;
        while (k < G_N_ELEMENTS(relay_action_types) && strcmp(type, relay_action_types[k]) != 0)
            k++;
        if (k == G_N_ELEMENTS(relay_action_types)) {
            snprintf(err, errlen, "configure: unknown action type '%.64s'", type);
            return -1;
        }
    }
    return 0;
}

static int relay_parse_type(struct relay_msg *msg, const char *type, char *err, size_t errlen)
{
    static const char *const names[] = {"init",   "join",          "watch",    "offer",
                                        "answer", "ice_candidate", "configure"};
    size_t i = 0;
    while (i < G_N_ELEMENTS(names) && strcmp(type, names[i]) != 0)
        i++;
    if (i == G_N_ELEMENTS(names)) {
        snprintf(err, errlen, "unknown message type '%.64s'", type);
        return -1;
    }
    msg->type = (enum relay_type)i;
    switch (msg->type) {
    case RELAY_INIT:
        return 0;
    case RELAY_JOIN:
    case RELAY_WATCH:
        return relay_parse_id(msg, type, err, errlen);
    case RELAY_OFFER:
    case RELAY_ANSWER:
        return FIELDS_CHECK(msg->root, type, sdp_rules, err, errlen);
    case RELAY_ICE_CANDIDATE:
        return relay_parse_candidate(msg, err, errlen);
    case RELAY_CONFIGURE:
        return relay_parse_configure(msg, err, errlen);
    }
    return -1;
}

int relay_msg_parse(const char *data, size_t len, struct relay_msg *msg, char *err,
                    size_t errlen)
{

    memset(msg, 0, sizeof(*msg));
    msg->root = proto_json_load_object(data, len, "message", err, errlen);
    if (!msg->root)
        return -1;
    if (FIELDS_CHECK(msg->root, "message", type_rules, err, errlen) != 0)
        goto error;
    json_t *to = json_object_get(msg->root, "to");
    msg->to = json_is_string(to) ? json_string_value(to) : NULL;
    if (relay_parse_type(msg, json_string_value(json_object_get(msg->root, "type")), err,
                         errlen) != 0)
        goto error;
    return 0;
error:
    relay_msg_clear(msg);
    return -1;
}

void relay_msg_clear(struct relay_msg *msg)
{
    json_decref(msg->root);
    memset(msg, 0, sizeof(*msg));
}

int relay_msg_relayed(const struct relay_msg *msg)
{
    return msg->type >= RELAY_OFFER;
}

char *relay_msg_init(const char *join, const char *watch)
{
    return proto_json_dump(
        json_pack("{s:s, s:s, s:s}", "type", "init", "join", join, "watch", watch));
}

char *relay_msg_peer(const char *type, const char *from, const char *role)
{
    return proto_json_dump(json_pack("{s:s, s:s, s:s}", "type", type, "from", from, "role", role));
}

char *relay_msg_from(const struct relay_msg *msg, const char *from)
{
    json_t *copy = json_copy(msg->root);
    if (copy)
        json_object_set_new(copy, "from", json_string(from));
    return proto_json_dump(copy);
}

char *relay_msg_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *out = proto_json_error("type", "error", fmt, ap);
    va_end(ap);
    return out;
}
