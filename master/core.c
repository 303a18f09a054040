/*
 * master/core.c - the core thread: router, signals, timers, shutdown.
 *
 * Frames from the transport thread arrive in core_on_transport_frame and are
 * routed by connection id: a websocket opened on a service's path is bound
 * to that service (service.h, service.c), and its messages and its
 * close go there.  Dynamic HTTP requests (/ping, /sessions, /signaling, and
 * /admin/sessions once the transport has checked its credentials) are
 * answered here.
 *
 * Process model, kept in one place (docs/architecture.md, "Stopping"):
 *   SIGCHLD          reap workers (pool_reap)
 *   drain on|off     (control socket) refuse or accept new sessions; the
 *                    running ones go on, /sessions counts them down
 *   SIGTERM          graceful stop: drain, stop spawning workers, let the
 *                    running sessions finish on their own for up to
 *                    drain_timeout_s; then stop the rest (their recordings are
 *                    finalised) and wait up to config_store_timeout_s (with
 *                    S3, the upload budget too) for them to be stored.  Exit 0 as soon as no session and no worker is
 *                    left (at once when idle).
 *   SIGINT, or a     fast stop: send STOP to every session, wait at most
 *   second SIGTERM   CORE_FAST_STOP_S for the workers to finalise, exit 0.
 *   any signal while stopping fast: exit at once (workers are killed;
 *                    their files stay demuxable up to the last cluster).
 *                    Signaling (rooms, relay) keeps working while stopping;
 *                    its websockets are closed at exit.
 *   SIGHUP           reload the configuration (core_reload, the same code
 *                    as the control socket's reload); the result is logged
 *   SIGPIPE          ignored (main.c)
 *   every 0.5 s      pool watchdog and respawn, session deadlines, exit
 *                    once a stop has nothing left to wait for
 *   systemd          told of each step (READY, RELOADING, STOPPING, STATUS,
 *                    EXTEND_TIMEOUT_USEC) by notify.c, called from here
 */
#include "core.h"

#include <errno.h>
#include <glib.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "admin.h"
#include "control.h"
#include "ipc_link.h"
#include "ipc_msg.h"
#include "log.h"
#include "notify.h"
#include "pool.h"
#include "recorder.h"
#include "relay.h"
#include "rooms.h"
#include "service.h"
#include "sigconn.h"
#include "spool.h"
#include "workspaces.h"

#define CORE_FAST_STOP_S 5 /* fast stop: how long workers get to finalise */
#define CORE_FLUSH_S 0.4   /* then the transport's time to write the last messages */

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

void core_signaling_counts(struct core *core, struct signaling_counts *c)
{
    rooms_counts(core->rooms, &c->rooms, &c->room_peers);
    relay_counts(core->relay, &c->relay_calls, &c->relay_peers);
    workspaces_counts(core->workspaces, &c->workspaces, &c->workspace_attendees);
    c->connections = sigconn_count(core);
}

/* GET /signaling: plain text, one "name count" line each (docs/signaling.md). */
static void core_signaling_text(struct core *core, char *buf, size_t len)
{
    struct signaling_counts c;
    core_signaling_counts(core, &c);
    snprintf(buf, len, "rooms %zu\nroom_peers %zu\nrelay_calls %zu\nrelay_peers %zu\n"
                       "workspaces %zu\nworkspace_attendees %zu\n"
                       "signaling_connections %zu\n",
             c.rooms, c.room_peers, c.relay_calls, c.relay_peers, c.workspaces,
             c.workspace_attendees, c.connections);
}

static void core_on_http_request(struct core *core, const struct ipc_frame *f)
{
    struct ipc_http_request m;
    struct ipc_http_response r = {.status = 200, .content_type = "text/plain", .body = ""};
    json_t *root = NULL;
    char err[256], body[256];
    char *page = NULL;

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
        core_signaling_text(core, body, sizeof(body));
        r.body = body;
    } else if (strcmp(m.path, "/admin/sessions") == 0) { /* authorised by the transport */
        r.body = page = admin_sessions(core, m.accept, &r.content_type);
    } else {
        r.status = 404;
        r.body = "not found\n";
    }
    ipc_link_send_owned(core->transport_link, IPC_HTTP_RESPONSE, f->id,
                        ipc_http_response_encode(&r));
    g_free(page);
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

/* ---- drain, reload, signals, timers, shutdown --------------------------- */

void core_set_draining(struct core *core, int on, const char *who)
{
    if (!on && core->stopping) {
        log_warn("drain off (%s) ignored: the server is stopping", who);
        return;
    }
    if (core->draining != on)
        log_info("drain %s (%s): %zu session(s) running", on ? "on" : "off", who,
                 recorder_active(core->recorder));
    core->draining = on;
}

static void core_restart_note(char *restart, size_t len, const char *setting)
{
    size_t used = strlen(restart);
    snprintf(restart + used, len - used, "%s%s", used ? "," : "", setting);
}

#define CORE_SWAP(a, b)                                                                        \
    do {                                                                                       \
        __typeof__(a) tmp_ = (a);                                                              \
        (a) = (b);                                                                             \
        (b) = tmp_;                                                                            \
    } while (0)

/* Move the settings that may change at run time from *next into the live
 * configuration (and the old values into *next, to be freed). */
static void core_apply_config(struct config *live, struct config *next)
{
    CORE_SWAP(live->public_url, next->public_url);
    CORE_SWAP(live->storage_dir, next->storage_dir);
    CORE_SWAP(live->spool_dir, next->spool_dir);
    CORE_SWAP(live->worker_path, next->worker_path);
    for (size_t i = 0; i < CONFIG_MAX_ICE_ADDRESSES; i++)
        CORE_SWAP(live->ice_addresses[i], next->ice_addresses[i]);
    CORE_SWAP(live->n_ice_addresses, next->n_ice_addresses);
    live->max_workers = next->max_workers;
    live->min_spare = next->min_spare;
    live->max_spare = next->max_spare;
    live->start_timeout_s = next->start_timeout_s;
    live->stop_timeout_s = next->stop_timeout_s;
    live->room_size = next->room_size;
    live->signaling_max_connections = next->signaling_max_connections;
    live->drain_timeout_s = next->drain_timeout_s;
    live->log_level = next->log_level;
    /* S3: new sessions and the next retries use the new settings */
    CORE_SWAP(live->s3_bucket, next->s3_bucket);
    CORE_SWAP(live->s3_region, next->s3_region);
    CORE_SWAP(live->s3_endpoint, next->s3_endpoint);
    CORE_SWAP(live->s3_prefix, next->s3_prefix);
    CORE_SWAP(live->s3_access_key, next->s3_access_key);
    CORE_SWAP(live->s3_secret_key, next->s3_secret_key);
    CORE_SWAP(live->s3_session_token, next->s3_session_token);
    live->s3_path_style = next->s3_path_style;
    live->s3_part_size_mib = next->s3_part_size_mib;
    live->upload_timeout_s = next->upload_timeout_s;
    live->upload_retry_min_s = next->upload_retry_min_s;
    live->upload_retry_max_s = next->upload_retry_max_s;
    log_set_level(live->log_level);
    /* /workspaces: a new secret invalidates every token issued under the old one */
    CORE_SWAP(live->workspaces_secret, next->workspaces_secret);
    CORE_SWAP(live->stun_uris, next->stun_uris);
    CORE_SWAP(live->turn_uris, next->turn_uris);
    CORE_SWAP(live->turn_secret, next->turn_secret);
    live->workspaces_token_ttl_s = next->workspaces_token_ttl_s;
    live->workspaces_id_length = next->workspaces_id_length;
    live->workspaces_max_capacity = next->workspaces_max_capacity;
    live->workspaces_pin_iterations = next->workspaces_pin_iterations;
    live->workspaces_development = next->workspaces_development;
    live->turn_ttl_s = next->turn_ttl_s;
}

int core_reload(struct core *core, const char *who, char *err, size_t errlen, char *restart,
                size_t restartlen)
{
    struct config next;
    struct config *live = core->cfg;

    restart[0] = '\0';
    notify_reloading();
    if (config_reload(live, &next, err, errlen) != 0) {
        log_error("reload (%s) failed, nothing changed: %s", who, err);
        config_free(&next);
        notify_reloaded(core, err);
        return -1;
    }
    if (strcmp(live->listen_host, next.listen_host) != 0 ||
        live->listen_port != next.listen_port)
        core_restart_note(restart, restartlen, "listen");
    if (g_strcmp0(live->control_socket, next.control_socket) != 0)
        core_restart_note(restart, restartlen, "control-socket");
    if (g_strcmp0(live->workspaces_storage_file, next.workspaces_storage_file) != 0)
        core_restart_note(restart, restartlen, "workspaces storage-file");
    /* read by the transport thread at start-up (www.h) */
    if (g_strcmp0(live->static_dir, next.static_dir) != 0)
        core_restart_note(restart, restartlen, "static-dir");
    if (g_strcmp0(live->admin_user, next.admin_user) != 0 ||
        g_strcmp0(live->admin_password, next.admin_password) != 0)
        core_restart_note(restart, restartlen, "admin-auth");
    core_apply_config(live, &next);
    config_free(&next);
    log_info("reload (%s): %s%s re-read; new sessions use it%s%s", who,
             live->config_file ? live->config_file : "command line",
             live->config_file ? " and the command line" : "",
             restart[0] ? "; a restart is needed to change: " : "", restart);
    notify_reloaded(core, NULL);
    return 0;
}

static void core_on_stop_deadline(evutil_socket_t fd, short what, void *arg);

static void core_arm_stop_timer(struct core *core, int seconds)
{
    struct timeval tv = {seconds, 0};
    if (!core->shutdown_timer)
        core->shutdown_timer = evtimer_new(core->base, core_on_stop_deadline, core);
    evtimer_add(core->shutdown_timer, &tv);
}

/* Stop every session now; exit once they are stored, or after `grace_s`. */
static void core_stop_fast(struct core *core, const char *why, int grace_s)
{
    core->stopping = CORE_STOP_FAST;
    core->draining = 1;
    size_t left = recorder_stop_all(core->recorder);
    pool_shutdown(core->pool);
    log_info("%s: stopping every session; %zu finishing (waiting up to %d s)", why, left,
             grace_s);
    core_arm_stop_timer(core, grace_s);
    core->stop_deadline = core_now() + grace_s;
    notify_stopping(core);
}

/* SIGTERM: drain, and let the running sessions end on their own. */
static void core_stop_graceful(struct core *core)
{
    core->stopping = CORE_STOP_DRAIN;
    core->draining = 1;
    pool_shutdown(core->pool);
    log_info("SIGTERM: draining; %zu session(s) may run on for up to %d s",
             recorder_active(core->recorder), core->cfg->drain_timeout_s);
    core_arm_stop_timer(core, core->cfg->drain_timeout_s);
    core->stop_deadline =
        core_now() + core->cfg->drain_timeout_s + config_store_timeout_s(core->cfg);
    notify_stopping(core);
}

static void core_on_stop_signal(struct core *core, int signo)
{
    int grace = core->cfg->stop_timeout_s < CORE_FAST_STOP_S ? core->cfg->stop_timeout_s
                                                            : CORE_FAST_STOP_S;
    if (core->stopping == CORE_STOP_FAST) {
        log_warn("%s again: exiting now", strsignal(signo));
        event_base_loopexit(core->base, NULL);
    } else if (core->stopping == CORE_RUNNING && signo == SIGTERM) {
        core_stop_graceful(core);
    } else {
        core_stop_fast(core, strsignal(signo), grace);
    }
}

static void core_on_signal(evutil_socket_t signo, short what, void *arg)
{
    struct core *core = arg;
    char err[512], restart[256];
    (void)what;
    switch (signo) {
    case SIGCHLD:
        pool_reap(core->pool);
        break;
    case SIGTERM:
    case SIGINT:
        core_on_stop_signal(core, (int)signo);
        break;
    case SIGHUP:
        core_reload(core, "SIGHUP", err, sizeof(err), restart, sizeof(restart));
        break;
    }
}

/* The drain timeout (stop what still runs) or the stop deadline (exit). */
static void core_on_stop_deadline(evutil_socket_t fd, short what, void *arg)
{
    struct core *core = arg;
    (void)fd;
    (void)what;
    if (core->stopping == CORE_STOP_DRAIN) {
        core_stop_fast(core, "drain timeout", config_store_timeout_s(core->cfg));
        return;
    }
    log_warn("stop timeout: %zu session(s) still running, %zu worker(s) left; exiting",
             recorder_active(core->recorder), pool_size(core->pool));
    event_base_loopexit(core->base, NULL);
}

/* Everything finished: exit once the last messages to clients (the final
 * uploadSuccess or error) have left.  The transport thread ends without
 * writing what it still holds, so wait until our link to it is drained and
 * it has had CORE_FLUSH_S to write them. */
static void core_exit_when_flushed(struct core *core)
{
    double now = core_now();
    if (core->finished_at == 0) {
        core->finished_at = now;
        log_info("all sessions finished; exiting");
    }
    if (now - core->finished_at >= CORE_FLUSH_S && ipc_link_pending(core->transport_link) == 0)
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
    notify_tick(core);
    spool_tick(core->spool);
    if (core->stopping && recorder_active(core->recorder) == 0 && pool_size(core->pool) == 0)
        core_exit_when_flushed(core);
}

/* The control socket, unless disabled.  The built-in default path is best
 * effort (a developer's unprivileged run may not create /run/webrtc-video);
 * a path that was asked for must work. */
static int core_control_open(struct core *core)
{
    const char *path = core->cfg->control_socket;
    char err[512];

    if (!path || !*path)
        return 0;
    core->control = control_new(core, path, err, sizeof(err));
    if (core->control)
        return 0;
    if (strcmp(path, CONFIG_DEFAULT_CONTROL_SOCKET) == 0 &&
        (errno == EACCES || errno == EPERM || errno == EROFS)) {
        log_warn("no control socket: %s (set --control-socket)", err);
        return 0;
    }
    log_error("control socket: %s", err);
    return -1;
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
    core->spool = spool_new(core);
    core->pool = pool_new(core);
    core->recorder = recorder_new(core);
    core->rooms = rooms_new(core);
    core->relay = relay_new(core);
    core->workspaces = workspaces_new(core);
    if (!core->workspaces)
        return -1; /* its storage file is unusable: logged */
    if (core_control_open(core) != 0)
        return -1;
    notify_init();
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
    control_free(core->control);
    g_hash_table_destroy(core->conns->by_id);
    g_free(core->conns);
    recorder_free(core->recorder);
    rooms_free(core->rooms);
    relay_free(core->relay);
    workspaces_free(core->workspaces);
    pool_free(core->pool);
    spool_free(core->spool);
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
