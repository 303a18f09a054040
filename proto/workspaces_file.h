/*
 * proto/workspaces_file.h - the workspaces storage file ([workspaces]
 * storage-file), parsed and built here; master/workspaces_store.c keeps the
 * records, the save timing and the atomic write.
 *
 *   {"version":1,"workspaces":[{"id":"Ab3dE6gH9k","name":"Team","created":1700000000,
 *     "active":1700003600,
 *     "pin_hash":"pbkdf2:sha256:50000$...$...",
 *     "attendees":[{"id":"0123456789abcdef","name":"Ann","owner":true}, ...]}]}
 *
 * Metadata only: ids, names, the salted PIN hash (common/secret.h), which
 * attendee is the owner.  Decoding validates everything: ids of 1 to
 * JWT_MAX_ID bytes, unique (workspaces in the file, attendees in their
 * workspace), names of at most WORKSPACES_MAX_NAME bytes, "pin_hash" absent,
 * null or a PBKDF2 hash; "active" defaults to "created".
 */
#ifndef WV_PROTO_WORKSPACES_FILE_H
#define WV_PROTO_WORKSPACES_FILE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define WORKSPACES_FILE_VERSION 1

struct workspaces_file_attendee {
    const char *id;
    const char *name;
    int owner;
};

struct workspaces_file_entry {
    const char *id;
    const char *name;
    const char *pin_hash; /* NULL: no PIN */
    int64_t created;
    int64_t active;
    struct workspaces_file_attendee *attendees;
    size_t n_attendees;
};

/* A decoded file; its strings point into root. */
struct workspaces_file {
    json_t *root;
    struct workspaces_file_entry *workspaces;
    size_t n;
};

/*
 * 0; -1 if TEXT is not JSON ("TEXT (line L)" in err); -2 if it is JSON but
 * not a valid storage file (the reason in err, e.g. "unknown version").
 * Free f with workspaces_file_clear whatever the result.
 */
int workspaces_file_decode(const char *text, size_t n, struct workspaces_file *f, char *err,
                           size_t errlen);
void workspaces_file_clear(struct workspaces_file *f);

/* The file's text (no trailing newline; free() it), or NULL. */
char *workspaces_file_encode(const struct workspaces_file_entry *ws, size_t n);

#endif
