/*
 * proto/control.c - control-socket requests and responses (see control.h).
 */
#include "control.h"

#include <stdarg.h>
#include <stdio.h>

#include "json.h"

static const struct field_rule control_request_rules[] = {
    {"command", FIELD_STRING, 1, 0},
    {"arg", FIELD_STRING, 0, 1},
};

int control_request_parse(const char *line, size_t len, struct control_request *req,
                          json_t **root, char *err, size_t errlen)
{
    *root = NULL;
    if (len > CONTROL_MAX_REQUEST) {
        snprintf(err, errlen, "request longer than %d bytes", CONTROL_MAX_REQUEST);
        return -1;
    }
    json_t *o = proto_json_load_object(line, len, "request", err, errlen);
    if (!o)
        return -1;
    if (FIELDS_CHECK(o, "request", control_request_rules, err, errlen) != 0) {
        json_decref(o);
        return -1;
    }
    req->command = json_string_value(json_object_get(o, "command"));
    req->arg = json_string_value(json_object_get(o, "arg"));
    *root = o;
    return 0;
}

char *control_request_encode(const char *command, const char *arg)
{
    json_t *o = json_pack("{s:s}", "command", command);
    if (o && arg)
        json_object_set_new(o, "arg", json_string(arg));
    return proto_json_dump(o);
}

char *control_response_ok(json_t *data)
{
    return proto_json_dump(json_pack("{s:b,s:o}", "ok", 1, "data", data ? data : json_object()));
}

char *control_response_error(const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    return proto_json_dump(json_pack("{s:b,s:s}", "ok", 0, "error", msg));
}

static const struct field_rule control_response_rules[] = {
    {"ok", FIELD_BOOLEAN, 1, 0},
    {"data", FIELD_OBJECT, 0, 1},
    {"error", FIELD_STRING, 0, 1},
};

int control_response_parse(const char *line, size_t len, int *ok, json_t **data,
                           const char **error, json_t **root, char *err, size_t errlen)
{
    json_t *o = proto_json_load_object(line, len, "response", err, errlen);
    *root = NULL;
    if (!o)
        return -1;
    if (FIELDS_CHECK(o, "response", control_response_rules, err, errlen) != 0)
        goto error;
    *ok = json_is_true(json_object_get(o, "ok"));
    *data = json_object_get(o, "data");
    *error = json_string_value(json_object_get(o, "error"));
    if (*ok ? !*data : !*error) {
        snprintf(err, errlen, "response: %s", *ok ? "'data' missing" : "'error' missing");
        goto error;
    }
    *root = o;
    return 0;
error:
    json_decref(o);
    return -1;
}
