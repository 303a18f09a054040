/*
 * proto/json.h - helpers shared by proto/'s JSON encoders.
 */
#ifndef WV_PROTO_JSON_H
#define WV_PROTO_JSON_H

#include <jansson.h>

/* Compact JSON text of `o` (malloc'd; free()), releasing `o`.  NULL in,
 * NULL out, so that a failed json_pack() falls through to the caller. */
char *proto_json_dump(json_t *o);

#endif
