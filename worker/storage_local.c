/*
 * worker/storage_local.c - the local-disk storage backend.
 *
 * Owns moving a finished spool file into the storage directory durably:
 * fsync the file, rename it to dir/<key> (copy + rename when the spool is on
 * another filesystem), fsync the directory.  The work runs on a short-lived
 * thread so the main loop keeps sending heartbeats; the result is handed
 * back to the main loop with an idle source.
 */
#include "storage.h"

#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct storage_local {
    struct storage base;
    char *dir;
    char *url_base;
};

struct storage_local_job {
    char *spool_path;
    char *dst_path;
    char *tmp_path;
    char *dir;
    char *url;
    char *key;
    char error[512];
    storage_done_cb cb;
    void *user;
};

static void storage_local_job_free(struct storage_local_job *job)
{
    g_free(job->spool_path);
    g_free(job->dst_path);
    g_free(job->tmp_path);
    g_free(job->dir);
    g_free(job->url);
    g_free(job->key);
    g_free(job);
}

static int storage_local_fail(struct storage_local_job *job, const char *what, const char *path)
{
    snprintf(job->error, sizeof(job->error), "%s %s: %s", what, path, strerror(errno));
    return -1;
}

static int storage_local_fsync_path(struct storage_local_job *job, const char *path, int flags)
{
    int fd = open(path, flags | O_CLOEXEC);
    if (fd < 0)
        return storage_local_fail(job, "cannot open", path);
    int rc = fsync(fd);
    int saved = errno;
    close(fd);
    errno = saved;
    if (rc != 0)
        return storage_local_fail(job, "cannot fsync", path);
    return 0;
}

static int storage_local_copy_fd(int in, int out)
{
    char buf[65536];
    for (;;) {
        ssize_t n = read(in, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return (int)n;
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(out, buf + off, (size_t)(n - off));
            if (w < 0 && errno == EINTR)
                continue;
            if (w < 0)
                return -1;
            off += w;
        }
    }
}

/* The spool and the storage are on different filesystems: copy, then rename. */
static int storage_local_copy(struct storage_local_job *job)
{
    int in = -1, out = -1;

    in = open(job->spool_path, O_RDONLY | O_CLOEXEC);
    if (in < 0) {
        storage_local_fail(job, "cannot open", job->spool_path);
        goto error;
    }
    out = open(job->tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out < 0) {
        storage_local_fail(job, "cannot create", job->tmp_path);
        goto error;
    }
    if (storage_local_copy_fd(in, out) != 0 || fsync(out) != 0) {
        storage_local_fail(job, "cannot write", job->tmp_path);
        goto error;
    }
    close(out);
    out = -1;
    close(in);
    if (rename(job->tmp_path, job->dst_path) != 0) {
        storage_local_fail(job, "cannot rename into", job->dst_path);
        unlink(job->tmp_path);
        return -1;
    }
    unlink(job->spool_path);
    return 0;
error:
    if (out >= 0) {
        close(out);
        unlink(job->tmp_path);
    }
    if (in >= 0)
        close(in);
    return -1;
}

static int storage_local_run(struct storage_local_job *job)
{
    if (storage_local_fsync_path(job, job->spool_path, O_RDONLY) != 0)
        return -1;
    if (mkdir(job->dir, 0755) != 0 && errno != EEXIST)
        return storage_local_fail(job, "cannot create", job->dir);
    if (rename(job->spool_path, job->dst_path) != 0) {
        if (errno != EXDEV)
            return storage_local_fail(job, "cannot rename into", job->dst_path);
        if (storage_local_copy(job) != 0)
            return -1;
    }
    return storage_local_fsync_path(job, job->dir, O_RDONLY | O_DIRECTORY);
}

static gboolean storage_local_report(gpointer data)
{
    struct storage_local_job *job = data;
    struct storage_result r = {0};
    if (job->error[0])
        r.error = job->error;
    else {
        r.url = job->url;
        r.key = job->key;
    }
    job->cb(job->user, &r);
    storage_local_job_free(job);
    return G_SOURCE_REMOVE;
}

static gpointer storage_local_thread(gpointer data)
{
    struct storage_local_job *job = data;
    storage_local_run(job);
    g_idle_add(storage_local_report, job);
    return NULL;
}

static int storage_local_key_valid(const char *key)
{
    return key[0] != '\0' && key[0] != '.' && strchr(key, '/') == NULL;
}

static void storage_local_commit(struct storage *s, const char *spool_path, const char *key,
                                 storage_done_cb cb, void *user)
{
    struct storage_local *sl = (struct storage_local *)s;
    struct storage_local_job *job = g_new0(struct storage_local_job, 1);
    job->cb = cb;
    job->user = user;
    job->spool_path = g_strdup(spool_path);
    job->dir = g_strdup(sl->dir);
    job->dst_path = g_build_filename(sl->dir, key, NULL);
    job->tmp_path = g_strdup_printf("%s/.%s.tmp", sl->dir, key);
    job->url = g_strconcat(sl->url_base, key, NULL);
    job->key = g_strdup(key);
    if (!storage_local_key_valid(key)) {
        snprintf(job->error, sizeof(job->error), "invalid storage key '%s'", key);
        g_idle_add(storage_local_report, job);
        return;
    }
    GThread *t = g_thread_new("storage-local", storage_local_thread, job);
    g_thread_unref(t);
}

static void storage_local_destroy(struct storage *s)
{
    struct storage_local *sl = (struct storage_local *)s;
    g_free(sl->dir);
    g_free(sl->url_base);
    g_free(sl);
}

static const struct storage_ops storage_local_ops = {
    .name = "local",
    .commit = storage_local_commit,
    .destroy = storage_local_destroy,
};

struct storage *storage_local_new(const char *dir, const char *url_base)
{
    struct storage_local *sl = g_new0(struct storage_local, 1);
    sl->base.ops = &storage_local_ops;
    sl->dir = g_strdup(dir);
    sl->url_base = g_strdup(url_base);
    return &sl->base;
}
