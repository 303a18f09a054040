/*
 * proto/workspaces_msg.c - parsing and building seed 004's events (see
 * workspaces_msg.h).  Validation is declarative: the envelope has its field
 * rules, and each event the rules of its "data" (and of the object it
 * carries: offer, answer, candidate, description).
 */
#include "workspaces_msg.h"

#include <glib.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

static const struct field_rule envelope_rules[] = {
    {"event", FIELD_STRING, 1, 0},
    {"token", FIELD_STRING, 0, 1},
    {"data", FIELD_OBJECT, 0, 1},
};
static const struct field_rule create_rules[] = {
    {"name", FIELD_STRING, 0, 1},
    {"pin", FIELD_STRING, 0, 1},
    {"host", FIELD_STRING, 0, 1},
};
static const struct field_rule attend_rules[] = {
    {"name", FIELD_STRING, 0, 1},
    {"pin", FIELD_STRING, 0, 1},
};
static const struct field_rule ring_rules[] = {
    {"to", FIELD_STRING, 1, 0},
    {"offer", FIELD_OBJECT, 1, 0},
};
static const struct field_rule answer_rules[] = {
    {"answer", FIELD_OBJECT, 1, 0},
};
static const struct field_rule hangup_rules[] = {
    {"to", FIELD_STRING, 0, 1},
};
static const struct field_rule icecandidate_rules[] = {
    {"to", FIELD_STRING, 1, 0},
    {"candidate", FIELD_OBJECT, 1, 0},
};
static const struct field_rule negotiation_rules[] = {
    {"to", FIELD_STRING, 1, 0},
    {"description", FIELD_OBJECT, 1, 0},
};
/* RTCSessionDescriptionInit, RTCIceCandidateInit */
static const struct field_rule sdp_rules[] = {
    {"type", FIELD_STRING, 1, 0},
    {"sdp", FIELD_STRING, 1, 0},
};
static const struct field_rule description_rules[] = {
    {"type", FIELD_STRING, 1, 0},
    {"sdp", FIELD_STRING, 0, 0},
};
static const struct field_rule candidate_rules[] = {
    {"candidate", FIELD_STRING, 1, 0},
    {"sdpMid", FIELD_STRING, 0, 1},
    {"sdpMLineIndex", FIELD_INTEGER, 0, 1},
};

static const char *const event_names[] = {
    "create", "destroy", "attend",     "re-attend",    "leave",       "ring",
    "answer", "busy",    "hangup",     "iceservers",   "icecandidate", "negotiation",
};

const char *workspaces_event_name(enum workspaces_event event)
{
    return event_names[event];
}

/* data.KEY, an object, checked against `rules`; `type`, if set, is required. */
static int ws_check_inner(struct workspaces_msg *msg, const char *key,
                          const struct field_rule *rules, size_t n, const char *type,
                          char *err, size_t errlen)
{
    char what[64];
    json_t *o = json_object_get(msg->data, key);

    snprintf(what, sizeof(what), "%s: '%s'", event_names[msg->event], key);
    if (fields_check(o, what, rules, n, err, errlen) != 0)
        return -1;
    const char *t = json_string_value(json_object_get(o, "type"));
    if (type && t && strcmp(t, type) != 0) {
        snprintf(err, errlen, "%s: type must be \"%s\"", what, type);
        return -1;
    }
    return 0;
}

static int ws_check_string(const char *event, const char *key, const char *value, size_t min,
                           size_t max, char *err, size_t errlen)
{
    size_t n;
    if (!value)
        return 0;
    n = strlen(value);
    if (n < min || n > max) {
        snprintf(err, errlen, "%s: '%s' must be %zu to %zu bytes long", event, key, min, max);
        return -1;
    }
    return 0;
}

static const char *ws_data_string(const struct workspaces_msg *msg, const char *key)
{
    return json_string_value(json_object_get(msg->data, key));
}

/* The per-event rules of "data". */
static int ws_check_data(struct workspaces_msg *msg, char *err, size_t errlen)
{
    const char *ev = event_names[msg->event];

    switch (msg->event) {
    case WSE_CREATE:
        return FIELDS_CHECK(msg->data, ev, create_rules, err, errlen);
    case WSE_ATTEND:
        return FIELDS_CHECK(msg->data, ev, attend_rules, err, errlen);
    case WSE_RING:
        if (FIELDS_CHECK(msg->data, ev, ring_rules, err, errlen) != 0)
            return -1;
        return ws_check_inner(msg, "offer", sdp_rules, G_N_ELEMENTS(sdp_rules), "offer", err,
                              errlen);
    case WSE_ANSWER:
        if (FIELDS_CHECK(msg->data, ev, answer_rules, err, errlen) != 0)
            return -1;
        return ws_check_inner(msg, "answer", sdp_rules, G_N_ELEMENTS(sdp_rules), "answer", err,
                              errlen);
    case WSE_HANGUP:
        return FIELDS_CHECK(msg->data, ev, hangup_rules, err, errlen);
    case WSE_ICECANDIDATE:
        if (FIELDS_CHECK(msg->data, ev, icecandidate_rules, err, errlen) != 0)
            return -1;
        return ws_check_inner(msg, "candidate", candidate_rules,
                              G_N_ELEMENTS(candidate_rules), NULL, err, errlen);
    case WSE_NEGOTIATION:
        if (FIELDS_CHECK(msg->data, ev, negotiation_rules, err, errlen) != 0)
            return -1;
        return ws_check_inner(msg, "description", description_rules,
                              G_N_ELEMENTS(description_rules), NULL, err, errlen);
    case WSE_DESTROY:
    case WSE_REATTEND:
    case WSE_LEAVE:
    case WSE_BUSY:
    case WSE_ICESERVERS:
        return 0;
    }
    return -1;
}

static int ws_read_fields(struct workspaces_msg *msg, char *err, size_t errlen)
{
    const char *ev = event_names[msg->event];

    msg->to = ws_data_string(msg, "to");
    msg->pin = ws_data_string(msg, "pin");
    if (msg->event == WSE_CREATE) {
        msg->name = ws_data_string(msg, "name");
        msg->host = ws_data_string(msg, "host");
    } else if (msg->event == WSE_ATTEND) {
        msg->name = ws_data_string(msg, "name");
    } else {
        msg->pin = NULL;
    }
    if (ws_check_string(ev, "name", msg->name, 0, WORKSPACES_MAX_NAME, err, errlen) != 0 ||
        ws_check_string(ev, "host", msg->host, 0, WORKSPACES_MAX_NAME, err, errlen) != 0 ||
        ws_check_string(ev, "pin", msg->pin, WORKSPACES_MIN_PIN, WORKSPACES_MAX_PIN, err,
                        errlen) != 0 ||
        ws_check_string(ev, "to", msg->to, 1, WORKSPACES_MAX_ID, err, errlen) != 0)
        return -1;
    if (msg->event != WSE_CREATE && !msg->token) {
        snprintf(err, errlen, "%s: missing 'token'", ev);
        return -1;
    }
    return 0;
}

int workspaces_msg_parse(const char *text, size_t len, struct workspaces_msg *msg, char *err,
                         size_t errlen)
{
    size_t i = 0;

    memset(msg, 0, sizeof(*msg));
    msg->event = (enum workspaces_event)-1;
    msg->root = proto_json_load_object(text, len, "message", err, errlen);
    if (!msg->root)
        return -1;
    if (FIELDS_CHECK(msg->root, "message", envelope_rules, err, errlen) != 0)
        goto error;
    const char *event = json_string_value(json_object_get(msg->root, "event"));
    while (i < G_N_ELEMENTS(event_names) && strcmp(event, event_names[i]) != 0)
        i++;
    if (i == G_N_ELEMENTS(event_names)) {
        snprintf(err, errlen, "unknown event '%.64s'", event);
        goto error;
    }
    msg->event = (enum workspaces_event)i;
    msg->token = json_string_value(json_object_get(msg->root, "token"));
    msg->data = json_object_get(msg->root, "data");
    if (!json_is_object(msg->data)) {
        msg->data = json_object();
        json_object_set_new(msg->root, "data", msg->data);
    }
    if (ws_check_data(msg, err, errlen) != 0 || ws_read_fields(msg, err, errlen) != 0)
        goto error;
    return 0;
error:
    json_decref(msg->root);
    msg->root = NULL;
    msg->data = NULL;
    msg->token = msg->name = msg->host = msg->pin = msg->to = NULL;
    return -1;
}

void workspaces_msg_clear(struct workspaces_msg *msg)
{
    json_decref(msg->root);
    memset(msg, 0, sizeof(*msg));
}

char *workspaces_msg_build(const char *event, const char *token, json_t *data)
{
    json_t *o = json_pack("{s:s, s:o}", "event", event, "data", data ? data : json_object());
    if (o && token)
        json_object_set_new(o, "token", json_string(token));
    return proto_json_dump(o);
}

char *workspaces_msg_alert(const char *event, const char *fmt, ...)
{
    char message[1024] = "";
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);
    gchar *valid = g_utf8_make_valid(message, -1);
    json_t *data = json_pack("{s:s}", "message", valid);
    g_free(valid);
    if (data && event)
        json_object_set_new(data, "event", json_string(event));
    return workspaces_msg_build("alert", NULL, data);
}

char *workspaces_msg_forward(const struct workspaces_msg *msg, const char *from)
{
    json_t *data = json_deep_copy(msg->data);
    if (!data)
        return NULL;
    json_object_del(data, "to");
    json_object_set_new(data, "from", json_string(from));
    return workspaces_msg_build(event_names[msg->event], NULL, data);
}

char *workspaces_turn_password(const char *secret, const char *username)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int n = 0;

    if (!HMAC(EVP_sha1(), secret, (int)strlen(secret), (const unsigned char *)username,
              strlen(username), mac, &n))
        return NULL;
    gchar *b64 = g_base64_encode(mac, n);
    char *out = strdup(b64);
    g_free(b64);
    return out;
}

static json_t *ws_uris(char *const *uris, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_string(uris[i]));
    return a;
}

json_t *workspaces_msg_iceservers(char *const *stun, size_t n_stun, char *const *turn,
                                  size_t n_turn, const char *turn_secret, int64_t ttl,
                                  const char *attendee, int64_t now)
{
    json_t *servers = json_array();

    if (n_stun)
        json_array_append_new(servers, json_pack("{s:o}", "urls", ws_uris(stun, n_stun)));
    if (n_turn && turn_secret && *turn_secret) {
        char *user = g_strdup_printf("%lld:%s", (long long)(now + ttl), attendee);
        char *password = workspaces_turn_password(turn_secret, user);
        if (password)
            json_array_append_new(servers, json_pack("{s:o, s:s, s:s}", "urls",
                                                     ws_uris(turn, n_turn), "username", user,
                                                     "credential", password));
        free(password);
        g_free(user);
    }
    return json_pack("{s:o}", "iceServers", servers);
}
