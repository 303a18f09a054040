/*
 * proto/json.c - see json.h.
 */
#include "json.h"

char *proto_json_dump(json_t *o)
{
    if (!o)
        return NULL;
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    return s;
}
