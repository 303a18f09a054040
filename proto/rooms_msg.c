/*
 * proto/rooms_msg.c - parsing and building seed 001's packets (see rooms_msg.h).
 */
#include "rooms_msg.h"

#include <glib.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

static const struct field_rule packet_rules[] = {
    {"Header", FIELD_OBJECT, 1, 0},
    {"Payload", FIELD_STRING, 0, 1},
};

static const struct field_rule header_rules[] = {
    {"Event", FIELD_STRING, 1, 0},
    {"UserId", FIELD_STRING, 1, 0},
    {"RoomId", FIELD_STRING, 1, 0},
};

static const char *const rooms_event_names[] = {"connect", "broadcast", "ping", "disconnect"};

static int rooms_id_check(const char *what, const char *id, char *err, size_t errlen)
{
    size_t n = strlen(id);
    if (n == 0 || n > ROOMS_MAX_ID) {
        snprintf(err, errlen, "'%s' must be 1 to %d bytes long", what, ROOMS_MAX_ID);
        return -1;
    }
    return 0;
}

static int rooms_header_parse(json_t *header, struct rooms_packet *p, char *err, size_t errlen)
{
    if (FIELDS_CHECK(header, "Header", header_rules, err, errlen) != 0)
        return -1;
    const char *event = json_string_value(json_object_get(header, "Event"));
    p->user_id = json_string_value(json_object_get(header, "UserId"));
    p->room_id = json_string_value(json_object_get(header, "RoomId"));
    if (rooms_id_check("UserId", p->user_id, err, errlen) != 0 ||
        rooms_id_check("RoomId", p->room_id, err, errlen) != 0)
        return -1;
    for (size_t i = 0; i < G_N_ELEMENTS(rooms_event_names); i++) {
        if (strcmp(event, rooms_event_names[i]) == 0) {
            p->event = (enum rooms_event)i;
            return 0;
        }
    }
    snprintf(err, errlen, "unknown Event '%.64s'", event);
    return -1;
}

int rooms_packet_parse(const char *data, size_t len, struct rooms_packet *p, char *err,
                       size_t errlen)
{

    memset(p, 0, sizeof(*p));
    p->root = proto_json_load_object(data, len, "packet", err, errlen);
    if (!p->root)
        return -1;
    if (FIELDS_CHECK(p->root, "packet", packet_rules, err, errlen) != 0 ||
        rooms_header_parse(json_object_get(p->root, "Header"), p, err, errlen) != 0)
        return -1;
    json_t *payload = json_object_get(p->root, "Payload");
    p->payload = json_is_string(payload) ? json_string_value(payload) : "{}";
    return 0;
}

void rooms_packet_clear(struct rooms_packet *p)
{
    json_decref(p->root);
    memset(p, 0, sizeof(*p));
}

char *rooms_packet_build(const char *event, const char *user_id, const char *room_id,
                         const char *payload)
{
    return proto_json_dump(json_pack("{s:{s:s, s:s, s:s}, s:s}", "Header", "Event", event,
                                     "UserId", user_id ? user_id : "", "RoomId",
                                     room_id ? room_id : "", "Payload", payload));
}

char *rooms_connect_reply(const char *user_id, const char *room_id, int initiator)
{
    return rooms_packet_build("connect", user_id, room_id,
                              initiator ? "{\"initiator\":true}" : "{\"initiator\":false}");
}

char *rooms_ping_reply(const char *user_id, const char *room_id, const char *const *users,
                       size_t n)
{
    json_t *list = json_array();
    for (size_t i = 0; list && i < n; i++)
        json_array_append_new(list, json_string(users[i]));
    char *payload = proto_json_dump(list);
    if (!payload)
        return NULL;
    char *out = rooms_packet_build("ping", user_id, room_id, payload);
    free(payload);
    return out;
}

/* Ids and the message may quote client input: make them valid UTF-8 so that
 * the client always gets an answer. */
char *rooms_error(const char *user_id, const char *room_id, const char *fmt, ...)
{
    char message[1024] = "";
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);
    gchar *valid = g_utf8_make_valid(message, -1);
    gchar *user = g_utf8_make_valid(user_id ? user_id : "", -1);
    gchar *room = g_utf8_make_valid(room_id ? room_id : "", -1);
    char *payload = proto_json_dump(json_pack("{s:s}", "message", valid));
    char *out = payload ? rooms_packet_build("error", user, room, payload) : NULL;
    free(payload);
    g_free(valid);
    g_free(user);
    g_free(room);
    return out;
}
