/*
 * master/workspaces_store.c - workspace records and the storage file (see
 * workspaces_store.h).  JSON by jansson, validated with proto/json.h's
 * declarative rules.
 */
#include "workspaces_store.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "json.h"
#include "secret.h"
#include "workspaces_msg.h"

#define STORE_VERSION 1

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

/* ---- loading -------------------------------------------------------------- */

static const struct field_rule store_rules[] = {
    {"version", FIELD_INTEGER, 1, 0},
    {"workspaces", FIELD_ARRAY, 1, 0},
};
static const struct field_rule workspace_rules[] = {
    {"id", FIELD_STRING, 1, 0},
    {"name", FIELD_STRING, 1, 0},
    {"created", FIELD_INTEGER, 1, 0},
    {"active", FIELD_INTEGER, 0, 0},
    {"pin_hash", FIELD_STRING, 0, 1},
    {"attendees", FIELD_ARRAY, 1, 0},
};
static const struct field_rule attendee_rules[] = {
    {"id", FIELD_STRING, 1, 0},
    {"name", FIELD_STRING, 1, 0},
    {"owner", FIELD_BOOLEAN, 1, 0},
};

static int store_id_ok(const char *id)
{
    size_t n = strlen(id);
    return n >= 1 && n <= JWT_MAX_ID;
}

static int store_load_attendee(struct workspace *w, json_t *o, char *err, size_t errlen)
{
    if (!json_is_object(o)) {
        snprintf(err, errlen, "workspace %s: an attendee is not an object", w->id);
        return -1;
    }
    if (FIELDS_CHECK(o, "attendee", attendee_rules, err, errlen) != 0)
        return -1;
    const char *id = json_string_value(json_object_get(o, "id"));
    const char *name = json_string_value(json_object_get(o, "name"));
    if (!store_id_ok(id) || workspace_find(w, id) || strlen(name) > WORKSPACES_MAX_NAME) {
        snprintf(err, errlen, "workspace %s: bad or duplicate attendee id or name", w->id);
        return -1;
    }
    workspace_add(w, id, name, json_is_true(json_object_get(o, "owner")));
    return 0;
}

static int store_load_workspace(GHashTable *by_id, json_t *o, char *err, size_t errlen)
{
    size_t i;
    json_t *a;

    if (!json_is_object(o)) {
        snprintf(err, errlen, "a workspace is not an object");
        return -1;
    }
    if (FIELDS_CHECK(o, "workspace", workspace_rules, err, errlen) != 0)
        return -1;
    const char *id = json_string_value(json_object_get(o, "id"));
    const char *name = json_string_value(json_object_get(o, "name"));
    const char *pin = json_string_value(json_object_get(o, "pin_hash"));
    if (!store_id_ok(id) || g_hash_table_contains(by_id, id) ||
        strlen(name) > WORKSPACES_MAX_NAME) {
        snprintf(err, errlen, "workspace '%.64s': bad or duplicate id or name", id);
        return -1;
    }
    if (pin && !secret_is_password_hash(pin)) {
        snprintf(err, errlen, "workspace %s: 'pin_hash' is not a PBKDF2 hash", id);
        return -1;
    }
    struct workspace *w = workspace_new(
        id, name, pin, (int64_t)json_integer_value(json_object_get(o, "created")));
    if (json_object_get(o, "active"))
        w->active = (int64_t)json_integer_value(json_object_get(o, "active"));
    g_hash_table_insert(by_id, w->id, w);
    json_array_foreach(json_object_get(o, "attendees"), i, a) {
        if (store_load_attendee(w, a, err, errlen) != 0)
            return -1;
    }
    return 0;
}

int workspaces_store_load(const char *path, GHashTable *by_id, char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *root, *o;
    size_t i;
    char why[256];
    int rc = -1;

    if (access(path, F_OK) != 0 && errno == ENOENT)
        return 0; /* first start: nothing stored yet */
    root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        snprintf(err, errlen, "workspaces storage file %s is corrupt or unreadable: %s "
                 "(line %d); fix or remove it", path, jerr.text, jerr.line);
        return -1;
    }
    if (!json_is_object(root) ||
        FIELDS_CHECK(root, "storage file", store_rules, why, sizeof(why)) != 0) {
        snprintf(why, sizeof(why), "not a workspaces storage file");
        goto error;
    }
    if (json_integer_value(json_object_get(root, "version")) != STORE_VERSION) {
        snprintf(why, sizeof(why), "unknown version");
        goto error;
    }
    json_array_foreach(json_object_get(root, "workspaces"), i, o) {
        if (store_load_workspace(by_id, o, why, sizeof(why)) != 0)
            goto error;
    }
    rc = 0;
error:
    if (rc != 0)
        snprintf(err, errlen, "workspaces storage file %s is corrupt: %s; fix or remove it",
                 path, why);
    json_decref(root);
    return rc;
}

/* ---- saving --------------------------------------------------------------- */

static json_t *store_workspace_json(const struct workspace *w)
{
    json_t *list = json_array();
    for (guint i = 0; i < w->attendees->len; i++) {
        struct attendee *a = g_ptr_array_index(w->attendees, i);
        json_array_append_new(list, json_pack("{s:s, s:s, s:b}", "id", a->id, "name", a->name,
                                              "owner", a->owner));
    }
    json_t *o = json_pack("{s:s, s:s, s:I, s:I, s:o}", "id", w->id, "name", w->name, "created",
                          (json_int_t)w->created, "active", (json_int_t)w->active, "attendees",
                          list);
    if (o && w->pin_hash)
        json_object_set_new(o, "pin_hash", json_string(w->pin_hash));
    return o;
}

int workspaces_store_save(const char *path, GHashTable *by_id, char *err, size_t errlen)
{
    GHashTableIter it;
    gpointer value;
    json_t *list = json_array();
    char *text = NULL, *line = NULL;
    GError *gerr = NULL;
    int rc = -1;

    g_hash_table_iter_init(&it, by_id);
    while (g_hash_table_iter_next(&it, NULL, &value))
        json_array_append_new(list, store_workspace_json(value));
    text = proto_json_dump(json_pack("{s:i, s:o}", "version", STORE_VERSION, "workspaces", list));
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
    g_clear_error(&gerr);
    g_free(line);
    free(text);
    return rc;
}
