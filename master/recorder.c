/*
 * master/recorder.c - recording sessions: client messages in, IPC frames out.
 *
 * A websocket at /api/recorder is an `rconn`.  Its `start` creates a
 * `session`, which takes an idle worker from the pool (or waits for one)
 * and sends it IPC_W_START; everything the client sends afterwards for that
 * session is forwarded as IPC frames, and everything the worker answers is
 * turned back into protocol messages:
 *
 *   client                     master (this file)            worker
 *   start{sdpOffer}      ->    session WAITING -> STARTING   -> START
 *                        <-    startResponse{sdpAnswer}      <- ANSWER
 *   onIceCandidate       ->    forwarded (queued before)     -> CANDIDATE
 *                        <-    iceCandidate                  <- CANDIDATE
 *   stop / socket closed ->    STOPPING                      -> STOP
 *                        <-    uploadSuccess{videoUrl,key}   <- DONE
 *                        <-    error{message}                <- ERROR / worker died
 *
 * Candidates that arrive before the session has a worker are queued, never
 * dropped (seed 002's candidate queue).  A session whose client has gone
 * keeps going until its worker has stored the recording: a client that just
 * disappears still leaves a playable file.  One session per connection at a
 * time; after it ends the connection may start another.
 */
#include "recorder.h"

#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "client.h"
#include "core.h"
#include "ipc_msg.h"
#include "log.h"
#include "pool.h"
#include "random.h"
#include "spool.h"
#include "uploader.h"

#define RECORDER_MAX_QUEUED_CANDIDATES 256

_Static_assert(CONFIG_MAX_ICE_ADDRESSES <= IPC_MAX_ICE_ADDRESSES,
               "every configured ICE address must fit in a START frame");

enum session_state {
    SESSION_WAITING,   /* no worker yet */
    SESSION_STARTING,  /* START sent, no answer yet */
    SESSION_RECORDING, /* answered; media may flow */
    SESSION_STOPPING,  /* STOP sent, waiting for DONE */
};

static const char *const session_state_names[] = {"waiting", "starting", "recording",
                                                  "stopping"};

struct session {
    TAILQ_ENTRY(session) entry;
    struct recorder *rec;
    uint64_t id;
    struct rconn *rc; /* NULL once the client has gone */
    char peer[64];    /* the client's address */
    enum session_state state;
    struct worker *worker;
    char *sdp_offer;         /* held while waiting for a worker */
    GPtrArray *candidates;   /* encoded CANDIDATE payloads held likewise */
    int loopback;
    char key[33];
    char *url_base;
    double created_at, deadline;
};

struct rconn {
    struct recorder *rec;
    uint64_t conn_id;
    char peer[64];
    char *url_base;
    struct session *session;
    GPtrArray *early_candidates; /* before any start */
};

struct recorder {
    struct core *core;
    TAILQ_HEAD(, session) sessions;
    uint64_t next_session_id;
};

static void session_end(struct session *s);

static void rconn_send(struct rconn *rc, char *text)
{
    if (rc)
        core_ws_send(rc->rec->core, rc->conn_id, text);
    else
        free(text);
}

static void rconn_error(struct rconn *rc, const char *message)
{
    rconn_send(rc, client_msg_error("%s", message));
}

/* Fail a session: tell its client (if any), end it. */
static void session_fail(struct session *s, const char *message)
{
    log_info("session %llu: failed: %s", (unsigned long long)s->id, message);
    rconn_error(s->rc, message);
    session_end(s);
}

/* ---- frames from the session's worker ------------------------------------ */

static void session_on_answer(struct session *s, const struct ipc_frame *f)
{
    struct ipc_answer m;
    json_t *root = NULL;
    char err[256];

    if (s->state != SESSION_STARTING ||
        ipc_answer_decode(f->payload, f->len, &m, &root, err, sizeof(err)) != 0) {
        pool_kill(s->worker, "media worker sent an invalid answer");
        return;
    }
    s->state = SESSION_RECORDING;
    s->deadline = 0;
    log_info("session %llu: answered in %.1f ms", (unsigned long long)s->id,
             (core_now() - s->created_at) * 1000);
    rconn_send(s->rc, client_msg_start_response(m.sdp));
    json_decref(root);
}

static void session_on_candidate(struct session *s, const struct ipc_frame *f)
{
    struct ice_candidate c;
    json_t *root = NULL;
    char err[256];

    if (ipc_candidate_decode(f->payload, f->len, &c, &root, err, sizeof(err)) != 0) {
        log_warn("session %llu: bad candidate from worker: %s", (unsigned long long)s->id, err);
        return;
    }
    rconn_send(s->rc, client_msg_ice_candidate(&c));
    json_decref(root);
}

static void session_on_done(struct session *s, const struct ipc_frame *f)
{
    struct ipc_done m;
    json_t *root = NULL;
    char err[256];

    if (ipc_done_decode(f->payload, f->len, &m, &root, err, sizeof(err)) != 0) {
        pool_kill(s->worker, "media worker sent an invalid result");
        return;
    }
    log_info("session %llu: stored %s (%lld bytes, %lld ms)%s", (unsigned long long)s->id, m.key,
             m.bytes, m.duration_ms, s->rc ? "" : ", client already gone");
    rconn_send(s->rc, client_msg_upload_success(m.url, m.key));
    json_decref(root);
    session_end(s);
}

static void session_on_error(struct session *s, const struct ipc_frame *f)
{
    struct ipc_error m;
    json_t *root = NULL;
    char err[256];

    if (ipc_error_decode(f->payload, f->len, &m, &root, err, sizeof(err)) != 0) {
        pool_kill(s->worker, "media worker sent an invalid error");
        return;
    }
    if (m.fatal)
        session_fail(s, m.message);
    else
        rconn_error(s->rc, m.message);
    json_decref(root);
}

/* S3 could not take the recording in time: it waits in the spool. */
static void session_on_pending(struct session *s, const struct ipc_frame *f)
{
    struct ipc_pending m;
    json_t *root = NULL;
    char err[256], message[1024];

    if (ipc_pending_decode(f->payload, f->len, &m, &root, err, sizeof(err)) != 0) {
        pool_kill(s->worker, "media worker sent an invalid pending notice");
        return;
    }
    /* The master later uploads and deletes SPOOL/key: it must be this
     * session's recording, "<stem>.EXT", never another path. */
    if (!g_str_has_prefix(m.key, s->key) || m.key[strlen(s->key)] != '.' ||
        strchr(m.key, '/')) {
        json_decref(root);
        pool_kill(s->worker, "media worker sent a pending notice for another recording");
        return;
    }
    spool_add_pending(s->rec->core->spool, m.key, m.message);
    snprintf(message, sizeof(message),
             "upload pending: the recording %s is saved on the server but its upload has not "
             "finished (%s); it will be retried and is not lost",
             m.key, m.message);
    session_fail(s, message);
    json_decref(root);
}

static void session_on_frame(void *data, const struct ipc_frame *f)
{
    struct session *s = data;
    switch (f->type) {
    case IPC_W_ANSWER:
        session_on_answer(s, f);
        break;
    case IPC_W_CANDIDATE:
        session_on_candidate(s, f);
        break;
    case IPC_W_DONE:
        session_on_done(s, f);
        break;
    case IPC_W_ERROR:
        session_on_error(s, f);
        break;
    case IPC_W_PENDING:
        session_on_pending(s, f);
        break;
    }
}

/* The worker died mid-session: keep what it had recorded, tell the client. */
static void session_on_worker_exit(void *data, const char *why)
{
    struct session *s = data;
    char message[512];
    int pending = 0;
    char *kept = spool_salvage(s->rec->core->spool, s->key, &pending);

    s->worker = NULL; /* already gone: nothing to release */
    if (kept && pending)
        snprintf(message, sizeof(message),
                 "recording failed: %s; what was recorded until then (%s) is kept and its "
                 "upload is pending",
                 why, kept);
    else if (kept)
        snprintf(message, sizeof(message),
                 "recording failed: %s; what was recorded until then is at %s%s", why,
                 s->url_base, kept);
    else
        snprintf(message, sizeof(message), "recording failed: %s", why);
    g_free(kept);
    session_fail(s, message);
}

static const struct worker_owner session_owner = {
    .on_frame = session_on_frame,
    .on_exit = session_on_worker_exit,
};

/* ---- session life cycle ----------------------------------------------- */

static void session_send_start(struct session *s)
{
    struct config *cfg = s->rec->core->cfg;
    struct ipc_start m = {
        .sdp = s->sdp_offer,
        .key = s->key,
        .spool_dir = cfg->spool_dir,
        .storage_dir = cfg->storage_dir,
        .url_base = s->url_base,
        .loopback = s->loopback,
    };
    char session_name[32];

    if (config_s3_enabled(cfg)) {
        m.has_s3 = 1;
        uploader_s3_settings(cfg, &m.s3, (long long)cfg->upload_timeout_s * 1000);
    }
    snprintf(session_name, sizeof(session_name), "%llu", (unsigned long long)s->id);
    m.session = session_name;
    for (size_t i = 0; i < cfg->n_ice_addresses; i++)
        m.ice_addresses[m.n_ice_addresses++] = cfg->ice_addresses[i];

    if (worker_send(s->worker, IPC_W_START, s->id, ipc_start_encode(&m)) != 0) {
        pool_kill(s->worker, "cannot send the session to the media worker");
        return;
    }
    for (guint i = 0; i < s->candidates->len; i++)
        worker_send(s->worker, IPC_W_CANDIDATE, s->id, g_ptr_array_index(s->candidates, i));
    g_ptr_array_set_free_func(s->candidates, NULL);
    g_ptr_array_set_size(s->candidates, 0);
    g_ptr_array_set_free_func(s->candidates, free);
    g_free(s->sdp_offer);
    s->sdp_offer = NULL;
    s->state = SESSION_STARTING;
    log_info("session %llu: worker %d, key %s", (unsigned long long)s->id,
             (int)worker_pid(s->worker), s->key);
}

/* Give waiting sessions, oldest first, the idle workers there are. */
static void recorder_assign_workers(void *data)
{
    struct recorder *rec = data;
    struct session *s;
    TAILQ_FOREACH(s, &rec->sessions, entry) {
        if (s->state != SESSION_WAITING)
            continue;
        s->worker = pool_acquire(rec->core->pool, &session_owner, s);
        if (!s->worker)
            return;
        session_send_start(s);
    }
}

static void session_stop(struct session *s)
{
    switch (s->state) {
    case SESSION_WAITING:
        session_fail(s, "stopped before recording started");
        return;
    case SESSION_STARTING:
    case SESSION_RECORDING:
        worker_send(s->worker, IPC_W_STOP, s->id, strdup("{}"));
        s->state = SESSION_STOPPING;
        s->deadline = core_now() + config_store_timeout_s(s->rec->core->cfg);
        log_info("session %llu: stopping", (unsigned long long)s->id);
        return;
    case SESSION_STOPPING:
        return;
    }
}

static void session_end(struct session *s)
{
    if (s->worker)
        pool_release(s->worker);
    if (s->rc)
        s->rc->session = NULL;
    TAILQ_REMOVE(&s->rec->sessions, s, entry);
    g_ptr_array_free(s->candidates, TRUE);
    g_free(s->sdp_offer);
    g_free(s->url_base);
    free(s);
}

static void recorder_on_start(struct rconn *rc, const struct client_msg *msg)
{
    struct recorder *rec = rc->rec;
    struct session *s;

    if (rc->session) {
        rconn_error(rc, "a session is already running on this connection");
        return;
    }
    if (rec->core->draining) { /* also set while stopping */
        rconn_error(rc, "the server is draining: it takes no new sessions; "
                        "try again shortly or on another server");
        return;
    }
    const char *refusal = pool_unavailable(rec->core->pool);
    if (refusal) {
        rconn_error(rc, refusal);
        return;
    }
    s = calloc(1, sizeof(*s));
    if (!s || random_hex(s->key, 16) != 0) {
        free(s);
        rconn_error(rc, "internal error: cannot create a session");
        return;
    }
    s->rec = rec;
    s->id = ++rec->next_session_id;
    s->rc = rc;
    snprintf(s->peer, sizeof(s->peer), "%s", rc->peer);
    s->state = SESSION_WAITING;
    s->sdp_offer = g_strdup(msg->u.start.sdp_offer);
    s->loopback = msg->u.start.loopback;
    s->url_base = g_strdup(rc->url_base);
    s->candidates = rc->early_candidates;
    rc->early_candidates = g_ptr_array_new_with_free_func(free);
    s->created_at = core_now();
    s->deadline = s->created_at + rec->core->cfg->start_timeout_s;
    rc->session = s;
    TAILQ_INSERT_TAIL(&rec->sessions, s, entry);
    log_info("session %llu: start from %s", (unsigned long long)s->id, rc->peer);
    recorder_assign_workers(rec);
}

static void recorder_on_candidate(struct rconn *rc, const struct client_msg *msg)
{
    struct session *s = rc->session;
    GPtrArray *queue = s ? s->candidates : rc->early_candidates;

    if (s && (s->state == SESSION_STARTING || s->state == SESSION_RECORDING)) {
        worker_send(s->worker, IPC_W_CANDIDATE, s->id, ipc_candidate_encode(&msg->u.candidate));
        return;
    }
    if (s && s->state == SESSION_STOPPING)
        return; /* too late to matter */
    if (queue->len >= RECORDER_MAX_QUEUED_CANDIDATES) {
        rconn_error(rc, "too many ICE candidates before start");
        return;
    }
    char *payload = ipc_candidate_encode(&msg->u.candidate);
    if (payload)
        g_ptr_array_add(queue, payload);
}

static void recorder_text(void *conn, const char *text, size_t len)
{
    struct rconn *rc = conn;
    struct client_msg msg;
    char err[512];

    if (client_msg_parse(text, len, &msg, err, sizeof(err)) != 0) {
        log_debug("recorder conn %llu: %s", (unsigned long long)rc->conn_id, err);
        rconn_error(rc, err);
        return;
    }
    switch (msg.type) {
    case CLIENT_MSG_START:
        recorder_on_start(rc, &msg);
        break;
    case CLIENT_MSG_ICE_CANDIDATE:
        recorder_on_candidate(rc, &msg);
        break;
    case CLIENT_MSG_STOP:
        if (rc->session)
            session_stop(rc->session);
        else
            rconn_error(rc, "stop: no session is running on this connection");
        break;
    }
    client_msg_clear(&msg);
}

/* videoUrl base: the configured public URL, else what the client called us.
 * The Host header is echoed only to that same client, and only if it looks
 * like a host[:port]. */
static char *recorder_url_base(struct recorder *rec, const char *host)
{
    const char *pub = rec->core->cfg->public_url;
    if (pub && *pub) {
        size_t n = strlen(pub);
        return g_strdup_printf("%s%srecordings/", pub, pub[n - 1] == '/' ? "" : "/");
    }
    int ok = host[0] != '\0' && strlen(host) < 256;
    for (const char *p = host; ok && *p; p++)
        ok = g_ascii_isalnum(*p) || strchr(".-:[]", *p);
    if (ok)
        return g_strdup_printf("http://%s/recordings/", host);
    return g_strdup_printf("http://%s:%d/recordings/", rec->core->cfg->listen_host,
                           rec->core->cfg->listen_port);
}

static void *recorder_open(struct core *core, uint64_t conn_id, const char *peer,
                           const char *host)
{
    struct recorder *rec = core->recorder;
    struct rconn *rc = calloc(1, sizeof(*rc));
    if (!rc)
        return NULL;
    rc->rec = rec;
    rc->conn_id = conn_id;
    snprintf(rc->peer, sizeof(rc->peer), "%s", peer);
    rc->url_base = recorder_url_base(rec, host);
    rc->early_candidates = g_ptr_array_new_with_free_func(free);
    return rc;
}

static void recorder_close(void *conn)
{
    struct rconn *rc = conn;
    struct session *s = rc->session;
    if (s) {
        log_info("session %llu: client went away; finishing the recording",
                 (unsigned long long)s->id);
        s->rc = NULL;
        session_stop(s);
    }
    g_ptr_array_free(rc->early_candidates, TRUE);
    g_free(rc->url_base);
    free(rc);
}

const struct service recorder_service = {
    .path = "/api/recorder",
    .open = recorder_open,
    .text = recorder_text,
    .close = recorder_close,
};

size_t recorder_active(struct recorder *rec)
{
    size_t n = 0;
    struct session *s;
    TAILQ_FOREACH(s, &rec->sessions, entry)
        n++;
    return n;
}

size_t recorder_stop_all(struct recorder *rec)
{
    struct session *s, *next;
    for (s = TAILQ_FIRST(&rec->sessions); s; s = next) {
        next = TAILQ_NEXT(s, entry);
        session_stop(s);
    }
    return recorder_active(rec);
}

void recorder_foreach(struct recorder *rec,
                      void (*fn)(const struct session_info *si, void *data), void *data)
{
    double now = core_now();
    struct session *s;
    TAILQ_FOREACH(s, &rec->sessions, entry) {
        struct session_info si = {
            .id = s->id,
            .peer = s->peer,
            .state = session_state_names[s->state],
            .key = s->key,
            .duration_s = now - s->created_at,
            .bytes = s->worker ? worker_bytes(s->worker) : 0,
            .worker_pid = s->worker ? (int)worker_pid(s->worker) : 0,
        };
        fn(&si, data);
    }
}

int recorder_kill(struct recorder *rec, uint64_t id)
{
    struct session *s;
    TAILQ_FOREACH(s, &rec->sessions, entry) {
        if (s->id == id) {
            log_info("session %llu: stopped by the operator", (unsigned long long)id);
            session_stop(s);
            return 0;
        }
    }
    return -1;
}

void recorder_tick(struct recorder *rec)
{
    double now = core_now();
    struct session *s, *next;
    for (s = TAILQ_FIRST(&rec->sessions); s; s = next) {
        next = TAILQ_NEXT(s, entry);
        if (!s->deadline || now < s->deadline)
            continue;
        log_warn("session %llu: timed out while %s", (unsigned long long)s->id,
                 session_state_names[s->state]);
        s->deadline = 0;
        if (s->worker)
            pool_kill(s->worker, s->state == SESSION_STOPPING
                                     ? "timed out finishing the recording"
                                     : "timed out starting the session");
        else
            session_fail(s, "timed out waiting for a media worker");
    }
}

struct recorder *recorder_new(struct core *core)
{
    struct recorder *rec = calloc(1, sizeof(*rec));
    if (!rec)
        return NULL;
    rec->core = core;
    TAILQ_INIT(&rec->sessions);
    pool_set_idle_callback(core->pool, recorder_assign_workers, rec);
    return rec;
}

void recorder_free(struct recorder *rec)
{
    struct session *s;
    if (!rec)
        return;
    while ((s = TAILQ_FIRST(&rec->sessions))) {
        if (s->rc)
            s->rc->session = NULL;
        s->rc = NULL;
        session_end(s);
    }
    free(rec);
}

