/*
 * master/workspaces_store.c - workspace records and the storage file (see
 * workspaces_store.h); the file's format is proto/workspaces_file.c's.
 */
#include "workspaces_store.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "workspaces_file.h"

struct workspace *workspace_new(const char *id, const char *name, const char *pin_hash,
                                int64_t created)
{
    struct workspace *w = g_new0(struct workspace, 1);
    g_strlcpy(w->id, id, sizeof(w->id));
    w->name = g_strdup(name);
    w->pin_hash = g_strdup(pin_hash);
    w->created = created;
    w->active = created;
    w->attendees = g_ptr_array_new();
    return w;
}

void workspace_free(gpointer data)
{
    struct workspace *w = data;
    for (guint i = 0; i < w->attendees->len; i++) {
        struct attendee *a = g_ptr_array_index(w->attendees, i);
        g_free(a->name);
        g_free(a);
    }
    g_ptr_array_free(w->attendees, TRUE);
    g_free(w->name);
    g_free(w->pin_hash);
    g_free(w);
}

struct attendee *workspace_add(struct workspace *w, const char *id, const char *name, int owner)
{
    struct attendee *a = g_new0(struct attendee, 1);
    g_strlcpy(a->id, id, sizeof(a->id));
    a->name = g_strdup(name);
    a->owner = owner;
    g_ptr_array_add(w->attendees, a);
    return a;
}

struct attendee *workspace_find(const struct workspace *w, const char *id)
{
    for (guint i = 0; i < w->attendees->len; i++) {
        struct attendee *a = g_ptr_array_index(w->attendees, i);
        if (strcmp(a->id, id) == 0)
            return a;
    }
    return NULL;
}

/* ---- loading and saving: the format is proto/workspaces_file.h's ------- */

int workspaces_store_load(const char *path, GHashTable *by_id, char *err, size_t errlen)
{
    struct workspaces_file f;
    char *text = NULL;
    gsize n = 0;
    GError *gerr = NULL;
    char why[256];
    int rc;

    if (access(path, F_OK) != 0 && errno == ENOENT)
        return 0; /* first start: nothing stored yet */
    if (!g_file_get_contents(path, &text, &n, &gerr)) {
        snprintf(err, errlen, "workspaces storage file %s is corrupt or unreadable: %s; "
                 "fix or remove it", path, gerr->message);
        g_error_free(gerr);
        return -1;
    }
    rc = workspaces_file_decode(text, n, &f, why, sizeof(why));
    g_free(text);
    if (rc == -1)
        snprintf(err, errlen, "workspaces storage file %s is corrupt or unreadable: %s; "
                 "fix or remove it", path, why);
    else if (rc != 0)
        snprintf(err, errlen, "workspaces storage file %s is corrupt: %s; fix or remove it",
                 path, why);
    for (size_t i = 0; rc == 0 && i < f.n; i++) {
        const struct workspaces_file_entry *e = &f.workspaces[i];
        struct workspace *w = workspace_new(e->id, e->name, e->pin_hash, e->created);
        w->active = e->active;
        for (size_t j = 0; j < e->n_attendees; j++)
            workspace_add(w, e->attendees[j].id, e->attendees[j].name, e->attendees[j].owner);
        g_hash_table_insert(by_id, w->id, w);
    }
    workspaces_file_clear(&f);
    return rc == 0 ? 0 : -1;
}

int workspaces_store_save(const char *path, GHashTable *by_id, char *err, size_t errlen)
{
    GHashTableIter it;
    gpointer value;
    guint n = g_hash_table_size(by_id), i = 0;
    struct workspaces_file_entry *ws = g_new0(struct workspaces_file_entry, n + 1);
    char *text = NULL, *line = NULL;
    GError *gerr = NULL;
    int rc = -1;

    g_hash_table_iter_init(&it, by_id);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        const struct workspace *w = value;
        struct workspaces_file_entry *e = &ws[i++];
        *e = (struct workspaces_file_entry){w->id, w->name, w->pin_hash, w->created, w->active,
                                            g_new0(struct workspaces_file_attendee,
                                                   w->attendees->len + 1),
                                            w->attendees->len};
        for (guint j = 0; j < w->attendees->len; j++) {
            const struct attendee *a = g_ptr_array_index(w->attendees, j);
            e->attendees[j] = (struct workspaces_file_attendee){a->id, a->name, a->owner};
        }
    }
    text = workspaces_file_encode(ws, n);
    if (!text) {
        snprintf(err, errlen, "cannot encode the workspaces");
        goto error;
    }
    /* a temporary file, fsynced, renamed over path, and the directory fsynced */
    line = g_strconcat(text, "\n", NULL);
    if (!g_file_set_contents_full(path, line, -1,
                                  G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE,
                                  0600, &gerr)) {
        snprintf(err, errlen, "cannot write %s: %s", path, gerr->message);
        goto error;
    }
    rc = 0;
error:
    for (i = 0; i < n; i++)
        g_free(ws[i].attendees);
    g_free(ws);
    g_clear_error(&gerr);
    g_free(line);
    free(text);
    return rc;
}
