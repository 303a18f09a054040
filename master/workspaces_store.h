/*
 * master/workspaces_store.h - the workspaces' records and their optional
 * storage file ([workspaces] storage-file).
 *
 * What is stored is metadata only: ids, names, the salted PIN hash
 * (common/secret.h), which attendee is the owner.  Never a token, never the
 * token secret, never a PIN in clear; connections and calls are not stored
 * (after a restart everyone re-attends with the token they hold).
 *
 * The file's format, and its validation, is proto/workspaces_file.h's; here
 * are the records it is read into and written from.
 *
 * Saving writes a temporary file, fsyncs it, renames it over PATH and fsyncs
 * the directory (g_file_set_contents_full), so a crash leaves the old file or
 * the new one, never half of one.  Loading validates everything; a file that does not parse or breaks
 * a rule is an error naming the file and the problem, never silently
 * dropped (the server then refuses to start).
 */
#ifndef WV_MASTER_WORKSPACES_STORE_H
#define WV_MASTER_WORKSPACES_STORE_H

#include <glib.h>
#include <stddef.h>
#include <stdint.h>

#include "jwt.h"

struct wsconn;

struct attendee {
    char id[JWT_MAX_ID + 1];
    char *name;
    int owner;
    int in_call;          /* answered the owner's ring, not hung up */
    struct wsconn *conn;  /* NULL: not connected (dropped; may re-attend) */
};

struct workspace {
    char id[JWT_MAX_ID + 1];
    char *name;
    char *pin_hash;       /* NULL: no PIN */
    int64_t created;
    int64_t active;       /* when a token was last issued for it (Unix s) */
    GPtrArray *attendees; /* struct attendee, owned */
    double pin_tokens;    /* wrong-PIN budget (token bucket) */
    double pin_last;
};

struct workspace *workspace_new(const char *id, const char *name, const char *pin_hash,
                                int64_t created);
void workspace_free(gpointer w);
struct attendee *workspace_add(struct workspace *w, const char *id, const char *name, int owner);
struct attendee *workspace_find(const struct workspace *w, const char *id);

/* id -> struct workspace (owned): 0, or -1 with the reason in err. */
int workspaces_store_load(const char *path, GHashTable *by_id, char *err, size_t errlen);
int workspaces_store_save(const char *path, GHashTable *by_id, char *err, size_t errlen);

#endif
