/*
 * tests/fuzz/fuzz_client.c - libFuzzer target for the browser-facing recorder
 * protocol (proto/client.c).
 *
 * The input is one websocket text message.  Beyond "no crash, no leak, no
 * UB", it checks what the master relies on:
 *   - a rejected message has a non-empty reason that client_msg_error can
 *     always turn into a message for the client (valid UTF-8 after cutting);
 *   - an accepted message satisfies the documented field rules, and what the
 *     server would build from it (startResponse, iceCandidate, the worker's
 *     IPC start/candidate payloads) can be built and parses back the same.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "client.h"
#include "fuzz_common.h"
#include "ipc_msg.h"

static int str_eq(const char *a, const char *b)
{
    if (!a || !b)
        return a == b;
    return strcmp(a, b) == 0;
}

/* Re-parse a client message built by jansson from the parsed fields. */
static void reparse(json_t *o, const struct client_msg *orig)
{
    FUZZ_CHECK(o != NULL);
    char *s = json_dumps(o, JSON_COMPACT);
    json_decref(o);
    FUZZ_CHECK(s != NULL);
    struct client_msg m;
    char err[512];
    if (client_msg_parse(s, strlen(s), &m, err, sizeof(err)) != 0) {
        /* Only the size limit may bite: escaping can grow the message. */
        FUZZ_CHECK(strlen(s) > CLIENT_MAX_MESSAGE);
        free(s);
        return;
    }
    FUZZ_CHECK(m.type == orig->type);
    if (m.type == CLIENT_MSG_START) {
        FUZZ_CHECK(str_eq(m.u.start.sdp_offer, orig->u.start.sdp_offer));
        FUZZ_CHECK(!!m.u.start.loopback == !!orig->u.start.loopback);
    } else if (m.type == CLIENT_MSG_ICE_CANDIDATE) {
        FUZZ_CHECK(str_eq(m.u.candidate.candidate, orig->u.candidate.candidate));
        FUZZ_CHECK(str_eq(m.u.candidate.sdp_mid, orig->u.candidate.sdp_mid));
        FUZZ_CHECK(m.u.candidate.sdp_mline_index == orig->u.candidate.sdp_mline_index);
    }
    client_msg_clear(&m);
    free(s);
}

static void check_start(const struct client_msg *m)
{
    const char *sdp = m->u.start.sdp_offer;
    FUZZ_CHECK(sdp != NULL && sdp[0] != '\0');
    /* sdp_offer_check's rules */
    FUZZ_CHECK(strncmp(sdp, "v=0", 3) == 0 && (sdp[3] == '\r' || sdp[3] == '\n'));
    FUZZ_CHECK(strstr(sdp, "\nm=audio ") || strstr(sdp, "\nm=video "));
    FUZZ_CHECK(m->u.start.loopback == 0 || m->u.start.loopback == 1);

    /* The master echoes an answer and hands the offer to a worker. */
    char *s = client_msg_start_response(sdp);
    FUZZ_CHECK(s != NULL);
    free(s);
    struct ipc_start st;
    memset(&st, 0, sizeof(st));
    st.session = "s-1";
    st.sdp = sdp;
    st.key = "k";
    st.spool_dir = "/spool";
    st.storage_dir = "/store";
    st.url_base = "http://h/recordings/";
    st.loopback = m->u.start.loopback;
    s = ipc_start_encode(&st);
    FUZZ_CHECK(s != NULL);
    struct ipc_start back;
    json_t *root = NULL;
    char err[256];
    FUZZ_CHECK(ipc_start_decode((const uint8_t *)s, strlen(s), &back, &root, err, sizeof(err)) == 0);
    FUZZ_CHECK(str_eq(back.sdp, sdp) && back.loopback == st.loopback);
    json_decref(root);
    free(s);

    reparse(json_pack("{s:s, s:s, s:b}", "id", "start", "sdpOffer", sdp, "loopback",
                      m->u.start.loopback),
            m);
}

static void check_candidate(const struct client_msg *m)
{
    const struct ice_candidate *c = &m->u.candidate;
    FUZZ_CHECK(c->candidate != NULL);
    FUZZ_CHECK(c->sdp_mline_index >= -1 && c->sdp_mline_index <= 1024);
    FUZZ_CHECK(c->candidate[0] == '\0' || c->sdp_mid != NULL || c->sdp_mline_index >= 0);

    /* Forwarded to the worker over IPC... */
    char *s = ipc_candidate_encode(c);
    FUZZ_CHECK(s != NULL);
    struct ice_candidate back;
    json_t *root = NULL;
    char err[256];
    FUZZ_CHECK(ipc_candidate_decode((const uint8_t *)s, strlen(s), &back, &root, err, sizeof(err)) == 0);
    FUZZ_CHECK(str_eq(back.candidate, c->candidate) && str_eq(back.sdp_mid, c->sdp_mid) &&
               back.sdp_mline_index == c->sdp_mline_index);
    json_decref(root);
    free(s);

    /* ...and (loopback) echoed to a client. */
    s = client_msg_ice_candidate(c);
    FUZZ_CHECK(s != NULL);
    free(s);

    reparse(json_pack("{s:s, s:o}", "id", "onIceCandidate", "candidate", ice_candidate_to_json(c)), m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct client_msg msg;
    /* A small reason buffer now and then, to exercise cutting. */
    char err[512];
    size_t errlen = (size & 7) == 7 ? 24 : sizeof(err);

    memset(err, 'Z', sizeof(err));
    if (client_msg_parse((const char *)data, size, &msg, err, errlen) != 0) {
        FUZZ_CHECK(msg.root == NULL);
        FUZZ_CHECK(memchr(err, '\0', errlen) != NULL);
        FUZZ_CHECK(err[0] != '\0');
        char *e = client_msg_error("%s", err);
        FUZZ_CHECK(e != NULL);
        free(e);
        return 0;
    }
    FUZZ_CHECK(size <= CLIENT_MAX_MESSAGE);
    FUZZ_CHECK(msg.root != NULL);
    switch (msg.type) {
    case CLIENT_MSG_START:
        check_start(&msg);
        break;
    case CLIENT_MSG_ICE_CANDIDATE:
        check_candidate(&msg);
        break;
    case CLIENT_MSG_STOP:
        reparse(json_pack("{s:s}", "id", "stop"), &msg);
        break;
    default:
        FUZZ_CHECK(!"unknown message type");
    }
    client_msg_clear(&msg);
    FUZZ_CHECK(msg.root == NULL);
    return 0;
}
