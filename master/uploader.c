/*
 * master/uploader.c - running `webrtc-video-worker --upload` (see uploader.h).
 */
#include "uploader.h"

#include <glib.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core.h"
#include "ipc_link.h"
#include "ipc_msg.h"
#include "log.h"
#include "pool.h"

struct uploader {
    struct core *core;
    struct ipc_link *link;
    pid_t pid;
    char *key;
    uploader_done_cb cb;
    void *user;
};

static void uploader_free(struct uploader *u)
{
    ipc_link_free(u->link);
    g_free(u->key);
    g_free(u);
}

/* The answer: the owner hears it now; the uploader lives on, owned by
 * nobody, until the child closes its end (a link may not be freed from
 * inside its own frame callback). */
static void uploader_answer(struct uploader *u, int ok, const char *url, const char *error)
{
    uploader_done_cb cb = u->cb;
    u->cb = NULL;
    if (cb)
        cb(u->user, ok, url, error);
}

static void uploader_on_frame(void *data, const struct ipc_frame *f)
{
    struct uploader *u = data;
    json_t *root = NULL;
    char err[256];

    if (f->type == IPC_W_DONE) {
        struct ipc_done m;
        if (ipc_done_decode(f->payload, f->len, &m, &root, err, sizeof(err)) != 0) {
            /* not a confirmation: the file stays pending */
            uploader_answer(u, 0, NULL, err);
        } else {
            log_info("upload of the spooled %s done: %s (sha256 %s)", u->key, m.url,
                     m.sha256 ? m.sha256 : "-");
            uploader_answer(u, 1, m.url, NULL);
        }
    } else if (f->type == IPC_W_PENDING) {
        struct ipc_pending m;
        int bad = ipc_pending_decode(f->payload, f->len, &m, &root, err, sizeof(err));
        uploader_answer(u, 0, NULL, bad ? err : m.message);
    } else if (f->type == IPC_W_ERROR) {
        struct ipc_error m;
        int bad = ipc_error_decode(f->payload, f->len, &m, &root, err, sizeof(err));
        uploader_answer(u, 0, NULL, bad ? err : m.message);
    }
    json_decref(root); /* HELLO and anything else: ignored */
}

static void uploader_on_close(void *data, const char *reason)
{
    struct uploader *u = data;
    char msg[128];
    snprintf(msg, sizeof(msg), "the upload process ended without an answer (%s)", reason);
    uploader_answer(u, 0, NULL, msg);
    uploader_free(u);
}

static const struct ipc_link_handler uploader_handler = {
    .on_frame = uploader_on_frame,
    .on_close = uploader_on_close,
};

void uploader_s3_settings(const struct config *cfg, struct ipc_s3 *s3, long long timeout_ms)
{
    s3->bucket = cfg->s3_bucket;
    s3->region = cfg->s3_region;
    s3->endpoint = cfg->s3_endpoint && *cfg->s3_endpoint ? cfg->s3_endpoint : NULL;
    s3->prefix = cfg->s3_prefix;
    s3->path_style = cfg->s3_path_style;
    s3->access_key = cfg->s3_access_key;
    s3->secret_key = cfg->s3_secret_key;
    s3->session_token = cfg->s3_session_token && *cfg->s3_session_token ? cfg->s3_session_token
                                                                         : NULL;
    s3->part_size = (long long)cfg->s3_part_size_mib * 1024 * 1024;
    s3->timeout_ms = timeout_ms;
}

struct uploader *uploader_start(struct core *core, const char *path, const char *key,
                                uploader_done_cb cb, void *user)
{
    struct config *cfg = core->cfg;
    struct ipc_upload m = {.path = path, .key = key};
    char *argv[] = {cfg->worker_path, "--upload", "--ipc-fd", "3", NULL};
    int fd;
    pid_t pid = pool_spawn_child(cfg, argv, "the uploader", &fd);

    if (pid < 0)
        return NULL;
    struct uploader *u = g_new0(struct uploader, 1);
    u->core = core;
    u->pid = pid;
    u->key = g_strdup(key);
    u->cb = cb;
    u->user = user;
    u->link = ipc_link_new(core->base, fd, &uploader_handler, u);
    uploader_s3_settings(cfg, &m.s3, 0); /* a retry runs until S3 answers, or the spool's deadline */
    if (!u->link || ipc_link_send_owned(u->link, IPC_W_UPLOAD, 0, ipc_upload_encode(&m)) != 0) {
        if (!u->link)
            close(fd);
        kill(pid, SIGKILL);
        u->cb = NULL;
        uploader_free(u);
        log_error("cannot hand %s to its uploader", key);
        return NULL;
    }
    return u;
}

void uploader_cancel(struct uploader *u)
{
    u->cb = NULL;
    /* Ours to kill only while not reaped: once pool_reap has collected it
     * (it exited, and its EOF is not handled yet), the pid may be another
     * process's.  Reaping happens on this thread, so 0 here stays true. */
    if (u->pid > 0 && waitpid(u->pid, NULL, WNOHANG) == 0)
        kill(u->pid, SIGKILL); /* reaped by pool_reap */
    uploader_free(u);
}

pid_t uploader_pid(const struct uploader *u)
{
    return u->pid;
}
