/*
 * worker/storage_s3.c - the S3 storage backend: one recording into one object.
 *
 * Owns turning a spool file into an S3 object that is byte-identical to it,
 * and keeping the file when that cannot be done (docs/s3.md, "Storage"):
 *
 *   - Small recordings (at most one part size) go up as one PUT at commit.
 *   - Larger ones are a multipart upload whose parts go up while the session
 *     still records (grow()): part 1 is [0, part size) and holds the Matroska
 *     header, which the muxer rewrites when it finishes, so it is sent last;
 *     parts 2.. cover consecutive ranges (part size to twice that) up to the
 *     muxer's stable mark (bytes it will never seek back to: everything
 *     before the open cluster).  Part numbers, not upload
 *     order, set the object's byte order.  At commit only part 1 and the tail
 *     are left, so stop -> uploadSuccess does not grow with the recording.
 *   - Proof: every part's SHA-256 is taken of the bytes sent; at commit a
 *     thread hashes the finished file (whole, and per part range) while the
 *     last parts and CompleteMultipartUpload go up.  Success is reported only
 *     when every part's range in the finished file hashes to what was sent
 *     for it: the object is the file, byte for byte.  A part the muxer went
 *     back into after it was sent (it does not, but the pipeline reports
 *     every backward seek) is sent again under the same number before
 *     completing; a mismatch found after completing makes the upload fail
 *     into the spool, and the retry uploads the file afresh.
 *   - Failure (the S3 client gave up after its retries, credentials refused,
 *     or the upload budget ran out): the multipart upload is aborted, the file
 *     is renamed from KEY.part to KEY in the spool and a sidecar (KEY.upload,
 *     proto/spool_meta.h) says what it is; the result is `pending` and the
 *     master retries it later (master/spool.c).  Nothing is deleted before
 *     S3 confirmed it.
 *
 * At most STORAGE_S3_PARALLEL parts are in flight, each held in memory once
 * (under twice the part size: parts cut while recording reach up to that).  Everything runs on the worker's main loop except the
 * final hash, which runs on a GTask thread.
 */
#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <glib.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hex.h"
#include "log.h"
#include "s3.h"
#include "spool_meta.h"
#include "storage.h"

#define STORAGE_S3_PARALLEL 2  /* parts in flight at once */
#define STORAGE_S3_ABORT_MS 3000 /* how long a failed upload waits for its abort */

enum part_state { PART_QUEUED, PART_SENDING, PART_SENT };

struct s3_part_rec {
    guint number;
    guint64 offset, len;
    enum part_state state;
    int dirty;               /* the muxer went back into it after it was sent */
    char *etag;
    unsigned char sent[32];  /* SHA-256 of the bytes sent */
    unsigned char final[32]; /* SHA-256 of the range in the finished file */
};

struct storage_s3 {
    struct storage base;
    struct s3_client *client;
    guint64 part_size;
    gint64 timeout_ms;
    /* the recording (a worker stores exactly one) */
    char *path, *key, *object_key, *url;
    int fd;
    GPtrArray *parts;  /* struct s3_part_rec, [i] is part number i + 1 */
    char *upload_id;
    int creating;      /* CreateMultipartUpload in flight */
    guint in_flight;
    guint64 assigned;  /* [part_size, assigned) belongs to parts 2.. */
    guint64 size;      /* at commit */
    int committed, hashed, completing, completed, finished;
    char *live_failed; /* why an upload during the recording failed: pending at commit */
    char sha256[65];
    GCancellable *cancel;
    guint timer;
    char *commit_path; /* commit()'s spool_path, for s3store_commit_run() */
    guint commit_idle;
    storage_done_cb cb;
    void *user;
};

struct part_op {
    struct storage_s3 *s;
    struct s3_part_rec *part;
    /* read and hashed off the main loop (s3store_read_part_thread) */
    int fd;
    guint64 offset, len;
    unsigned char sent[32];
};

static void s3store_pump(struct storage_s3 *s);
static void s3store_fail(struct storage_s3 *s, const char *what, const GError *gerr);

static const char *s3store_content_type(const char *key)
{
    return g_str_has_suffix(key, ".webm") ? "video/webm" : "video/x-matroska";
}

/* ---- the end: success, or the file kept for a retry --------------------- */

static void s3store_report(struct storage_s3 *s, const struct storage_result *r)
{
    storage_done_cb cb = s->cb;
    s->cb = NULL;
    if (s->timer)
        g_source_remove(s->timer);
    s->timer = 0;
    if (cb)
        cb(s->user, r);
}

static char *s3store_final_path(const char *path)
{
    if (g_str_has_suffix(path, ".part"))
        return g_strndup(path, strlen(path) - strlen(".part"));
    return g_strdup(path);
}

static void s3store_succeed(struct storage_s3 *s)
{
    char *final = s3store_final_path(s->path);
    char *meta = g_strconcat(final, SPOOL_META_SUFFIX, NULL);
    struct storage_result r = {.url = s->url, .key = s->object_key, .sha256 = s->sha256};

    s->finished = 1;
    log_info("s3: %s stored as %s (%llu bytes, sha256 %s)", s->key, s->object_key,
             (unsigned long long)s->size, s->sha256);
    if (unlink(s->path) != 0)
        log_warn("s3: cannot remove the spooled %s: %s", s->path, strerror(errno));
    unlink(meta); /* a retried upload's sidecar */
    g_free(meta);
    g_free(final);
    s3store_report(s, &r);
}

/* Keep the file in the spool with its sidecar; 0, or -1 if even that failed. */
static int s3store_spool(struct storage_s3 *s, const char *why, char *err, size_t errlen)
{
    char *final = s3store_final_path(s->path);
    char *meta_path = g_strconcat(final, SPOOL_META_SUFFIX, NULL);
    char *old = NULL, *text = NULL;
    json_t *root = NULL;
    struct spool_meta prev, m = {.key = s->key, .bytes = (long long)s->size, .attempts = 1};
    GError *gerr = NULL;
    int rc = -1;

    if (g_file_get_contents(meta_path, &old, NULL, NULL) &&
        spool_meta_decode(old, strlen(old), &prev, &root, err, errlen) == 0)
        m.attempts = prev.attempts + 1;
    m.sha256 = s->hashed ? s->sha256 : NULL;
    m.last_error = why;
    m.updated = (long long)time(NULL);
    text = spool_meta_encode(&m);
    if (strcmp(final, s->path) != 0 && rename(s->path, final) != 0) {
        snprintf(err, errlen, "cannot rename %s: %s", s->path, strerror(errno));
        goto out;
    }
    if (!text || !g_file_set_contents_full(meta_path, text, -1,
                                           G_FILE_SET_CONTENTS_CONSISTENT, 0640, &gerr)) {
        snprintf(err, errlen, "cannot write %s: %s", meta_path, gerr ? gerr->message : "encoding");
        goto out;
    }
    rc = 0;
out:
    g_clear_error(&gerr);
    json_decref(root);
    free(text);
    g_free(old);
    g_free(meta_path);
    g_free(final);
    return rc;
}

static void s3store_give_up(struct storage_s3 *s, const char *why)
{
    char err[512], msg[1024];
    struct storage_result r = {.error = msg};

    if (s3store_spool(s, why, err, sizeof(err)) == 0) {
        r.pending = 1;
        snprintf(msg, sizeof(msg), "%s", why);
    } else {
        snprintf(msg, sizeof(msg), "%s; and the spool: %s", why, err);
    }
    log_warn("s3: %s: upload pending: %s", s->key, msg);
    s3store_report(s, &r);
}

struct abort_op {
    struct storage_s3 *s;
    char *why;
    guint timer;
    int done;
};

/* The abort answered or its time ran out, whichever is first. */
static void s3store_abort_finish(struct abort_op *op)
{
    if (op->done++)
        return;
    if (op->timer)
        g_source_remove(op->timer);
    op->timer = 0;
    s3store_give_up(op->s, op->why);
}

static void s3store_on_aborted(GObject *src, GAsyncResult *res, gpointer data)
{
    struct abort_op *op = data;
    GError *gerr = NULL;
    (void)src;
    if (!s3_multipart_abort_finish(op->s->client, res, &gerr))
        log_warn("s3: abort of %s failed: %s", op->s->key, gerr->message);
    g_clear_error(&gerr);
    s3store_abort_finish(op);
    g_free(op->why);
    g_free(op);
}

static gboolean s3store_on_abort_timeout(gpointer data)
{
    struct abort_op *op = data;
    op->timer = 0;
    s3store_abort_finish(op); /* the answer frees op, if it ever comes */
    return G_SOURCE_REMOVE;
}

static void s3store_fail(struct storage_s3 *s, const char *what, const GError *gerr)
{
    char why[768];
    if (s->finished)
        return;
    s->finished = 1;
    snprintf(why, sizeof(why), "%s%s%s", what, gerr ? ": " : "", gerr ? gerr->message : "");
    g_cancellable_cancel(s->cancel);
    if (!s->committed) {
        log_warn("s3: %s: %s while recording; the recording will be spooled", s->key, why);
        s->live_failed = g_strdup(why); /* commit() spools it */
        return;
    }
    if (!s->upload_id || s->completed) {
        s3store_give_up(s, why);
        return;
    }
    /* A failed multipart upload is aborted (its parts cost storage). */
    struct abort_op *op = g_new0(struct abort_op, 1);
    op->s = s;
    op->why = g_strdup(why);
    op->timer = g_timeout_add(STORAGE_S3_ABORT_MS, s3store_on_abort_timeout, op);
    s3_multipart_abort_async(s->client, s->key, s->upload_id, NULL,
                             s3store_on_aborted, op);
}

static gboolean s3store_on_timeout(gpointer data)
{
    struct storage_s3 *s = data;
    char what[128];
    s->timer = 0;
    snprintf(what, sizeof(what), "the upload did not finish within %lld s",
             (long long)(s->timeout_ms / 1000));
    s3store_fail(s, what, NULL);
    return G_SOURCE_REMOVE;
}

/* ---- single PUT --------------------------------------------------------- */

static void s3store_on_put(GObject *src, GAsyncResult *res, gpointer data)
{
    struct storage_s3 *s = data;
    GError *gerr = NULL;
    (void)src;
    if (!s3_put_object_finish(s->client, res, &gerr)) {
        s3store_fail(s, "S3 PUT failed", gerr);
        g_error_free(gerr);
        return;
    }
    s3store_succeed(s);
}

/* Read [off, off + len) of the spool file fd; NULL with errno on failure. */
static GBytes *s3store_read(int fd, guint64 off, guint64 len)
{
    guchar *buf = g_malloc(len ? len : 1);
    guint64 got = 0;
    while (got < len) {
        ssize_t n = pread(fd, buf + got, len - got, (off_t)(off + got));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0)
                errno = EIO; /* shorter than it was */
            g_free(buf);
            return NULL;
        }
        got += (guint64)n;
    }
    return g_bytes_new_take(buf, len);
}

/* s3store_read() failed, errno says why. */
static void s3store_fail_read(struct storage_s3 *s)
{
    GError *gerr = g_error_new(G_IO_ERROR, g_io_error_from_errno(errno), "%s: %s", s->path,
                               strerror(errno));
    s3store_fail(s, "cannot read the spooled recording", gerr);
    g_error_free(gerr);
}

static void s3store_put(struct storage_s3 *s)
{
    unsigned char md[32];
    GBytes *body = s3store_read(s->fd, 0, s->size);
    if (!body) {
        s3store_fail_read(s);
        return;
    }
    EVP_Digest(g_bytes_get_data(body, NULL), s->size, md, NULL, EVP_sha256(), NULL);
    hex_encode(md, 32, s->sha256);
    s->hashed = 1;
    s3_put_object_async(s->client, s->key, body, s->sha256, s3store_content_type(s->key),
                        s->cancel, s3store_on_put, s);
    g_bytes_unref(body);
}

/* ---- multipart ---------------------------------------------------------- */

static struct s3_part_rec *s3store_add_part(struct storage_s3 *s, guint64 off, guint64 len)
{
    struct s3_part_rec *p = g_new0(struct s3_part_rec, 1);
    p->number = s->parts->len + 1;
    p->offset = off;
    p->len = len;
    g_ptr_array_add(s->parts, p);
    return p;
}

static void s3store_part_free(gpointer data)
{
    struct s3_part_rec *p = data;
    g_free(p->etag);
    g_free(p);
}

/* S3 has the object and the finished file is hashed: the object is the
 * file if every part's range hashes to what was sent for it. */
static void s3store_check(struct storage_s3 *s)
{
    if (s->finished || !s->completed || !s->hashed)
        return;
    for (guint i = 0; i < s->parts->len; i++) {
        struct s3_part_rec *p = g_ptr_array_index(s->parts, i);
        if (memcmp(p->sent, p->final, 32) != 0) {
            char what[160];
            snprintf(what, sizeof(what), "the object differs from the spooled file in part %u;"
                     " it will be uploaded again", p->number);
            s3store_fail(s, what, NULL);
            return;
        }
    }
    s3store_succeed(s);
}

static void s3store_on_complete(GObject *src, GAsyncResult *res, gpointer data)
{
    struct storage_s3 *s = data;
    GError *gerr = NULL;
    (void)src;
    if (!s3_multipart_complete_finish(s->client, res, &gerr)) {
        s3store_fail(s, "S3 CompleteMultipartUpload failed", gerr);
        g_error_free(gerr);
        return;
    }
    s->completed = 1;
    s3store_check(s);
}

/* Every part sent: complete, while the hash of the finished file runs. */
static void s3store_try_complete(struct storage_s3 *s)
{
    if (s->finished || !s->committed || s->completing || s->in_flight)
        return;
    for (guint i = 0; i < s->parts->len; i++) {
        struct s3_part_rec *p = g_ptr_array_index(s->parts, i);
        if (p->state != PART_SENT)
            return;
    }
    struct s3_part *list = g_new0(struct s3_part, s->parts->len);
    for (guint i = 0; i < s->parts->len; i++) {
        struct s3_part_rec *p = g_ptr_array_index(s->parts, i);
        list[i].number = p->number;
        list[i].etag = p->etag;
    }
    s->completing = 1;
    log_debug("s3: %s: completing %u parts", s->key, s->parts->len);
    s3_multipart_complete_async(s->client, s->key, s->upload_id, list, s->parts->len, s->cancel,
                                s3store_on_complete, s);
    g_free(list);
}

static void s3store_on_part(GObject *src, GAsyncResult *res, gpointer data)
{
    struct part_op *op = data;
    struct storage_s3 *s = op->s;
    GError *gerr = NULL;
    char *etag = s3_multipart_upload_part_finish(s->client, res, &gerr);
    (void)src;
    s->in_flight--;
    if (!etag) {
        char what[64];
        snprintf(what, sizeof(what), "S3 UploadPart %u failed", op->part->number);
        s3store_fail(s, what, gerr);
        g_error_free(gerr);
        g_free(op);
        return;
    }
    g_free(op->part->etag);
    op->part->etag = etag;
    /* The muxer went back into it while it was in flight: send it again. */
    op->part->state = op->part->dirty ? PART_QUEUED : PART_SENT;
    op->part->dirty = 0;
    g_free(op);
    s3store_pump(s);
}

/* A part's bytes and their SHA-256, in a thread: a part is part_size bytes
 * (5 MiB or more) and its parts are sent while media records, so neither
 * the read nor the hash runs on the worker's main loop. */
static void s3store_read_part_thread(GTask *task, gpointer src, gpointer data,
                                     GCancellable *cancel)
{
    struct part_op *op = data;
    (void)src;
    (void)cancel;
    GBytes *body = s3store_read(op->fd, op->offset, op->len);
    if (!body) {
        int e = errno;
        g_task_return_new_error(task, G_IO_ERROR, g_io_error_from_errno(e), "%s", strerror(e));
        return;
    }
    EVP_Digest(g_bytes_get_data(body, NULL), op->len, op->sent, NULL, EVP_sha256(), NULL);
    g_task_return_pointer(task, body, (GDestroyNotify)g_bytes_unref);
}

static void s3store_on_part_read(GObject *src, GAsyncResult *res, gpointer data)
{
    struct part_op *op = g_task_get_task_data(G_TASK(res));
    struct storage_s3 *s = op->s;
    struct s3_part_rec *p = op->part;
    GError *gerr = NULL;
    GBytes *body = g_task_propagate_pointer(G_TASK(res), &gerr);
    (void)src;
    (void)data;
    if (!body || s->finished) { /* s3store_on_part() will not run for it */
        s->in_flight--;
        if (!body) {
            GError *read_err = g_error_new(G_IO_ERROR, gerr->code, "%s: %s", s->path,
                                           gerr->message);
            s3store_fail(s, "cannot read the spooled recording", read_err);
            g_error_free(read_err);
            g_error_free(gerr);
        }
        if (body)
            g_bytes_unref(body);
        g_free(op);
        return;
    }
    char sent_hex[65];
    memcpy(p->sent, op->sent, 32);
    hex_encode(p->sent, 32, sent_hex);
    log_debug("s3: %s part %u [%llu, +%llu)%s", s->key, p->number, (unsigned long long)p->offset,
              (unsigned long long)p->len, s->committed ? "" : " while recording");
    s3_multipart_upload_part_async(s->client, s->key, s->upload_id, p->number, body, sent_hex,
                                   s->cancel, s3store_on_part, op);
    g_bytes_unref(body);
}

static void s3store_send_part(struct storage_s3 *s, struct s3_part_rec *p)
{
    struct part_op *op = g_new0(struct part_op, 1);
    op->s = s;
    op->part = p;
    op->fd = s->fd;
    op->offset = p->offset;
    op->len = p->len;
    p->state = PART_SENDING;
    s->in_flight++; /* from the read on: s3store_try_complete() waits for it */
    GTask *task = g_task_new(NULL, NULL, s3store_on_part_read, NULL);
    g_task_set_task_data(task, op, NULL);
    g_task_run_in_thread(task, s3store_read_part_thread);
    g_object_unref(task);
}

/* Send queued parts, at most STORAGE_S3_PARALLEL at once.  Part 1 (the
 * header) only once the file is finished. */
static void s3store_pump(struct storage_s3 *s)
{
    if (s->finished || !s->upload_id)
        return;
    for (guint i = 1; i <= s->parts->len && s->in_flight < STORAGE_S3_PARALLEL; i++) {
        struct s3_part_rec *p = g_ptr_array_index(s->parts, i % s->parts->len);
        if (p->number == 1 && !s->committed)
            continue;
        if (p->state == PART_QUEUED)
            s3store_send_part(s, p);
        if (s->finished)
            return;
    }
    s3store_try_complete(s);
}

static void s3store_on_created(GObject *src, GAsyncResult *res, gpointer data)
{
    struct storage_s3 *s = data;
    GError *gerr = NULL;
    (void)src;
    s->creating = 0;
    s->upload_id = s3_multipart_create_finish(s->client, res, &gerr);
    if (!s->upload_id) {
        s3store_fail(s, "S3 CreateMultipartUpload failed", gerr);
        g_error_free(gerr);
        return;
    }
    log_info("s3: %s: multipart upload started", s->key);
    s3store_pump(s);
}

static void s3store_start_multipart(struct storage_s3 *s)
{
    if (s->upload_id || s->creating || s->finished)
        return;
    s->creating = 1;
    s3_multipart_create_async(s->client, s->key, s3store_content_type(s->key), s->cancel,
                              s3store_on_created, s);
}

/* ---- the final hash (a thread) ------------------------------------------ */

struct hash_job {
    char *path;
    guint n;
    guint64 *offsets, *lens;
    unsigned char (*md)[32];
    unsigned char whole[32];
};

static void hash_job_free(gpointer data)
{
    struct hash_job *j = data;
    g_free(j->path);
    g_free(j->offsets);
    g_free(j->lens);
    g_free(j->md);
    g_free(j);
}

/* The whole file and each part range, in one sequential read. */
static void s3store_hash_thread(GTask *task, gpointer src, gpointer data, GCancellable *cancel)
{
    struct hash_job *j = data;
    EVP_MD_CTX *whole = EVP_MD_CTX_new(), *part = EVP_MD_CTX_new();
    guchar *buf = g_malloc(1 << 20);
    int fd = open(j->path, O_RDONLY | O_CLOEXEC);
    (void)src;
    (void)cancel;
    if (fd < 0 || !whole || !part)
        goto error;
    EVP_DigestInit_ex(whole, EVP_sha256(), NULL);
    for (guint i = 0; i < j->n; i++) {
        guint64 left = j->lens[i];
        EVP_DigestInit_ex(part, EVP_sha256(), NULL);
        if (lseek(fd, (off_t)j->offsets[i], SEEK_SET) < 0)
            goto error;
        while (left > 0) {
            ssize_t n = read(fd, buf, left < (1u << 20) ? left : (1u << 20));
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0) {
                if (n == 0)
                    errno = EIO; /* shorter than its parts: not "Success" */
                goto error;
            }
            EVP_DigestUpdate(whole, buf, (size_t)n);
            EVP_DigestUpdate(part, buf, (size_t)n);
            left -= (guint64)n;
        }
        EVP_DigestFinal_ex(part, j->md[i], NULL);
    }
    EVP_DigestFinal_ex(whole, j->whole, NULL);
    close(fd);
    EVP_MD_CTX_free(whole);
    EVP_MD_CTX_free(part);
    g_free(buf);
    g_task_return_boolean(task, TRUE);
    return;
error:
    g_task_return_new_error(task, G_IO_ERROR, g_io_error_from_errno(errno), "%s: %s", j->path,
                            strerror(errno ? errno : EIO));
    if (fd >= 0)
        close(fd);
    EVP_MD_CTX_free(whole);
    EVP_MD_CTX_free(part);
    g_free(buf);
}

static void s3store_on_hashed(GObject *src, GAsyncResult *res, gpointer data)
{
    struct storage_s3 *s = data;
    struct hash_job *j = g_task_get_task_data(G_TASK(res));
    GError *gerr = NULL;
    (void)src;
    if (!g_task_propagate_boolean(G_TASK(res), &gerr)) {
        s3store_fail(s, "cannot hash the spooled recording", gerr);
        g_error_free(gerr);
        return;
    }
    for (guint i = 0; i < j->n; i++) {
        struct s3_part_rec *p = g_ptr_array_index(s->parts, i);
        memcpy(p->final, j->md[i], 32);
    }
    hex_encode(j->whole, 32, s->sha256);
    s->hashed = 1;
    s3store_check(s);
}

static void s3store_hash(struct storage_s3 *s)
{
    struct hash_job *j = g_new0(struct hash_job, 1);
    j->path = g_strdup(s->path);
    j->n = s->parts->len;
    j->offsets = g_new(guint64, j->n);
    j->lens = g_new(guint64, j->n);
    j->md = g_malloc0((gsize)j->n * 32);
    for (guint i = 0; i < j->n; i++) {
        struct s3_part_rec *p = g_ptr_array_index(s->parts, i);
        j->offsets[i] = p->offset;
        j->lens[i] = p->len;
    }
    GTask *task = g_task_new(NULL, NULL, s3store_on_hashed, s);
    g_task_set_task_data(task, j, hash_job_free);
    g_task_run_in_thread(task, s3store_hash_thread);
    g_object_unref(task);
}

/* ---- the storage ops ---------------------------------------------------- */

static int s3store_open(struct storage_s3 *s, const char *path)
{
    if (s->fd >= 0)
        return 0;
    g_free(s->path);
    s->path = g_strdup(path);
    if (!s->key) { /* while recording: the key is the spool file's name */
        char *base = g_path_get_basename(path);
        s->key = s3store_final_path(base);
        g_free(base);
    }
    s->fd = open(path, O_RDONLY | O_CLOEXEC);
    return s->fd >= 0 ? 0 : -1;
}

/* The muxer went back to `offset`, inside a part already cut (it does not
 * do that, but if it did): that part is sent again once the file is done. */
static void s3store_dirty(struct storage_s3 *s, guint64 offset)
{
    for (guint i = 1; i < s->parts->len; i++) {
        struct s3_part_rec *p = g_ptr_array_index(s->parts, i);
        if (offset >= p->offset && offset < p->offset + p->len) {
            log_warn("s3: %s: the muxer rewrote offset %llu in part %u; it will be sent again",
                     s->key, (unsigned long long)offset, p->number);
            if (p->state == PART_SENT)
                p->state = PART_QUEUED;
            else if (p->state == PART_SENDING)
                p->dirty = 1;
        }
    }
}

/* While recording: cut the stable bytes past part 1 into parts and send them. */
static void s3store_grow(struct storage *base, const char *spool_path, uint64_t stable,
                         uint64_t seek_back)
{
    struct storage_s3 *s = (struct storage_s3 *)base;
    if (s->committed || s->finished)
        return;
    if (seek_back != UINT64_MAX && seek_back >= s->part_size && seek_back < s->assigned)
        s3store_dirty(s, seek_back);
    if (stable < 2 * s->part_size || s3store_open(s, spool_path) != 0)
        return;
    if (s->parts->len == 0) {
        s3store_add_part(s, 0, s->part_size); /* the header: sent last */
        s->assigned = s->part_size;
    }
    /* Cut up to the stable mark, so that only the open cluster is left for
     * the end; a part is at least part_size and under twice that, and never
     * over S3's 5 GiB (a part size over 2.5 GiB). */
    while (stable >= s->assigned + s->part_size) {
        guint64 len = stable - s->assigned;
        if (len >= 2 * s->part_size || len > S3_PART_MAX_SIZE)
            len = s->part_size;
        s3store_add_part(s, s->assigned, len);
        s->assigned += len;
    }
    s3store_start_multipart(s);
    s3store_pump(s);
}

/* At commit: the rest of the file into parts of one part size, larger
 * when that would take more part numbers than S3 has left (a very long
 * recording, or its retry: the object may be up to 5 TiB). */
static void s3store_cut_tail(struct storage_s3 *s)
{
    guint left = s->parts->len < S3_PART_NUMBER_MAX ? S3_PART_NUMBER_MAX - s->parts->len : 1;
    guint64 rest = s->size > s->assigned ? s->size - s->assigned : 0;
    guint64 step = MAX(s->part_size, (rest + left - 1) / left);
    while (s->assigned < s->size) {
        guint64 len = MIN(step, s->size - s->assigned);
        s3store_add_part(s, s->assigned, len);
        s->assigned += len;
    }
}

/* The commit, from the main loop: storage.h promises that cb never runs
 * inside commit(), and every failure below reports at once.  Until this
 * runs the upload is still "while recording" (a failure is kept for here). */
static gboolean s3store_commit_run(gpointer data)
{
    struct storage_s3 *s = data;
    struct stat st;

    s->commit_idle = 0;
    s->committed = 1;
    s->object_key = s3_client_object_key(s->client, s->key);
    s->url = s3_client_object_url(s->client, s->key);
    if (s3store_open(s, s->commit_path) != 0 || fstat(s->fd, &st) != 0) {
        char msg[600];
        struct storage_result r = {.error = msg};
        snprintf(msg, sizeof(msg), "cannot open the spooled recording %s: %s", s->commit_path,
                 strerror(errno));
        s->finished = 1;
        s3store_report(s, &r); /* nothing to keep: the file is not there */
        return G_SOURCE_REMOVE;
    }
    s->size = (guint64)st.st_size;
    log_debug("s3: %s: committing %llu bytes, %u part(s) sent while recording", s->key,
              (unsigned long long)s->size, s->parts->len ? s->parts->len - 1 : 0);
    if (s->timeout_ms > 0)
        s->timer = g_timeout_add((guint)s->timeout_ms, s3store_on_timeout, s);
    if (s->live_failed) {
        char why[800];
        snprintf(why, sizeof(why), "while recording: %s", s->live_failed);
        s->finished = 0;
        s3store_fail(s, why, NULL);
        return G_SOURCE_REMOVE;
    }
    if (s->parts->len == 0 && s->size <= s->part_size) {
        s3store_put(s);
        return G_SOURCE_REMOVE;
    }
    if (s->parts->len == 0) {
        s3store_add_part(s, 0, s->part_size);
        s->assigned = s->part_size;
    }
    s3store_cut_tail(s);
    s3store_hash(s);
    s3store_start_multipart(s);
    s3store_pump(s);
    return G_SOURCE_REMOVE;
}

static void s3store_commit(struct storage *base, const char *spool_path, const char *key,
                           storage_done_cb cb, void *user)
{
    struct storage_s3 *s = (struct storage_s3 *)base;

    s->cb = cb;
    s->user = user;
    if (s->key && strcmp(s->key, key) != 0)
        log_warn("s3: committing %s, not %s as recorded", key, s->key);
    g_free(s->key);
    s->key = g_strdup(key);
    s->commit_path = g_strdup(spool_path);
    s->commit_idle = g_idle_add(s3store_commit_run, s);
}

static void s3store_destroy(struct storage *base)
{
    struct storage_s3 *s = (struct storage_s3 *)base;
    g_cancellable_cancel(s->cancel);
    g_object_unref(s->cancel);
    if (s->timer)
        g_source_remove(s->timer);
    if (s->commit_idle)
        g_source_remove(s->commit_idle);
    if (s->fd >= 0)
        close(s->fd);
    g_ptr_array_free(s->parts, TRUE);
    s3_client_free(s->client);
    g_free(s->path);
    g_free(s->commit_path);
    g_free(s->key);
    g_free(s->object_key);
    g_free(s->url);
    g_free(s->upload_id);
    g_free(s->live_failed);
    g_free(s);
}

static const struct storage_ops storage_s3_ops = {
    .name = "s3",
    .commit = s3store_commit,
    .grow = s3store_grow,
    .destroy = s3store_destroy,
};

struct storage *storage_s3_new(const struct ipc_s3 *cfg, char *err, size_t errlen)
{
    struct s3_config c = {
        .bucket = cfg->bucket,
        .region = cfg->region,
        .endpoint = cfg->endpoint,
        .prefix = cfg->prefix,
        .path_style = cfg->path_style,
        .access_key = cfg->access_key,
        .secret_key = cfg->secret_key,
        .session_token = cfg->session_token,
    };
    GError *gerr = NULL;
    struct s3_client *client = s3_client_new(&c, &gerr);
    if (!client) {
        snprintf(err, errlen, "S3 settings: %s", gerr->message);
        g_error_free(gerr);
        return NULL;
    }
    struct storage_s3 *s = g_new0(struct storage_s3, 1);
    s->base.ops = &storage_s3_ops;
    s->client = client;
    s->part_size = (guint64)cfg->part_size;
    s->timeout_ms = MIN(cfg->timeout_ms, (gint64)G_MAXUINT); /* g_timeout_add() takes a guint */
    s->fd = -1;
    s->parts = g_ptr_array_new_with_free_func(s3store_part_free);
    s->cancel = g_cancellable_new();
    return &s->base;
}
