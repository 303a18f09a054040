/*
 * master/relay.c - relay between a caller and its answerer and watchers
 * (seed 003, /webrtc).
 *
 * A websocket at /webrtc is a `peer`.  `init` makes it the caller of a new
 * `call` with two unguessable ids; `join` with the first makes another peer
 * the call's answerer (one at a time), `watch` with the second makes it one
 * of the call's watchers.  Peers are named within their call: "caller",
 * "answerer", "w1", "w2", ...
 *
 *   caller                        this file                  answerer / watcher
 *   init                  ->      new call
 *                         <-      init{join,watch}
 *                         <-      peer_joined{from,role}     <- join{id} / watch{id}
 *   offer/answer/ice_candidate/configure [to]
 *                         ->      as sent, to `to`, else     -> the answerer, or
 *                                                               the only watcher
 *                         <-      the message + from         <- offer/answer/...
 *                         <-      peer_left{from,role}       <- socket closed
 *   socket closed         ->      call ends                  -> peer_left{caller}
 *
 * Everything invalid, unknown ids, and relayed messages from a peer that is
 * in no call are answered with an error and go nowhere.  Limits: sigconn.h.
 */
#include "relay.h"

#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "log.h"
#include "random.h"
#include "relay_msg.h"
#include "sigconn.h"

#define RELAY_ID_BYTES 16 /* 32 hex characters, 128 random bits */

enum peer_role { ROLE_NONE, ROLE_CALLER, ROLE_ANSWERER, ROLE_WATCHER };

static const char *const peer_role_names[] = {"none", "caller", "answerer", "watcher"};

struct call;

struct peer {
    struct relay *relay;
    struct sigconn sc;
    uint64_t conn_id;
    enum peer_role role;
    struct call *call;
    char name[16]; /* within the call */
};

struct call {
    char join[2 * RELAY_ID_BYTES + 1];
    char watch[2 * RELAY_ID_BYTES + 1];
    struct peer *caller;
    struct peer *answerer;
    GPtrArray *watchers; /* struct peer */
    unsigned next_watcher;
};

struct relay {
    struct core *core;
    GHashTable *by_join;  /* join id -> call (owns it) */
    GHashTable *by_watch; /* watch id -> call */
    size_t peers;         /* peers in a call, callers included */
};

static void peer_send(struct peer *p, char *text)
{
    core_ws_send(p->relay->core, p->conn_id, text);
}

static void peer_attach(struct peer *p, struct call *call, enum peer_role role, const char *name)
{
    p->call = call;
    p->role = role;
    snprintf(p->name, sizeof(p->name), "%s", name);
    p->relay->peers++;
}

static void peer_detach(struct peer *p)
{
    p->call = NULL;
    p->role = ROLE_NONE;
    p->name[0] = '\0';
    p->relay->peers--;
}

static void call_free(gpointer data)
{
    struct call *call = data;
    g_ptr_array_free(call->watchers, TRUE);
    g_free(call);
}

/* The caller has gone: every other peer is told, and the ids stop working. */
static void call_end(struct relay *relay, struct call *call)
{
    char *notice = relay_msg_peer("peer_left", "caller", "caller");
    if (call->answerer) {
        peer_send(call->answerer, notice ? strdup(notice) : NULL);
        peer_detach(call->answerer);
    }
    for (guint i = 0; i < call->watchers->len; i++) {
        struct peer *w = g_ptr_array_index(call->watchers, i);
        peer_send(w, notice ? strdup(notice) : NULL);
        peer_detach(w);
    }
    free(notice);
    log_info("relay: call %.8s... ended", call->join);
    g_hash_table_remove(relay->by_watch, call->watch);
    g_hash_table_remove(relay->by_join, call->join);
}

/* An answerer or watcher has gone: the caller is told. */
static void peer_leave(struct peer *p)
{
    struct call *call = p->call;
    peer_send(call->caller, relay_msg_peer("peer_left", p->name, peer_role_names[p->role]));
    log_info("relay: %s left call %.8s...", p->name, call->join);
    if (p->role == ROLE_ANSWERER)
        call->answerer = NULL;
    else
        g_ptr_array_remove(call->watchers, p);
    peer_detach(p);
}

static void relay_on_init(struct peer *p)
{
    struct relay *relay = p->relay;
    struct call *call = g_new0(struct call, 1);

    if (random_hex(call->join, RELAY_ID_BYTES) != 0 ||
        random_hex(call->watch, RELAY_ID_BYTES) != 0 || strcmp(call->join, call->watch) == 0) {
        g_free(call);
        peer_send(p, relay_msg_error("internal error: cannot create a call"));
        return;
    }
    call->watchers = g_ptr_array_new();
    call->caller = p;
    g_hash_table_insert(relay->by_join, call->join, call);
    g_hash_table_insert(relay->by_watch, call->watch, call);
    peer_attach(p, call, ROLE_CALLER, "caller");
    log_info("relay: call %.8s... created", call->join);
    peer_send(p, relay_msg_init(call->join, call->watch));
}

static void relay_on_join(struct peer *p, const struct relay_msg *msg)
{
    struct call *call = g_hash_table_lookup(p->relay->by_join, msg->id);
    if (!call) {
        peer_send(p, relay_msg_error("join: unknown id"));
        return;
    }
    if (call->answerer) {
        peer_send(p, relay_msg_error("join: this call already has an answerer"));
        return;
    }
    call->answerer = p;
    peer_attach(p, call, ROLE_ANSWERER, "answerer");
    log_info("relay: answerer joined call %.8s...", call->join);
    peer_send(call->caller, relay_msg_peer("peer_joined", p->name, "answerer"));
}

static void relay_on_watch(struct peer *p, const struct relay_msg *msg)
{
    struct call *call = g_hash_table_lookup(p->relay->by_watch, msg->id);
    char name[16];
    if (!call) {
        peer_send(p, relay_msg_error("watch: unknown id"));
        return;
    }
    snprintf(name, sizeof(name), "w%u", ++call->next_watcher);
    g_ptr_array_add(call->watchers, p);
    peer_attach(p, call, ROLE_WATCHER, name);
    log_info("relay: watcher %s joined call %.8s... (%u watching)", name, call->join,
             call->watchers->len);
    peer_send(call->caller, relay_msg_peer("peer_joined", p->name, "watcher"));
}

/* Where a caller's message goes: "to", else the answerer, else the only watcher. */
static struct peer *call_target(struct call *call, const char *to)
{
    if (!to) {
        if (call->answerer)
            return call->answerer;
        return call->watchers->len == 1 ? g_ptr_array_index(call->watchers, 0) : NULL;
    }
    if (call->answerer && strcmp(to, call->answerer->name) == 0)
        return call->answerer;
    for (guint i = 0; i < call->watchers->len; i++) {
        struct peer *w = g_ptr_array_index(call->watchers, i);
        if (strcmp(to, w->name) == 0)
            return w;
    }
    return NULL;
}

static void relay_forward(struct peer *p, const struct relay_msg *msg, const char *text,
                          size_t len)
{
    if (p->role == ROLE_NONE) {
        peer_send(p, relay_msg_error("send init, join or watch first"));
        return;
    }
    if (p->role != ROLE_CALLER) {
        peer_send(p->call->caller, relay_msg_from(msg, p->name));
        return;
    }
    struct peer *target = call_target(p->call, msg->to);
    if (!target) {
        peer_send(p, msg->to ? relay_msg_error("no peer '%.32s' in this call", msg->to)
                             : relay_msg_error("no peer to send to: name one with 'to'"));
        return;
    }
    peer_send(target, strndup(text, len));
}

static void relay_text(void *conn, const char *text, size_t len)
{
    struct peer *p = conn;
    struct relay_msg msg;
    char err[512];
    int refuse;

    if (sigconn_charge(&p->sc, &refuse) != 0) {
        if (refuse) {
            peer_send(p, relay_msg_error("rate limit exceeded; closing"));
            sigconn_kick(&p->sc);
        }
        return;
    }
    if (relay_msg_parse(text, len, &msg, err, sizeof(err)) != 0) {
        peer_send(p, relay_msg_error("%s", err));
        return;
    }
    if (relay_msg_relayed(&msg))
        relay_forward(p, &msg, text, len);
    else if (p->role != ROLE_NONE)
        peer_send(p, relay_msg_error("this connection is already the %s of a call",
                                     peer_role_names[p->role]));
    else if (msg.type == RELAY_INIT)
        relay_on_init(p);
    else if (msg.type == RELAY_JOIN)
        relay_on_join(p, &msg);
    else
        relay_on_watch(p, &msg);
    relay_msg_clear(&msg);
}

static void *relay_open(struct core *core, uint64_t conn_id, const char *peer, const char *host)
{
    struct peer *p = g_new0(struct peer, 1);
    (void)host;
    if (sigconn_open(&p->sc, core, conn_id, "relay") != 0) {
        g_free(p);
        return NULL;
    }
    p->relay = core->relay;
    p->conn_id = conn_id;
    log_debug("relay: connection %llu from %s", (unsigned long long)conn_id, peer);
    return p;
}

static void relay_close(void *conn)
{
    struct peer *p = conn;
    if (p->role == ROLE_CALLER) {
        struct call *call = p->call;
        peer_detach(p);
        call_end(p->relay, call);
    } else if (p->role != ROLE_NONE) {
        peer_leave(p);
    }
    sigconn_close(&p->sc);
    g_free(p);
}

const struct service relay_service = {
    .path = "/webrtc",
    .max_message = SIGCONN_MAX_MESSAGE,
    .max_queued = SIGCONN_MAX_QUEUED,
    .open = relay_open,
    .text = relay_text,
    .close = relay_close,
};

void relay_counts(const struct relay *relay, size_t *n_calls, size_t *n_peers)
{
    *n_calls = g_hash_table_size(relay->by_join);
    *n_peers = relay->peers;
}

struct relay *relay_new(struct core *core)
{
    struct relay *relay = g_new0(struct relay, 1);
    relay->core = core;
    relay->by_join = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, call_free);
    relay->by_watch = g_hash_table_new(g_str_hash, g_str_equal);
    return relay;
}

/* Called after every connection has been closed, so no call is left. */
void relay_free(struct relay *relay)
{
    if (!relay)
        return;
    g_hash_table_destroy(relay->by_watch);
    g_hash_table_destroy(relay->by_join);
    g_free(relay);
}
