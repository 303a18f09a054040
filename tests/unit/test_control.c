/*
 * tests/unit/test_control.c - the control-socket protocol (proto/control.c):
 * requests valid and invalid, responses built and parsed back.
 */
#include <glib.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"

static int parse(const char *text, struct control_request *req, json_t **root, char *err,
                 size_t errlen)
{
    size_t len = strlen(text);
    char *copy = g_malloc(len ? len : 1); /* no NUL: ASan sees overreads */
    memcpy(copy, text, len);
    int r = control_request_parse(copy, len, req, root, err, errlen);
    g_free(copy);
    return r;
}

static void test_request_ok(void)
{
    struct control_request req;
    json_t *root = NULL;
    char err[256];

    g_assert_cmpint(parse("{\"command\":\"status\"}", &req, &root, err, sizeof(err)), ==, 0);
    g_assert_cmpstr(req.command, ==, "status");
    g_assert_null(req.arg);
    json_decref(root);
    g_assert_cmpint(parse("{\"command\":\"drain\",\"arg\":\"on\",\"x\":1}", &req, &root, err,
                          sizeof(err)),
                    ==, 0);
    g_assert_cmpstr(req.arg, ==, "on");
    json_decref(root);
}

static void request_fails(const char *text, const char *want)
{
    struct control_request req;
    json_t *root = NULL;
    char err[256] = "";
    g_assert_cmpint(parse(text, &req, &root, err, sizeof(err)), ==, -1);
    g_assert_null(root);
    if (!strstr(err, want))
        g_error("'%s': error '%s' lacks '%s'", text, err, want);
}

static void test_request_bad(void)
{
    request_fails("", "malformed JSON");
    request_fails("nope", "malformed JSON");
    request_fails("[]", "JSON object");
    request_fails("{}", "'command'");
    request_fails("{\"command\":7}", "'command' must be a string");
    request_fails("{\"command\":\"kill\",\"arg\":7}", "'arg'");
    char *big = g_strnfill(CONTROL_MAX_REQUEST + 1, 'x');
    request_fails(big, "longer");
    g_free(big);
}

static void test_response_roundtrip(void)
{
    int ok = -1;
    json_t *data = NULL, *root = NULL;
    const char *error = NULL;
    char err[256];

    char *line = control_response_ok(json_pack("{s:i}", "sessions", 3));
    g_assert_cmpint(control_response_parse(line, strlen(line), &ok, &data, &error, &root, err,
                                           sizeof(err)),
                    ==, 0);
    g_assert_cmpint(ok, ==, 1);
    g_assert_cmpint(json_integer_value(json_object_get(data, "sessions")), ==, 3);
    json_decref(root);
    free(line);

    line = control_response_error("no session %d", 42);
    g_assert_cmpint(control_response_parse(line, strlen(line), &ok, &data, &error, &root, err,
                                           sizeof(err)),
                    ==, 0);
    g_assert_cmpint(ok, ==, 0);
    g_assert_cmpstr(error, ==, "no session 42");
    json_decref(root);
    free(line);

    g_assert_cmpint(control_response_parse("{\"ok\":true}", 11, &ok, &data, &error, &root, err,
                                           sizeof(err)),
                    ==, -1);
    g_assert_null(root);

    line = control_request_encode("kill", "5");
    g_assert_cmpstr(line, ==, "{\"command\":\"kill\",\"arg\":\"5\"}");
    free(line);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/control/request/ok", test_request_ok);
    g_test_add_func("/control/request/bad", test_request_bad);
    g_test_add_func("/control/response/roundtrip", test_response_roundtrip);
    return g_test_run();
}
