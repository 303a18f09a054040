/*
 * worker/main.c - the media worker process, webrtc-video-worker.
 *
 * Owns the process: arguments, signals, the IPC link to the master (framed
 * per proto/ipc.h, JSON per proto/ipc_msg.h) and the session state machine,
 * all on one GLib main loop.  The master pre-forks workers; each one
 * pre-warms its pipeline, says HELLO, records exactly one session and exits:
 *
 *   idle --START--> negotiating --media--> recording --STOP/EOF/ICE/timeout/
 *   SIGTERM--> finishing --storage--> DONE (exit 0) or ERROR fatal (exit 1)
 *
 * GStreamer lives in pipeline.c, the destination of the file in storage_*.c.
 *
 * `--upload` is the other mode: no pipeline; the master sends one UPLOAD
 * frame naming a recording left in the spool (master/spool.c), the worker
 * uploads it to S3 and answers DONE or PENDING, then exits.  The master
 * thus keeps libsoup out of its own process.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <glib-unix.h>
#include <glib.h>
#include <gst/gst.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "config_build.h"
#include "ipc.h"
#include "ipc_msg.h"
#include "log.h"
#include "pipeline.h"
#include "storage.h"

#define WORKER_CONNECT_TIMEOUT_S 30
#define WORKER_DISCONNECT_GRACE_S 5
#define WORKER_SILENT_TRACK_S 10
#define WORKER_FINISH_TIMEOUT_MS 5000
#define WORKER_MEDIA_IDLE_MS 10000

enum worker_state {
    WORKER_IDLE,
    WORKER_NEGOTIATING,
    WORKER_RECORDING,
    WORKER_FINISHING,
};

static const char *const worker_state_names[] = {"idle", "negotiating", "recording", "finishing"};

struct worker {
    GMainLoop *loop;
    int fd;
    int link_dead;
    struct ipc_reader reader;
    guint ipc_watch;
    guint heartbeat_timer;
    guint connect_timer;
    guint disconnect_timer;
    guint silent_timer;
    enum worker_state state;
    uint64_t session;
    struct pipeline *pipe;
    struct storage *storage;
    char *key;
    char *spool_path;
    int fatal_sent;
    int ice_connected;
    int exit_code;
    gint64 start_us;
    long long file_bytes;
    int upload_mode; /* --upload */
};

static void worker_finish(struct worker *w);

/* ---- output ---- */

static int worker_write_all(int fd, struct iovec *iov, int iovcnt)
{
    while (iovcnt > 0) {
        struct msghdr mh = {.msg_iov = iov, .msg_iovlen = (size_t)iovcnt};
        ssize_t n = sendmsg(fd, &mh, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        while (iovcnt > 0 && (size_t)n >= iov->iov_len) {
            n -= (ssize_t)iov->iov_len;
            iov++;
            iovcnt--;
        }
        if (iovcnt > 0) {
            iov->iov_base = (char *)iov->iov_base + n;
            iov->iov_len -= (size_t)n;
        }
    }
    return 0;
}

/* Send one frame; takes ownership of payload (an encoder's result). */
static void worker_send(struct worker *w, uint16_t type, char *payload)
{
    uint8_t hdr[IPC_HEADER_SIZE];
    size_t len = payload ? strlen(payload) : 0;

    if (!payload || w->link_dead)
        goto out;
    if (ipc_header_encode(hdr, type, w->session, len) != 0) {
        log_error("cannot send a %s frame of %zu bytes", ipc_type_name(type), len);
        goto out;
    }
    struct iovec iov[2] = {{hdr, sizeof(hdr)}, {payload, len}};
    if (worker_write_all(w->fd, iov, 2) != 0) {
        log_warn("master link: %s", strerror(errno));
        w->link_dead = 1;
    }
out:
    free(payload);
}

static void worker_send_error(struct worker *w, const char *message, int fatal)
{
    struct ipc_error m = {message, fatal};
    log_write(fatal ? LOG_LEVEL_ERROR : LOG_LEVEL_WARN, "session %llu: %s",
              (unsigned long long)w->session, message);
    worker_send(w, IPC_W_ERROR, ipc_error_encode(&m));
    if (fatal)
        w->fatal_sent = 1;
}

static void worker_quit(struct worker *w, int code)
{
    w->exit_code = code;
    g_main_loop_quit(w->loop);
}

static void worker_clear_timer(guint *id)
{
    if (*id)
        g_source_remove(*id);
    *id = 0;
}

/* ---- pipeline events ---- */

static void worker_on_answer(void *user, const char *sdp)
{
    struct worker *w = user;
    struct ipc_answer m = {sdp};
    if (w->state != WORKER_NEGOTIATING)
        return;
    log_info("session %llu: answer ready in %.1f ms", (unsigned long long)w->session,
             (double)(g_get_monotonic_time() - w->start_us) / 1000.0);
    worker_send(w, IPC_W_ANSWER, ipc_answer_encode(&m));
}

static void worker_on_candidate(void *user, const struct ice_candidate *c)
{
    struct worker *w = user;
    if (w->state == WORKER_FINISHING)
        return;
    log_debug("local candidate m-line %d: %s", c->sdp_mline_index,
              c->candidate[0] ? c->candidate : "(end)");
    worker_send(w, IPC_W_CANDIDATE, ipc_candidate_encode(c));
}

static gboolean worker_on_disconnect_grace(gpointer data)
{
    struct worker *w = data;
    w->disconnect_timer = 0;
    log_warn("session %llu: ICE stayed disconnected", (unsigned long long)w->session);
    worker_finish(w);
    return G_SOURCE_REMOVE;
}

static void worker_on_ice_state(void *user, enum pipeline_ice_state state)
{
    struct worker *w = user;
    if (w->state == WORKER_FINISHING)
        return;
    log_info("session %llu: ICE state %d", (unsigned long long)w->session, (int)state);
    if (state == PIPELINE_ICE_CONNECTED || state == PIPELINE_ICE_COMPLETED) {
        w->ice_connected = 1;
        worker_clear_timer(&w->disconnect_timer);
    } else if (state == PIPELINE_ICE_DISCONNECTED && !w->disconnect_timer) {
        w->disconnect_timer =
            g_timeout_add_seconds(WORKER_DISCONNECT_GRACE_S, worker_on_disconnect_grace, w);
    } else if (state == PIPELINE_ICE_FAILED) {
        if (!pipeline_has_media(w->pipe))
            worker_send_error(w, "ICE connection failed", 1);
        worker_finish(w);
    }
}

static gboolean worker_on_silent_track(gpointer data)
{
    struct worker *w = data;
    w->silent_timer = 0;
    pipeline_end_silent_tracks(w->pipe);
    return G_SOURCE_REMOVE;
}

static void worker_on_media(void *user)
{
    struct worker *w = user;
    if (w->state != WORKER_NEGOTIATING)
        return;
    log_info("session %llu: recording", (unsigned long long)w->session);
    w->state = WORKER_RECORDING;
    worker_clear_timer(&w->connect_timer);
    w->silent_timer = g_timeout_add_seconds(WORKER_SILENT_TRACK_S, worker_on_silent_track, w);
}

static void worker_on_pipeline_error(void *user, const char *message)
{
    struct worker *w = user;
    if (w->state == WORKER_FINISHING)
        return;
    worker_send_error(w, message, !pipeline_has_media(w->pipe));
    worker_finish(w);
}

static void worker_on_stored(void *user, const struct storage_result *r)
{
    struct worker *w = user;
    if (r->pending) {
        struct ipc_pending m = {w->key, w->file_bytes, r->error};
        worker_send(w, IPC_W_PENDING, ipc_pending_encode(&m));
        worker_quit(w, 0);
        return;
    }
    if (r->error) {
        char msg[1100];
        snprintf(msg, sizeof(msg), "cannot store the recording: %s", r->error);
        worker_send_error(w, msg, 1);
        worker_quit(w, 1);
        return;
    }
    struct ipc_done m = {r->key, r->url, w->file_bytes,
                         w->pipe ? pipeline_duration_ms(w->pipe) : 0, r->sha256};
    log_info("session %llu: stored %s (%lld bytes, %lld ms)", (unsigned long long)w->session,
             r->url, m.bytes, m.duration_ms);
    worker_send(w, IPC_W_DONE, ipc_done_encode(&m));
    worker_quit(w, 0);
}

static void worker_on_spool(void *user, uint64_t stable, uint64_t seek_back)
{
    struct worker *w = user;
    if (w->state == WORKER_RECORDING || w->state == WORKER_NEGOTIATING)
        storage_grow(w->storage, w->spool_path, stable, seek_back);
}

static void worker_on_finished(void *user)
{
    struct worker *w = user;
    struct stat st;
    pipeline_stop(w->pipe);
    if (!pipeline_has_media(w->pipe)) {
        if (!w->fatal_sent)
            worker_send_error(w, "no media was received", 1);
        if (w->spool_path)
            unlink(w->spool_path);
        worker_quit(w, 1);
        return;
    }
    w->file_bytes = stat(w->spool_path, &st) == 0 ? (long long)st.st_size : pipeline_bytes(w->pipe);
    storage_commit(w->storage, w->spool_path, w->key, worker_on_stored, w);
}

static const struct pipeline_callbacks worker_pipeline_callbacks = {
    .answer = worker_on_answer,
    .candidate = worker_on_candidate,
    .ice_state = worker_on_ice_state,
    .media = worker_on_media,
    .error = worker_on_pipeline_error,
    .finished = worker_on_finished,
    .spool = worker_on_spool,
};

/* ---- session ---- */

static void worker_finish(struct worker *w)
{
    if (w->state == WORKER_FINISHING)
        return;
    if (w->upload_mode && w->state != WORKER_IDLE)
        return; /* an upload ends on its own (S3's answer, its retries) */
    if (w->state == WORKER_IDLE) { /* an uploader left without its UPLOAD too */
        worker_quit(w, 0);
        return;
    }
    log_info("session %llu: finishing", (unsigned long long)w->session);
    w->state = WORKER_FINISHING;
    worker_clear_timer(&w->connect_timer);
    worker_clear_timer(&w->disconnect_timer);
    worker_clear_timer(&w->silent_timer);
    pipeline_finish(w->pipe, WORKER_FINISH_TIMEOUT_MS);
}

static gboolean worker_on_connect_timeout(gpointer data)
{
    struct worker *w = data;
    w->connect_timer = 0;
    if (!pipeline_has_media(w->pipe))
        worker_send_error(w, w->ice_connected ? "no media was received" : "ICE did not connect",
                          1);
    worker_finish(w);
    return G_SOURCE_REMOVE;
}

static int worker_key_valid(const char *key)
{
    if (!key[0] || strlen(key) > 128)
        return 0;
    for (const char *c = key; *c; c++)
        if (!g_ascii_isalnum(*c) && *c != '-' && *c != '_')
            return 0;
    return 1;
}

static int worker_begin(struct worker *w, const struct ipc_start *m, char *err, size_t errlen)
{
    if (!worker_key_valid(m->key)) {
        snprintf(err, errlen, "invalid recording key");
        return -1;
    }
    if (pipeline_set_offer(w->pipe, m->sdp, err, errlen) != 0)
        return -1;
    w->key = g_strconcat(m->key, pipeline_extension(w->pipe), NULL);
    w->spool_path = g_strdup_printf("%s/%s.part", m->spool_dir, w->key);
    if (m->has_s3)
        w->storage = storage_s3_new(&m->s3, err, errlen);
    else
        w->storage = storage_local_new(m->storage_dir, m->url_base);
    if (!w->storage)
        return -1;
    struct pipeline_start_params params = {
        .location = w->spool_path,
        .ice_addresses = m->ice_addresses,
        .n_ice_addresses = m->n_ice_addresses,
        .loopback = m->loopback,
    };
    return pipeline_start(w->pipe, &params, err, errlen);
}

static void worker_on_start(struct worker *w, const struct ipc_frame *f)
{
    struct ipc_start m;
    json_t *root = NULL;
    char err[512];

    if (w->upload_mode) { /* no pipeline to start */
        worker_send_error(w, "unexpected start request", 1);
        worker_quit(w, 1);
        return;
    }
    if (w->state != WORKER_IDLE) {
        worker_send_error(w, "a session is already running", 0);
        return;
    }
    w->start_us = g_get_monotonic_time();
    w->session = f->id;
    w->state = WORKER_NEGOTIATING;
    if (ipc_start_decode(f->payload, f->len, &m, &root, err, sizeof(err)) != 0 ||
        worker_begin(w, &m, err, sizeof(err)) != 0) {
        worker_send_error(w, err, 1);
        worker_finish(w);
        goto out;
    }
    log_info("session %llu: started, recording to %s", (unsigned long long)w->session,
             w->spool_path);
    w->connect_timer = g_timeout_add_seconds(WORKER_CONNECT_TIMEOUT_S, worker_on_connect_timeout, w);
out:
    json_decref(root);
}

static void worker_on_remote_candidate(struct worker *w, const struct ipc_frame *f)
{
    struct ice_candidate c;
    json_t *root = NULL;
    char err[256];

    if (w->state == WORKER_IDLE || w->state == WORKER_FINISHING)
        return;
    if (ipc_candidate_decode(f->payload, f->len, &c, &root, err, sizeof(err)) != 0 ||
        pipeline_add_candidate(w->pipe, &c, err, sizeof(err)) != 0)
        worker_send_error(w, err, 0);
    json_decref(root);
}

/* --upload: one spooled recording to S3. */
static void worker_on_upload(struct worker *w, const struct ipc_frame *f)
{
    struct ipc_upload m;
    json_t *root = NULL;
    char err[512];
    struct stat st;

    if (!w->upload_mode || w->state != WORKER_IDLE) {
        worker_send_error(w, "unexpected upload request", 1);
        worker_quit(w, 1);
        return;
    }
    w->session = f->id;
    w->state = WORKER_FINISHING;
    if (ipc_upload_decode(f->payload, f->len, &m, &root, err, sizeof(err)) != 0 ||
        !(w->storage = storage_s3_new(&m.s3, err, sizeof(err)))) {
        worker_send_error(w, err, 1);
        worker_quit(w, 1);
        goto out;
    }
    w->key = g_strdup(m.key);
    w->spool_path = g_strdup(m.path);
    w->file_bytes = stat(m.path, &st) == 0 ? (long long)st.st_size : 0;
    log_info("uploading the spooled %s (%lld bytes)", m.key, w->file_bytes);
    storage_commit(w->storage, w->spool_path, w->key, worker_on_stored, w);
out:
    json_decref(root);
}

static void worker_on_frame(struct worker *w, const struct ipc_frame *f)
{
    switch (f->type) {
    case IPC_W_UPLOAD:
        worker_on_upload(w, f);
        break;
    case IPC_W_START:
        worker_on_start(w, f);
        break;
    case IPC_W_CANDIDATE:
        worker_on_remote_candidate(w, f);
        break;
    case IPC_W_STOP:
        log_info("session %llu: stop requested", (unsigned long long)w->session);
        worker_finish(w);
        break;
    default:
        log_warn("ignoring unexpected %s frame", ipc_type_name(f->type));
        break;
    }
}

/* ---- the link ---- */

static void worker_on_link_lost(struct worker *w, const char *why)
{
    log_warn("master link lost (%s)", why);
    w->link_dead = 1;
    w->ipc_watch = 0;
    worker_finish(w);
}

static gboolean worker_on_ipc(gint fd, GIOCondition cond, gpointer data)
{
    struct worker *w = data;
    struct ipc_frame f;
    enum ipc_decode_result res;
    uint8_t buf[65536];

    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return G_SOURCE_CONTINUE;
    if (n <= 0) {
        worker_on_link_lost(w, n == 0 ? "end of file" : strerror(errno));
        return G_SOURCE_REMOVE;
    }
    if (ipc_reader_append(&w->reader, buf, (size_t)n) != 0) {
        worker_on_link_lost(w, "out of memory");
        return G_SOURCE_REMOVE;
    }
    while ((res = ipc_reader_next(&w->reader, &f)) == IPC_DECODE_OK)
        worker_on_frame(w, &f);
    if (res == IPC_DECODE_ERROR) {
        worker_on_link_lost(w, "protocol violation");
        return G_SOURCE_REMOVE;
    }
    return G_SOURCE_CONTINUE;
}

static gboolean worker_on_heartbeat(gpointer data)
{
    struct worker *w = data;
    struct ipc_heartbeat m = {worker_state_names[w->state], pipeline_bytes(w->pipe)};
    worker_send(w, IPC_W_HEARTBEAT, ipc_heartbeat_encode(&m));
    if (w->state == WORKER_RECORDING && pipeline_idle_ms(w->pipe) > WORKER_MEDIA_IDLE_MS) {
        log_warn("session %llu: no media for %d s", (unsigned long long)w->session,
                 WORKER_MEDIA_IDLE_MS / 1000);
        worker_finish(w);
    }
    return G_SOURCE_CONTINUE;
}

static gboolean worker_on_signal(gpointer data)
{
    struct worker *w = data;
    log_info("signal received: finishing");
    worker_finish(w);
    return G_SOURCE_CONTINUE;
}

/* ---- process ---- */

static int worker_parse_args(int argc, char **argv, int *fd, enum log_level *level,
                             int *upload)
{
    static const struct option opts[] = {
        {"ipc-fd", required_argument, NULL, 'f'},
        {"log-level", required_argument, NULL, 'l'},
        {"upload", no_argument, NULL, 'u'},
        {NULL, 0, NULL, 0},
    };
    int c;
    char *end;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'u') {
            *upload = 1;
        } else if (c == 'f') {
            long v = strtol(optarg, &end, 10);
            if (*end || v < 0 || v > 65535)
                return -1;
            *fd = (int)v;
        } else if (c != 'l' || log_level_parse(optarg, level) != 0) {
            return -1;
        }
    }
    return *fd >= 0 && optind == argc && fcntl(*fd, F_GETFD) >= 0 ? 0 : -1;
}

static void worker_setup_fd(int fd)
{
    fcntl(fd, F_SETFD, fcntl(fd, F_GETFD) | FD_CLOEXEC);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
}

static int worker_init(struct worker *w, char *err, size_t errlen)
{
    if (w->upload_mode) {
        w->ipc_watch = g_unix_fd_add(w->fd, G_IO_IN | G_IO_HUP | G_IO_ERR, worker_on_ipc, w);
        return 0;
    }
    if (pipeline_check_elements(err, errlen) != 0)
        return -1;
    w->pipe = pipeline_new(&worker_pipeline_callbacks, w, err, errlen);
    if (!w->pipe)
        return -1;
    w->ipc_watch = g_unix_fd_add(w->fd, G_IO_IN | G_IO_HUP | G_IO_ERR, worker_on_ipc, w);
    w->heartbeat_timer = g_timeout_add(IPC_HEARTBEAT_INTERVAL_MS, worker_on_heartbeat, w);
    g_unix_signal_add(SIGTERM, worker_on_signal, w);
    g_unix_signal_add(SIGINT, worker_on_signal, w);
    return 0;
}

static void worker_cleanup(struct worker *w)
{
    if (w->ipc_watch)
        g_source_remove(w->ipc_watch);
    worker_clear_timer(&w->heartbeat_timer);
    if (w->pipe)
        pipeline_free(w->pipe);
    storage_destroy(w->storage);
    ipc_reader_free(&w->reader);
    g_free(w->key);
    g_free(w->spool_path);
    g_main_loop_unref(w->loop);
    close(w->fd);
}

int main(int argc, char **argv)
{
    struct worker w = {.fd = -1, .exit_code = 1};
    enum log_level level = LOG_LEVEL_INFO;
    char err[512];

    if (worker_parse_args(argc, argv, &w.fd, &level, &w.upload_mode) != 0) {
        fprintf(stderr, "usage: %s --ipc-fd N [--upload] [--log-level debug|info|warn|error]\n",
                argv[0]);
        return 2;
    }
    log_init(w.upload_mode ? "uploader" : "worker", level);
    signal(SIGPIPE, SIG_IGN);
    worker_setup_fd(w.fd);
    ipc_reader_init(&w.reader);
    w.loop = g_main_loop_new(NULL, FALSE);
    if (!w.upload_mode)
        gst_init(NULL, NULL);
    if (worker_init(&w, err, sizeof(err)) != 0) {
        worker_send_error(&w, err, 1);
        goto out;
    }
    struct ipc_hello hello = {(long long)getpid()};
    worker_send(&w, IPC_W_HELLO, ipc_hello_encode(&hello));
    log_debug("webrtc-video-worker %s idle and ready", WV_VERSION);
    g_main_loop_run(w.loop);
out:
    worker_cleanup(&w);
    if (!w.upload_mode)
        gst_deinit();
    return w.exit_code;
}
