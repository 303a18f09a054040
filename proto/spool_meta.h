/*
 * proto/spool_meta.h - the sidecar that describes a recording waiting in the
 * spool for its upload (docs/s3.md, "The spool").
 *
 * SPOOL/<name> is a finished recording (e.g. "3f9c...e1.webm") that S3 has
 * not confirmed yet; SPOOL/<name>.upload, this JSON object, says what it is
 * and how its upload went:
 *   {"key":"3f9c...e1.webm","bytes":123,"sha256":"<hex>","attempts":2,
 *    "last_error":"S3 unreachable: ...","updated":1700000000}
 * Whoever tried the upload last writes it (the recording worker, then the
 * master's upload runs); the master reads it at start-up.  "sha256" is
 * absent until some upload attempt has hashed the file.
 */
#ifndef WV_PROTO_SPOOL_META_H
#define WV_PROTO_SPOOL_META_H

#include <jansson.h>
#include <stddef.h>

#define SPOOL_META_SUFFIX ".upload"

struct spool_meta {
    const char *key;
    long long bytes;
    const char *sha256;     /* NULL: not known */
    long long attempts;
    const char *last_error; /* "" if none */
    long long updated;      /* Unix seconds */
};

int spool_meta_decode(const char *text, size_t n, struct spool_meta *m, json_t **root, char *err,
                      size_t errlen);
char *spool_meta_encode(const struct spool_meta *m);

#endif
