/*
 * master/core.c - the core thread: router, signals, timers, shutdown.
 *
 * Frames from the transport thread arrive in core_on_transport_frame and are
 * routed by connection id: a websocket opened on a service's path is bound
 * to that service (service.h, service.c), and its messages and its
 * close go there.  Dynamic HTTP requests (/ping, /sessions, /signaling) are
 * answered here.
 *
 * Process model, kept in one place:
 *   SIGCHLD          reap workers (pool_reap)
 *   SIGTERM, SIGINT  stop: refuse new sessions, stop running ones so their
 *                    recordings are finalised, wait up to stop_timeout_s for
 *                    them and for the workers, then exit 0.  Signaling
 *                    (rooms, relay) keeps working meanwhile; its websockets
 *                    are closed at exit (peers see the connection drop).
 *                    A second signal exits at once (workers are killed;
 *                    their files stay demuxable up to the last cluster).
 *   SIGHUP           logged; configuration reload is not supported yet
 *   SIGPIPE          ignored (main.c)
 *   every 0.5 s      pool watchdog and respawn, session deadlines
 */
#include "core.h"

#include <errno.h>
#include <glib.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipc_link.h"
#include "ipc_msg.h"
#include "log.h"
#include "pool.h"
#include "recorder.h"
#include "relay.h"
#include "rooms.h"
#include "service.h"
#include "sigconn.h"
#include "spool.h"

struct conn {
    uint64_t id;
    const struct service *service;
    void *state; /* the service's, for this connection */
};

struct conn_table {
    GHashTable *by_id; /* uint64 id -> struct conn */
};

double core_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void core_ws_send(struct core *core, uint64_t conn_id, char *text)
{
    if (!text) {
        log_error("connection %llu: cannot encode a message", (unsigned long long)conn_id);
        return;
    }
    if (core->transport_link)
        ipc_link_send_owned(core->transport_link, IPC_WS_TEXT, conn_id, text);
    else
        free(text);
}

void core_ws_close(struct core *core, uint64_t conn_id, const char *reason)
{
    if (core->transport_link)
        ipc_link_send(core->transport_link, IPC_WS_CLOSE, conn_id, reason, strlen(reason));
}

/* ---- routing ------------------------------------------------------------ */

static void core_on_ws_open(struct core *core, const struct ipc_frame *f)
{
    struct ipc_ws_open m;
    json_t *root = NULL;
    char err[256];

    if (ipc_ws_open_decode(f->payload, f->len, &m, &root, err, sizeof(err)) != 0) {
        log_error("transport: %s", err);
        core_ws_close(core, f->id, "internal error");
        return;
    }
    const struct service *svc = service_for_path(m.path);
    void *state = svc ? svc->open(core, f->id, m.peer, m.host) : NULL;
    if (!state) {
        core_ws_close(core, f->id, svc ? "refused" : "no such endpoint");
        json_decref(root);
        return;
    }
    struct conn *c = g_new0(struct conn, 1);
    c->id = f->id;
    c->service = svc;
    c->state = state;
    g_hash_table_insert(core->conns->by_id, &c->id, c);
    log_debug("connection %llu: %s from %s", (unsigned long long)f->id, m.path, m.peer);
    json_decref(root);
}

static void core_on_ws_close(struct core *core, const struct ipc_frame *f)
{
    struct conn *c = g_hash_table_lookup(core->conns->by_id, &f->id);
    if (!c)
        return;
    c->service->close(c->state);
    g_hash_table_remove(core->conns->by_id, &f->id);
    g_free(c);
}

static void core_on_ws_text(struct core *core, const struct ipc_frame *f)
{
    struct conn *c = g_hash_table_lookup(core->conns->by_id, &f->id);
    if (c)
        c->service->text(c->state, (const char *)f->payload, f->len);
}

/* GET /signaling: plain text, one "name count" line each (docs/signaling.md). */
static void core_signaling_counts(struct core *core, char *buf, size_t len)
{
    size_t rooms, room_peers, calls, relay_peers;
    rooms_counts(core->rooms, &rooms, &room_peers);
    relay_counts(core->relay, &calls, &relay_peers);
    snprintf(buf, len, "rooms %zu\nroom_peers %zu\nrelay_calls %zu\nrelay_peers %zu\n"
                       "signaling_connections %zu\n",
             rooms, room_peers, calls, relay_peers, sigconn_count(core));
}

static void core_on_http_request(struct core *core, const struct ipc_frame *f)
{
    struct ipc_http_request m;
    struct ipc_http_response r = {.status = 200, .content_type = "text/plain", .body = ""};
    json_t *root = NULL;
    char err[256], body[160];

    if (ipc_http_request_decode(f->payload, f->len, &m, &root, err, sizeof(err)) != 0) {
        log_error("transport: %s", err);
        r.status = 500;
        r.body = "internal error\n";
    } else if (strcmp(m.path, "/ping") == 0 || strcmp(m.path, "/api/ping") == 0) {
        r.body = "pong";
    } else if (strcmp(m.path, "/sessions") == 0 || strcmp(m.path, "/api/sessions") == 0) {
        snprintf(body, sizeof(body), "%zu", recorder_active(core->recorder));
        r.body = body;
    } else if (strcmp(m.path, "/signaling") == 0 || strcmp(m.path, "/api/signaling") == 0) {
        core_signaling_counts(core, body, sizeof(body));
        r.body = body;
    } else {
        r.status = 404;
        r.body = "not found\n";
    }
    ipc_link_send_owned(core->transport_link, IPC_HTTP_RESPONSE, f->id,
                        ipc_http_response_encode(&r));
    json_decref(root);
}

static void core_on_transport_frame(void *data, const struct ipc_frame *f)
{
    struct core *core = data;
    switch (f->type) {
    case IPC_WS_OPEN:
        core_on_ws_open(core, f);
        break;
    case IPC_WS_TEXT:
        core_on_ws_text(core, f);
        break;
    case IPC_WS_CLOSE:
        core_on_ws_close(core, f);
        break;
    case IPC_HTTP_REQUEST:
        core_on_http_request(core, f);
        break;
    default:
        log_error("transport sent an unexpected %s frame", ipc_type_name(f->type));
    }
}

static void core_on_transport_close(void *data, const char *reason)
{
    struct core *core = data;
    log_error("transport thread link %s; stopping", reason);
    ipc_link_free(core->transport_link);
    core->transport_link = NULL;
    event_base_loopexit(core->base, NULL);
}

static const struct ipc_link_handler core_transport_handler = {
    .on_frame = core_on_transport_frame,
    .on_close = core_on_transport_close,
};

/* ---- signals, timers, shutdown ------------------------------------------ */

static void core_shutdown_check(evutil_socket_t fd, short what, void *arg);

static void core_begin_shutdown(struct core *core, int signo)
{
    if (core->stopping) {
        log_warn("%s again: stopping now", strsignal(signo));
        event_base_loopexit(core->base, NULL);
        return;
    }
    core->stopping = 1;
    size_t left = recorder_stop_all(core->recorder);
    pool_shutdown(core->pool);
    log_info("%s: stopping; %zu session(s) finishing", strsignal(signo), left);
    struct timeval tv = {core->cfg->stop_timeout_s, 0};
    core->shutdown_timer = evtimer_new(core->base, core_shutdown_check, core);
    evtimer_add(core->shutdown_timer, &tv);
}

static void core_on_signal(evutil_socket_t signo, short what, void *arg)
{
    struct core *core = arg;
    (void)what;
    switch (signo) {
    case SIGCHLD:
        pool_reap(core->pool);
        break;
    case SIGTERM:
    case SIGINT:
        core_begin_shutdown(core, (int)signo);
        break;
    case SIGHUP:
        log_info("SIGHUP: configuration reload is not supported yet; ignored");
        break;
    }
}

/* Shutdown deadline: whatever is still running is cut off. */
static void core_shutdown_check(evutil_socket_t fd, short what, void *arg)
{
    struct core *core = arg;
    (void)fd;
    (void)what;
    log_warn("stop timeout: %zu session(s) still running, %zu worker(s) left; exiting",
             recorder_active(core->recorder), pool_size(core->pool));
    event_base_loopexit(core->base, NULL);
}

static void core_on_tick(evutil_socket_t fd, short what, void *arg)
{
    struct core *core = arg;
    (void)fd;
    (void)what;
    pool_reap(core->pool);
    pool_tick(core->pool);
    recorder_tick(core->recorder);
    if (core->stopping && recorder_active(core->recorder) == 0 && pool_size(core->pool) == 0) {
        log_info("all sessions finished; exiting");
        event_base_loopexit(core->base, NULL);
    }
}

static int core_init(struct core *core, struct config *cfg, int transport_fd)
{
    static const int signals[] = {SIGCHLD, SIGTERM, SIGINT, SIGHUP};
    struct timeval tick = {0, 500 * 1000};

    memset(core, 0, sizeof(*core));
    core->cfg = cfg;
    core->started = time(NULL);
    core->base = event_base_new();
    if (!core->base)
        return -1;
    core->conns = g_new0(struct conn_table, 1);
    core->conns->by_id = g_hash_table_new(g_int64_hash, g_int64_equal);
    evutil_make_socket_nonblocking(transport_fd);
    core->transport_link = ipc_link_new(core->base, transport_fd, &core_transport_handler, core);
    for (size_t i = 0; i < G_N_ELEMENTS(signals); i++) {
        core->signals[i] = evsignal_new(core->base, signals[i], core_on_signal, core);
        evsignal_add(core->signals[i], NULL);
    }
    int salvaged = spool_salvage_all(cfg);
    if (salvaged)
        log_warn("kept %d partial recording(s) left in the spool by an earlier run", salvaged);
    core->pool = pool_new(core);
    core->recorder = recorder_new(core);
    core->rooms = rooms_new(core);
    core->relay = relay_new(core);
    core->tick = event_new(core->base, -1, EV_PERSIST, core_on_tick, core);
    evtimer_add(core->tick, &tick);
    if (!core->transport_link || !core->pool || !core->recorder || !core->rooms ||
        !core->relay || !core->tick)
        return -1;
    return 0;
}

static void core_fini(struct core *core)
{
    GHashTableIter it;
    gpointer value;

    g_hash_table_iter_init(&it, core->conns->by_id);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        struct conn *c = value;
        c->service->close(c->state);
        g_free(c);
    }
    g_hash_table_destroy(core->conns->by_id);
    g_free(core->conns);
    recorder_free(core->recorder);
    rooms_free(core->rooms);
    relay_free(core->relay);
    pool_free(core->pool);
    ipc_link_free(core->transport_link); /* closing it ends the transport thread */
    core->transport_link = NULL;
    for (size_t i = 0; i < G_N_ELEMENTS(core->signals); i++)
        if (core->signals[i])
            event_free(core->signals[i]);
    if (core->tick)
        event_free(core->tick);
    if (core->shutdown_timer)
        event_free(core->shutdown_timer);
    if (core->base)
        event_base_free(core->base);
}

int core_run(struct config *cfg, int transport_fd)
{
    struct core core;
    int status = 0;

    if (core_init(&core, cfg, transport_fd) != 0) {
        log_error("cannot initialise the core");
        status = 1;
    } else {
        event_base_dispatch(core.base);
    }
    core_fini(&core);
    log_info("stopped");
    return status;
}
