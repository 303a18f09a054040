/*
 * proto/json.c - see json.h.
 */
#include "json.h"

#include <glib.h>
#include <stdio.h>

char *proto_json_dump(json_t *o)
{
    if (!o)
        return NULL;
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}

static const char *const field_type_names[] = {"a string", "an integer", "a boolean",
                                               "an object", "an array"};

static int field_has_type(const json_t *v, enum field_type type)
{
    switch (type) {
    case FIELD_STRING:
        return json_is_string(v);
    case FIELD_INTEGER:
        return json_is_integer(v);
    case FIELD_BOOLEAN:
        return json_is_boolean(v);
    case FIELD_OBJECT:
        return json_is_object(v);
    case FIELD_ARRAY:
        return json_is_array(v);
    }
    return 0;
}

int fields_check(json_t *obj, const char *what, const struct field_rule *rules, size_t n,
                 char *err, size_t errlen)
{
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_object_get(obj, rules[i].key);
        if (!v || (rules[i].nullable && json_is_null(v))) {
            if (!rules[i].required)
                continue;
            snprintf(err, errlen, "%s: missing '%s'", what, rules[i].key);
            return -1;
        }
        if (!field_has_type(v, rules[i].type)) {
            snprintf(err, errlen, "%s: '%s' must be %s", what, rules[i].key,
                     field_type_names[rules[i].type]);
            return -1;
        }
    }
    return 0;
}

json_t *proto_json_load_object(const char *data, size_t len, const char *what, char *err,
                               size_t errlen)
{
    json_error_t jerr;
    json_t *root = json_loadb(data, len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        snprintf(err, errlen, "malformed JSON: %s (line %d, column %d)", jerr.text, jerr.line,
                 jerr.column);
        return NULL;
    }
    if (!json_is_object(root)) {
        snprintf(err, errlen, "a %s must be a JSON object", what);
        json_decref(root);
        return NULL;
    }
    return root;
}

char *proto_json_error(const char *key, const char *value, const char *fmt, va_list ap)
{
    char message[1024] = "";
    vsnprintf(message, sizeof(message), fmt, ap);
    gchar *valid = g_utf8_make_valid(message, -1);
    char *out = proto_json_dump(json_pack("{s:s, s:s}", key, value, "message", valid));
    g_free(valid);
    return out;
}
