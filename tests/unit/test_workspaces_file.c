/*
 * tests/unit/test_workspaces_file.c - the workspaces storage file
 * (proto/workspaces_file.c): a good file, every file the loader refuses
 * and why, and encode -> decode -> encode giving the same bytes.
 */
#include <glib.h>
#include <stdlib.h>
#include <string.h>

#include "secret.h"
#include "workspaces_file.h"

#define GOOD                                                                                   \
    "{\"version\":1,\"workspaces\":[{\"id\":\"Ab3dE6gH9k\",\"name\":\"Team\","                \
    "\"created\":1700000000,\"active\":1700003600,\"attendees\":["                           \
    "{\"id\":\"0123456789abcdef\",\"name\":\"Ann\",\"owner\":true},"                         \
    "{\"id\":\"fedcba9876543210\",\"name\":\"Bob\",\"owner\":false}]},"                      \
    "{\"id\":\"Zz\",\"name\":\"Other\",\"created\":5,\"pin_hash\":null,\"attendees\":[]}]}"

static void decode_fails(const char *text, int want_rc, const char *want)
{
    struct workspaces_file f;
    char err[256] = "";
    int rc = workspaces_file_decode(text, strlen(text), &f, err, sizeof(err));
    workspaces_file_clear(&f);
    if (rc != want_rc || !strstr(err, want))
        g_error("%s: rc %d err '%s', want %d '%s'", text, rc, err, want_rc, want);
}

static void test_good(void)
{
    struct workspaces_file f;
    char err[256] = "";
    g_assert_cmpint(workspaces_file_decode(GOOD, strlen(GOOD), &f, err, sizeof(err)), ==, 0);
    g_assert_cmpuint(f.n, ==, 2);
    const struct workspaces_file_entry *w = &f.workspaces[0];
    g_assert_cmpstr(w->id, ==, "Ab3dE6gH9k");
    g_assert_cmpstr(w->name, ==, "Team");
    g_assert_null(w->pin_hash);
    g_assert_cmpint(w->created, ==, 1700000000);
    g_assert_cmpint(w->active, ==, 1700003600);
    g_assert_cmpuint(w->n_attendees, ==, 2);
    g_assert_cmpstr(w->attendees[0].id, ==, "0123456789abcdef");
    g_assert_cmpstr(w->attendees[0].name, ==, "Ann");
    g_assert_true(w->attendees[0].owner);
    g_assert_cmpstr(w->attendees[1].name, ==, "Bob");
    g_assert_false(w->attendees[1].owner);
    w = &f.workspaces[1];
    g_assert_cmpint(w->active, ==, 5); /* "active" absent: "created" */
    g_assert_null(w->pin_hash);       /* null: no PIN */
    g_assert_cmpuint(w->n_attendees, ==, 0);
    workspaces_file_clear(&f);
}

static void test_refused(void)
{
    char *pin = secret_hash_password("1234", 1000);
    char *text;

    decode_fails("{\"version\":1,\"workspaces\":[{\"id\":", -1, "(line 1)");
    decode_fails("", -1, "(line 1)");
    decode_fails("{\"version\":1,\"version\":1,\"workspaces\":[]}", -1, "duplicate");
    decode_fails("[]", -2, "not a workspaces storage file");
    decode_fails("{\"version\":1}", -2, "not a workspaces storage file");
    decode_fails("{\"version\":\"1\",\"workspaces\":[]}", -2, "not a workspaces storage file");
    decode_fails("{\"version\":1,\"workspaces\":{}}", -2, "not a workspaces storage file");
    decode_fails("{\"version\":2,\"workspaces\":[]}", -2, "unknown version");
    decode_fails("{\"version\":1,\"workspaces\":[1]}", -2, "a workspace is not an object");
    decode_fails("{\"version\":1,\"workspaces\":[{\"id\":\"a\",\"name\":\"n\",\"attendees\":[]}]}",
                 -2, "workspace: missing 'created'");
    decode_fails("{\"version\":1,\"workspaces\":[{\"id\":\"a\",\"name\":\"n\",\"created\":1,"
                 "\"active\":\"x\",\"attendees\":[]}]}",
                 -2, "workspace: 'active'");
    decode_fails("{\"version\":1,\"workspaces\":[{\"id\":\"\",\"name\":\"n\",\"created\":1,"
                 "\"attendees\":[]}]}",
                 -2, "workspace '': bad or duplicate id or name");
    decode_fails("{\"version\":1,\"workspaces\":[{\"id\":\"a\",\"name\":\"n\",\"created\":1,"
                 "\"attendees\":[]},{\"id\":\"a\",\"name\":\"m\",\"created\":1,\"attendees\":[]}]}",
                 -2, "workspace 'a': bad or duplicate id or name");
    text = g_strdup_printf("{\"version\":1,\"workspaces\":[{\"id\":\"a\",\"name\":\"%0300d\","
                           "\"created\":1,\"attendees\":[]}]}", 0);
    decode_fails(text, -2, "workspace 'a': bad or duplicate id or name");
    g_free(text);
    decode_fails("{\"version\":1,\"workspaces\":[{\"id\":\"a\",\"name\":\"n\",\"created\":1,"
                 "\"pin_hash\":\"1234\",\"attendees\":[]}]}",
                 -2, "workspace a: 'pin_hash' is not a PBKDF2 hash");
    decode_fails("{\"version\":1,\"workspaces\":[{\"id\":\"a\",\"name\":\"n\",\"created\":1,"
                 "\"attendees\":[\"x\"]}]}",
                 -2, "workspace a: an attendee is not an object");
    decode_fails("{\"version\":1,\"workspaces\":[{\"id\":\"a\",\"name\":\"n\",\"created\":1,"
                 "\"attendees\":[{\"id\":\"p\",\"name\":\"P\"}]}]}",
                 -2, "attendee: missing 'owner'");
    decode_fails("{\"version\":1,\"workspaces\":[{\"id\":\"a\",\"name\":\"n\",\"created\":1,"
                 "\"attendees\":[{\"id\":\"p\",\"name\":\"P\",\"owner\":true},"
                 "{\"id\":\"p\",\"name\":\"Q\",\"owner\":false}]}]}",
                 -2, "workspace a: bad or duplicate attendee id or name");
    decode_fails("{\"version\":1,\"workspaces\":[{\"id\":\"a\",\"name\":\"n\",\"created\":1,"
                 "\"attendees\":[{\"id\":\"0123456789abcdef0123456789abcdef0123456789abcdef0123"
                 "456789abcdef0\",\"name\":\"P\",\"owner\":true}]}]}",
                 -2, "workspace a: bad or duplicate attendee id or name");
    /* a real hash is accepted */
    text = g_strdup_printf("{\"version\":1,\"workspaces\":[{\"id\":\"a\",\"name\":\"n\","
                           "\"created\":1,\"pin_hash\":\"%s\",\"attendees\":[]}]}", pin);
    struct workspaces_file f;
    char err[256];
    g_assert_cmpint(workspaces_file_decode(text, strlen(text), &f, err, sizeof(err)), ==, 0);
    g_assert_cmpstr(f.workspaces[0].pin_hash, ==, pin);
    workspaces_file_clear(&f);
    g_free(text);
    free(pin);
}

static void test_roundtrip(void)
{
    char *pin = secret_hash_password("1234", 1000);
    struct workspaces_file_attendee people[] = {{"0123456789abcdef", "Ann", 1},
                                                {"fedcba9876543210", "B\"ob\xc3\xa9", 0}};
    struct workspaces_file_entry ws[] = {
        {"Ab3dE6gH9k", "Team", pin, 1700000000, 1700003600, people, 2},
        {"Zz", "Other", NULL, 5, 6, NULL, 0},
    };
    char *text = workspaces_file_encode(ws, 2);
    g_assert_nonnull(text);
    /* the bytes written today: key order as built, pin_hash last, compact */
    char *want = g_strdup_printf(
        "{\"version\":1,\"workspaces\":[{\"id\":\"Ab3dE6gH9k\",\"name\":\"Team\","
        "\"created\":1700000000,\"active\":1700003600,\"attendees\":["
        "{\"id\":\"0123456789abcdef\",\"name\":\"Ann\",\"owner\":true},"
        "{\"id\":\"fedcba9876543210\",\"name\":\"B\\\"ob\xc3\xa9\",\"owner\":false}],"
        "\"pin_hash\":\"%s\"},"
        "{\"id\":\"Zz\",\"name\":\"Other\",\"created\":5,\"active\":6,\"attendees\":[]}]}",
        pin);
    g_assert_cmpstr(text, ==, want);

    struct workspaces_file f;
    char err[256] = "";
    g_assert_cmpint(workspaces_file_decode(text, strlen(text), &f, err, sizeof(err)), ==, 0);
    g_assert_cmpuint(f.n, ==, 2);
    char *again = workspaces_file_encode(f.workspaces, f.n);
    g_assert_cmpstr(again, ==, text);
    workspaces_file_clear(&f);

    char *empty = workspaces_file_encode(NULL, 0);
    g_assert_cmpstr(empty, ==, "{\"version\":1,\"workspaces\":[]}");
    free(empty);
    free(again);
    g_free(want);
    free(text);
    free(pin);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/workspaces-file/good", test_good);
    g_test_add_func("/workspaces-file/refused", test_refused);
    g_test_add_func("/workspaces-file/roundtrip", test_roundtrip);
    return g_test_run();
}
