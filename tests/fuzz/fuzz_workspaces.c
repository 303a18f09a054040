/*
 * tests/fuzz/fuzz_workspaces.c - libFuzzer target for the workspaces wire
 * formats (seed 004): the event envelope (proto/workspaces_msg.c) and the
 * HS256 tokens (proto/jwt.c).
 *
 * The input is one websocket text message.  It is parsed as an event, and
 * it (and the event's token, if any) is verified as a token.  Beyond "no
 * crash, no leak, no UB" it checks what the service relies on:
 *   - a rejected event has a reason, owns nothing, and its alert can be built;
 *   - an accepted event has data (an object), a token unless it is create,
 *     and bounded names, PIN and addressee; what its addressee would receive
 *     (workspaces_msg_forward) parses back as the same event once a token is
 *     put in;
 *   - no token verifies under a key it was not signed with, except one the
 *     target signs itself: fuzzed claims re-signed with FUZZ_KEY verify and
 *     read back the same.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "jwt.h"
#include "workspaces_msg.h"

#define FUZZ_KEY "fuzzing key, not a secret anywhere"

static void fuzz_token(const char *token)
{
    struct jwt_claims c, back;
    char err[256] = "";

    if (jwt_verify(token, FUZZ_KEY, strlen(FUZZ_KEY), 1700000000, &c, err, sizeof(err)) != 0) {
        FUZZ_CHECK(err[0] != '\0' && c.workspace[0] == '\0');
        return;
    }
    /* only a token signed with FUZZ_KEY can get here: re-sign and compare */
    char *again = jwt_sign(&c, FUZZ_KEY, strlen(FUZZ_KEY));
    FUZZ_CHECK(again != NULL);
    FUZZ_CHECK(jwt_verify(again, FUZZ_KEY, strlen(FUZZ_KEY), 1700000000, &back, err,
                          sizeof(err)) == 0);
    FUZZ_CHECK(memcmp(&c, &back, sizeof(c)) == 0);
    free(again);
}

static void fuzz_event(const char *data, size_t size)
{
    struct workspaces_msg m, back;
    char err[512] = "";

    if (workspaces_msg_parse(data, size, &m, err, sizeof(err)) != 0) {
        FUZZ_CHECK(err[0] != '\0' && m.root == NULL);
        char *a = workspaces_msg_alert(NULL, "%s", err);
        FUZZ_CHECK(a != NULL);
        free(a);
        return;
    }
    FUZZ_CHECK(json_is_object(m.data));
    FUZZ_CHECK(m.event == WSE_CREATE || m.token != NULL);
    FUZZ_CHECK(!m.name || strlen(m.name) <= WORKSPACES_MAX_NAME);
    FUZZ_CHECK(!m.pin || (strlen(m.pin) >= WORKSPACES_MIN_PIN &&
                          strlen(m.pin) <= WORKSPACES_MAX_PIN));
    FUZZ_CHECK(!m.to || (strlen(m.to) >= 1 && strlen(m.to) <= WORKSPACES_MAX_ID));
    if (m.token)
        fuzz_token(m.token);
    char *fw = workspaces_msg_forward(&m, "from");
    FUZZ_CHECK(fw != NULL);
    json_t *o = json_loads(fw, 0, NULL);
    FUZZ_CHECK(o != NULL);
    json_object_set_new(o, "token", json_string("t"));
    if (m.to)
        json_object_set_new(json_object_get(o, "data"), "to", json_string(m.to));
    char *withtoken = json_dumps(o, JSON_COMPACT);
    FUZZ_CHECK(withtoken != NULL);
    FUZZ_CHECK(workspaces_msg_parse(withtoken, strlen(withtoken), &back, err, sizeof(err)) == 0);
    FUZZ_CHECK(back.event == m.event);
    workspaces_msg_clear(&back);
    free(withtoken);
    json_decref(o);
    free(fw);
    workspaces_msg_clear(&m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_event((const char *)data, size);
    char *token = strndup((const char *)data, size);
    if (token) {
        fuzz_token(token);
        free(token);
    }
    return 0;
}
