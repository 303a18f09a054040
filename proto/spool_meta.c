/*
 * proto/spool_meta.c - the spool's upload sidecar (see spool_meta.h).
 */
#include "spool_meta.h"

#include <stdio.h>
#include <string.h>

#include "json.h"

int spool_meta_decode(const char *text, size_t n, struct spool_meta *m, json_t **root, char *err,
                      size_t errlen)
{
    json_error_t jerr;
    memset(m, 0, sizeof(*m));
    memset(&jerr, 0, sizeof(jerr));
    *root = proto_json_load_object(text, n, "upload sidecar", err, errlen);
    if (!*root)
        return -1;
    if (json_unpack_ex(*root, &jerr, 0, "{s:s, s:I, s?s, s:I, s:s, s:I}", "key", &m->key, "bytes",
                       &m->bytes, "sha256", &m->sha256, "attempts", &m->attempts, "last_error",
                       &m->last_error, "updated", &m->updated) != 0 ||
        m->bytes < 0 || m->attempts < 0 || !m->key[0] || strchr(m->key, '/') ||
        m->key[0] == '.') {
        snprintf(err, errlen, "upload sidecar: %s", jerr.text[0] ? jerr.text : "bad values");
        json_decref(*root);
        *root = NULL;
        return -1;
    }
    return 0;
}

char *spool_meta_encode(const struct spool_meta *m)
{
    json_t *o = json_pack("{s:s, s:I, s:I, s:s, s:I}", "key", m->key, "bytes",
                          (json_int_t)m->bytes, "attempts", (json_int_t)m->attempts, "last_error",
                          m->last_error ? m->last_error : "", "updated", (json_int_t)m->updated);
    if (o && m->sha256)
        json_object_set_new(o, "sha256", json_string(m->sha256));
    return proto_json_dump(o);
}
