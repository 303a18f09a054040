/*
 * proto/json.h - helpers shared by proto/'s JSON parsers and encoders:
 * declarative field validation and compact dumping.
 */
#ifndef WV_PROTO_JSON_H
#define WV_PROTO_JSON_H

#include <jansson.h>
#include <stdarg.h>
#include <stddef.h>

/* Compact JSON text of `o` (malloc'd; free()), releasing `o`.  NULL in,
 * NULL out, so that a failed json_pack() falls through to the caller. */
char *proto_json_dump(json_t *o);

/*
 * {"<key>":"<value>","message":"<fmt, ap>"}: the error message of a protocol
 * whose messages are told apart by `key` ("id", "type").  The text is cut at
 * 1 KiB and made valid UTF-8 (it often quotes client input, and a cut through
 * a multi-byte character would make json_pack fail and leave the client
 * without any answer).
 */
char *proto_json_error(const char *key, const char *value, const char *fmt, va_list ap);

/*
 * Parse one message that must be a JSON object.  Returns it (json_decref
 * it), or NULL with "malformed JSON: ... (line L, column C)" or "a WHAT must
 * be a JSON object" in err.
 */
json_t *proto_json_load_object(const char *data, size_t len, const char *what, char *err,
                               size_t errlen);

/*
 * The schema of a JSON object: each rule names a field, its type, whether
 * it must be there and whether null stands for "absent".  Unknown fields are
 * ignored.  The error names the field, e.g. "start: 'sdpOffer' must be a
 * string".
 */
enum field_type { FIELD_STRING, FIELD_INTEGER, FIELD_BOOLEAN, FIELD_OBJECT, FIELD_ARRAY };

struct field_rule {
    const char *key;
    enum field_type type;
    int required;
    int nullable;
};

int fields_check(json_t *obj, const char *what, const struct field_rule *rules, size_t n,
                 char *err, size_t errlen);

#define FIELDS_CHECK(obj, what, rules, err, errlen)                                            \
    fields_check(obj, what, rules, sizeof(rules) / sizeof(rules[0]), err, errlen)

#endif
