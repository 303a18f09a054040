/*
 * tests/fuzz/fuzz_control.c - libFuzzer target for the control-socket
 * protocol (proto/control.c).
 *
 * The input is one request line, and also a response line.  Beyond "no
 * crash, no leak, no UB", it checks what master/control.c relies on: a
 * rejected request has a reason and the error response built from it parses
 * back as ok:false with that reason; an accepted request has a command, and
 * re-encoding it parses back the same.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"
#include "fuzz_common.h"

static void fuzz_request(const char *data, size_t size)
{
    struct control_request req;
    json_t *root = NULL, *root2 = NULL, *rdata = NULL;
    const char *error = NULL;
    char err[512] = "", err2[512];
    int ok = -1;

    if (control_request_parse(data, size, &req, &root, err, sizeof(err)) != 0) {
        FUZZ_CHECK(err[0] != '\0' && root == NULL);
        char *line = control_response_error("%s", err);
        FUZZ_CHECK(line != NULL);
        FUZZ_CHECK(control_response_parse(line, strlen(line), &ok, &rdata, &error, &root2, err2,
                                          sizeof(err2)) == 0);
        FUZZ_CHECK(ok == 0 && strcmp(error, err) == 0);
        json_decref(root2);
        free(line);
        return;
    }
    FUZZ_CHECK(req.command != NULL);
    char *again = control_request_encode(req.command, req.arg);
    FUZZ_CHECK(again != NULL);
    struct control_request req2;
    FUZZ_CHECK(control_request_parse(again, strlen(again), &req2, &root2, err2, sizeof(err2)) ==
               0);
    FUZZ_CHECK(strcmp(req.command, req2.command) == 0);
    FUZZ_CHECK((req.arg == NULL) == (req2.arg == NULL));
    FUZZ_CHECK(!req.arg || strcmp(req.arg, req2.arg) == 0);
    json_decref(root2);
    free(again);
    json_decref(root);
}

static void fuzz_response(const char *data, size_t size)
{
    json_t *root = NULL, *rdata = NULL;
    const char *error = NULL;
    char err[512] = "";
    int ok = -1;

    if (control_response_parse(data, size, &ok, &rdata, &error, &root, err, sizeof(err)) != 0) {
        FUZZ_CHECK(err[0] != '\0' && root == NULL);
        return;
    }
    FUZZ_CHECK(ok ? json_is_object(rdata) : error != NULL);
    json_decref(root);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_request((const char *)data, size);
    fuzz_response((const char *)data, size);
    return 0;
}
