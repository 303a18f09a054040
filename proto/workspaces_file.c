/*
 * proto/workspaces_file.c - the workspaces storage file (see
 * workspaces_file.h).  JSON by jansson, validated with json.h's declarative
 * rules.
 */
#include "workspaces_file.h"

#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "jwt.h"
#include "secret.h"
#include "workspaces_msg.h"

static const struct field_rule file_rules[] = {
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

static int id_ok(const char *id)
{
    size_t n = strlen(id);
    return n >= 1 && n <= JWT_MAX_ID;
}

static int decode_attendee(struct workspaces_file_entry *w, json_t *o, char *err, size_t errlen)
{
    if (!json_is_object(o)) {
        snprintf(err, errlen, "workspace %s: an attendee is not an object", w->id);
        return -1;
    }
    if (FIELDS_CHECK(o, "attendee", attendee_rules, err, errlen) != 0)
        return -1;
    const char *id = json_string_value(json_object_get(o, "id"));
    const char *name = json_string_value(json_object_get(o, "name"));
    int dup = 0;
    for (size_t i = 0; i < w->n_attendees; i++)
        dup |= strcmp(w->attendees[i].id, id) == 0;
    if (!id_ok(id) || dup || strlen(name) > WORKSPACES_MAX_NAME) {
        snprintf(err, errlen, "workspace %s: bad or duplicate attendee id or name", w->id);
        return -1;
    }
    w->attendees[w->n_attendees++] = (struct workspaces_file_attendee){
        id, name, json_is_true(json_object_get(o, "owner"))};
    return 0;
}

static int decode_workspace(struct workspaces_file *f, GHashTable *seen, json_t *o, char *err,
                            size_t errlen)
{
    size_t i;
    json_t *a, *list;

    if (!json_is_object(o)) {
        snprintf(err, errlen, "a workspace is not an object");
        return -1;
    }
    if (FIELDS_CHECK(o, "workspace", workspace_rules, err, errlen) != 0)
        return -1;
    const char *id = json_string_value(json_object_get(o, "id"));
    const char *name = json_string_value(json_object_get(o, "name"));
    const char *pin = json_string_value(json_object_get(o, "pin_hash"));
    if (!id_ok(id) || g_hash_table_contains(seen, id) || strlen(name) > WORKSPACES_MAX_NAME) {
        snprintf(err, errlen, "workspace '%.64s': bad or duplicate id or name", id);
        return -1;
    }
    if (pin && !secret_is_password_hash(pin)) {
        snprintf(err, errlen, "workspace %s: 'pin_hash' is not a PBKDF2 hash", id);
        return -1;
    }
    g_hash_table_add(seen, (gpointer)id);
    struct workspaces_file_entry *w = &f->workspaces[f->n++];
    list = json_object_get(o, "attendees");
    w->id = id;
    w->name = name;
    w->pin_hash = pin;
    w->created = (int64_t)json_integer_value(json_object_get(o, "created"));
    w->active = json_object_get(o, "active")
                    ? (int64_t)json_integer_value(json_object_get(o, "active"))
                    : w->created;
    w->attendees = g_new0(struct workspaces_file_attendee, json_array_size(list) + 1);
    json_array_foreach(list, i, a) {
        if (decode_attendee(w, a, err, errlen) != 0)
            return -1;
    }
    return 0;
}

int workspaces_file_decode(const char *text, size_t n, struct workspaces_file *f, char *err,
                           size_t errlen)
{
    json_error_t jerr;
    json_t *root, *o, *list;
    size_t i;
    int rc = -2;

    memset(f, 0, sizeof(*f));
    root = json_loadb(text, n, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        snprintf(err, errlen, "%s (line %d)", jerr.text, jerr.line);
        return -1;
    }
    f->root = root;
    if (!json_is_object(root) || FIELDS_CHECK(root, "storage file", file_rules, err, errlen) != 0) {
        snprintf(err, errlen, "not a workspaces storage file");
        return -2;
    }
    if (json_integer_value(json_object_get(root, "version")) != WORKSPACES_FILE_VERSION) {
        snprintf(err, errlen, "unknown version");
        return -2;
    }
    list = json_object_get(root, "workspaces");
    f->workspaces = g_new0(struct workspaces_file_entry, json_array_size(list) + 1);
    GHashTable *seen = g_hash_table_new(g_str_hash, g_str_equal);
    json_array_foreach(list, i, o) {
        if (decode_workspace(f, seen, o, err, errlen) != 0)
            goto out;
    }
    rc = 0;
out:
    g_hash_table_destroy(seen);
    return rc;
}

void workspaces_file_clear(struct workspaces_file *f)
{
    for (size_t i = 0; i < f->n; i++)
        g_free(f->workspaces[i].attendees);
    g_free(f->workspaces);
    json_decref(f->root);
    memset(f, 0, sizeof(*f));
}

char *workspaces_file_encode(const struct workspaces_file_entry *ws, size_t n)
{
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++) {
        const struct workspaces_file_entry *w = &ws[i];
        json_t *people = json_array();
        for (size_t j = 0; j < w->n_attendees; j++) {
            const struct workspaces_file_attendee *a = &w->attendees[j];
            json_array_append_new(people, json_pack("{s:s, s:s, s:b}", "id", a->id, "name",
                                                    a->name, "owner", a->owner));
        }
        json_t *o = json_pack("{s:s, s:s, s:I, s:I, s:o}", "id", w->id, "name", w->name,
                              "created", (json_int_t)w->created, "active",
                              (json_int_t)w->active, "attendees", people);
        if (o && w->pin_hash)
            json_object_set_new(o, "pin_hash", json_string(w->pin_hash));
        json_array_append_new(list, o);
    }
    return proto_json_dump(
        json_pack("{s:i, s:o}", "version", WORKSPACES_FILE_VERSION, "workspaces", list));
}
