/*
 * master/spool.c - salvaging part files and retrying pending uploads
 * (see spool.h).
 */
#include "spool.h"

#include <errno.h>
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core.h"
#include "log.h"
#include "spool_meta.h"
#include "uploader.h"

#define SPOOL_PART_SUFFIX ".part"
#define SPOOL_MAX_UPLOADS 2         /* upload processes at once */
#define SPOOL_ATTEMPT_MIN_S 900     /* one attempt may take this long ... */
#define SPOOL_ATTEMPT_BYTES_S 1e6   /* ... plus a second per MB */

struct spool_item {
    char *name;       /* KEY.EXT */
    char *path;       /* SPOOL/KEY.EXT */
    long long bytes;
    int attempts;
    char *last_error;
    char *sha256;     /* from the sidecar, NULL if not known */
    double next_at;   /* core_now() of the next attempt */
    double deadline;  /* of the running attempt */
    struct uploader *up;
    struct spool *sp;
};

struct spool {
    struct core *core;
    GPtrArray *items; /* struct spool_item */
    int running;
    int warned_no_s3;
};

static void spool_item_free(gpointer data)
{
    struct spool_item *it = data;
    if (it->up)
        uploader_cancel(it->up);
    g_free(it->name);
    g_free(it->path);
    g_free(it->last_error);
    g_free(it->sha256);
    g_free(it);
}

/* ---- the sidecar ---------------------------------------------------------- */

static void spool_write_meta(const struct spool_item *it)
{
    char *meta_path = g_strconcat(it->path, SPOOL_META_SUFFIX, NULL);
    struct spool_meta m = {
        .key = it->name,
        .bytes = it->bytes,
        .sha256 = it->sha256,
        .attempts = it->attempts,
        .last_error = it->last_error ? it->last_error : "",
        .updated = (long long)time(NULL),
    };
    char *text = spool_meta_encode(&m);
    GError *gerr = NULL;
    if (!text || !g_file_set_contents_full(meta_path, text, -1, G_FILE_SET_CONTENTS_CONSISTENT,
                                           0640, &gerr))
        log_error("spool: cannot write %s: %s", meta_path, gerr ? gerr->message : "encoding");
    g_clear_error(&gerr);
    free(text);
    g_free(meta_path);
}

/* Fill it from SPOOL/name.upload if there is one. */
static void spool_read_meta(struct spool_item *it)
{
    char *meta_path = g_strconcat(it->path, SPOOL_META_SUFFIX, NULL);
    char *text = NULL, err[256];
    json_t *root = NULL;
    struct spool_meta m;

    if (g_file_get_contents(meta_path, &text, NULL, NULL)) {
        if (spool_meta_decode(text, strlen(text), &m, &root, err, sizeof(err)) == 0) {
            it->attempts = m.attempts > 1000000 ? 1000000 : (int)m.attempts;
            g_free(it->last_error);
            it->last_error = g_strdup(m.last_error);
            if (m.sha256) {
                g_free(it->sha256);
                it->sha256 = g_strdup(m.sha256);
            }
        } else {
            log_warn("spool: %s: %s; rewriting it", meta_path, err);
        }
    }
    json_decref(root);
    g_free(text);
    g_free(meta_path);
}

/* ---- the pending list ----------------------------------------------------- */

static struct spool_item *spool_find(struct spool *sp, const char *name)
{
    for (guint i = 0; i < sp->items->len; i++) {
        struct spool_item *it = g_ptr_array_index(sp->items, i);
        if (strcmp(it->name, name) == 0)
            return it;
    }
    return NULL;
}

/* Exponential backoff with jitter: min * 2^(attempts-1), capped at max,
 * then a random point in its upper half. */
static double spool_backoff_s(const struct config *cfg, int attempts)
{
    double d = cfg->upload_retry_min_s;
    for (int i = 1; i < attempts && d < cfg->upload_retry_max_s; i++)
        d *= 2;
    if (d > cfg->upload_retry_max_s)
        d = cfg->upload_retry_max_s;
    return d / 2 + g_random_double() * d / 2;
}

/* Track SPOOL/name (a finished recording); its sidecar is read or made. */
static struct spool_item *spool_track(struct spool *sp, const char *name, const char *why,
                                      double delay_s)
{
    struct stat st;
    struct spool_item *it = spool_find(sp, name);

    if (!it) {
        it = g_new0(struct spool_item, 1);
        it->sp = sp;
        it->name = g_strdup(name);
        it->path = g_build_filename(sp->core->cfg->spool_dir, name, NULL);
        g_ptr_array_add(sp->items, it);
    }
    it->bytes = stat(it->path, &st) == 0 ? (long long)st.st_size : 0;
    spool_read_meta(it);
    if (why) {
        g_free(it->last_error);
        it->last_error = g_strdup(why);
    }
    spool_write_meta(it);
    it->next_at = core_now() + delay_s;
    return it;
}

void spool_add_pending(struct spool *sp, const char *name, const char *why)
{
    struct spool_item *it = spool_track(sp, name, why, 0);
    it->next_at = core_now() + spool_backoff_s(sp->core->cfg, it->attempts);
    log_warn("spool: %s (%lld bytes) kept for a later upload, attempt %d failed: %s", name,
             it->bytes, it->attempts, why);
}

/* ---- retries --------------------------------------------------------------- */

static void spool_on_uploaded(void *user, int ok, const char *url, const char *error)
{
    struct spool_item *it = user;
    struct spool *sp = it->sp;

    it->up = NULL;
    sp->running--;
    if (ok) {
        log_info("spool: pending upload %s confirmed by S3 after %d failed attempt(s): %s",
                 it->name, it->attempts, url);
        g_ptr_array_remove(sp->items, it);
        return;
    }
    int before = it->attempts;
    spool_read_meta(it); /* the upload process counted its attempt ... */
    if (it->attempts <= before) {
        it->attempts = before + 1; /* ... unless it died first */
        spool_write_meta(it);
    }
    g_free(it->last_error);
    it->last_error = g_strdup(error);
    if (!g_file_test(it->path, G_FILE_TEST_EXISTS)) {
        log_error("spool: %s vanished from the spool (%s)", it->path, error);
        g_ptr_array_remove(sp->items, it);
        return;
    }
    it->next_at = core_now() + spool_backoff_s(sp->core->cfg, it->attempts);
    log_warn("spool: upload of %s failed (attempt %d): %s; next try in %.0f s", it->name,
             it->attempts, error, it->next_at - core_now());
}

static void spool_start(struct spool *sp, struct spool_item *it)
{
    double now = core_now();
    it->up = uploader_start(sp->core, it->path, it->name, spool_on_uploaded, it);
    if (!it->up) {
        it->attempts++;
        spool_write_meta(it);
        it->next_at = now + spool_backoff_s(sp->core->cfg, it->attempts);
        return;
    }
    sp->running++;
    it->deadline = now + SPOOL_ATTEMPT_MIN_S + (double)it->bytes / SPOOL_ATTEMPT_BYTES_S;
    log_info("spool: uploading %s (%lld bytes), attempt %d, process %d", it->name, it->bytes,
             it->attempts + 1, (int)uploader_pid(it->up));
}

void spool_tick(struct spool *sp)
{
    double now = core_now();
    if (!sp || sp->items->len == 0)
        return;
    if (!config_s3_enabled(sp->core->cfg)) {
        if (!sp->warned_no_s3++)
            log_warn("spool: %u recording(s) wait for an upload but no S3 bucket is configured;"
                     " they are kept", sp->items->len);
        return;
    }
    for (guint i = 0; i < sp->items->len; i++) {
        struct spool_item *it = g_ptr_array_index(sp->items, i);
        if (it->up && now > it->deadline) {
            uploader_cancel(it->up);
            it->up = NULL;
            sp->running--;
            it->attempts++;
            g_free(it->last_error);
            it->last_error = g_strdup("the upload took too long");
            spool_write_meta(it);
            it->next_at = now + spool_backoff_s(sp->core->cfg, it->attempts);
        }
    }
    for (guint i = 0; i < sp->items->len && sp->running < SPOOL_MAX_UPLOADS; i++) {
        struct spool_item *it = g_ptr_array_index(sp->items, i);
        if (!it->up && now >= it->next_at && !sp->core->stopping)
            spool_start(sp, it);
    }
}

/* ---- salvage ---------------------------------------------------------------- */

/* SPOOL/NAME.part of a worker that is gone: into local storage, or (S3) a
 * pending upload.  Returns NAME or NULL. */
static char *spool_keep_part(struct spool *sp, const char *part_name, int *pending)
{
    const struct config *cfg = sp->core->cfg;
    struct stat st;
    char *name = g_strndup(part_name, strlen(part_name) - strlen(SPOOL_PART_SUFFIX));
    char *from = g_build_filename(cfg->spool_dir, part_name, NULL);
    int s3 = config_s3_enabled(cfg);
    char *to = s3 ? g_build_filename(cfg->spool_dir, name, NULL)
                  : g_build_filename(cfg->storage_dir, name, NULL);

    *pending = 0;
    if (stat(from, &st) != 0 || st.st_size == 0) {
        unlink(from); /* nothing was written: nothing to keep */
        goto error;
    }
    if (rename(from, to) != 0) {
        log_error("cannot move %s to %s: %s", from, to, strerror(errno));
        goto error;
    }
    if (s3) {
        spool_track(sp, name, "the recording was interrupted; kept up to its last cluster", 0);
        *pending = 1;
    }
    log_info("kept the partial recording %s (%lld bytes)%s", name, (long long)st.st_size,
             s3 ? " for upload" : "");
    g_free(from);
    g_free(to);
    return name;
error:
    g_free(name);
    g_free(from);
    g_free(to);
    return NULL;
}

char *spool_salvage(struct spool *sp, const char *key, int *pending)
{
    static const char *const extensions[] = {".webm", ".mkv"};
    const char *dir = sp->core->cfg->spool_dir;
    *pending = 0;
    for (size_t i = 0; i < G_N_ELEMENTS(extensions); i++) {
        char *name = g_strconcat(key, extensions[i], NULL);
        char *part = g_strconcat(name, SPOOL_PART_SUFFIX, NULL);
        char *part_path = g_build_filename(dir, part, NULL);
        char *done_path = g_build_filename(dir, name, NULL);
        char *kept = NULL;
        if (g_file_test(part_path, G_FILE_TEST_EXISTS)) {
            kept = spool_keep_part(sp, part, pending);
        } else if (config_s3_enabled(sp->core->cfg) &&
                   g_file_test(done_path, G_FILE_TEST_IS_REGULAR)) {
            /* it died between finishing the file and its PENDING notice */
            spool_track(sp, name, "the worker died during the upload", 0);
            kept = g_strdup(name);
            *pending = 1;
        }
        g_free(done_path);
        g_free(part_path);
        g_free(part);
        g_free(name);
        if (kept)
            return kept;
    }
    return NULL;
}

/* A sidecar whose recording is gone (uploaded, and the upload process died
 * before removing it) is removed. */
static void spool_drop_orphan_meta(struct spool *sp, const char *entry)
{
    char *path = g_build_filename(sp->core->cfg->spool_dir, entry, NULL);
    char *data = g_strndup(path, strlen(path) - strlen(SPOOL_META_SUFFIX));
    if (!g_file_test(data, G_FILE_TEST_EXISTS)) {
        log_info("spool: removing %s: its recording is no longer in the spool", entry);
        unlink(path);
    }
    g_free(data);
    g_free(path);
}

/* Start-up: part files first (they may become pending uploads), then the
 * finished recordings waiting for S3. */
static void spool_scan(struct spool *sp)
{
    GDir *dir = g_dir_open(sp->core->cfg->spool_dir, 0, NULL);
    const char *entry;
    int salvaged = 0, pending;

    if (!dir)
        return;
    while ((entry = g_dir_read_name(dir))) {
        if (!g_str_has_suffix(entry, SPOOL_PART_SUFFIX))
            continue;
        char *name = spool_keep_part(sp, entry, &pending);
        salvaged += name != NULL;
        g_free(name);
    }
    /* Finished recordings live in the spool only while they wait for S3; a
     * spool that is the storage directory itself holds none. */
    int same = strcmp(sp->core->cfg->spool_dir, sp->core->cfg->storage_dir) == 0;
    g_dir_rewind(dir);
    while (!same && (entry = g_dir_read_name(dir))) {
        if (g_str_has_suffix(entry, SPOOL_META_SUFFIX))
            spool_drop_orphan_meta(sp, entry);
        if (entry[0] == '.' || g_str_has_suffix(entry, SPOOL_PART_SUFFIX) ||
            g_str_has_suffix(entry, SPOOL_META_SUFFIX) ||
            strstr(entry, SPOOL_META_SUFFIX ".") || /* a sidecar's temporary file */
            spool_find(sp, entry))
            continue;
        char *path = g_build_filename(sp->core->cfg->spool_dir, entry, NULL);
        if (g_file_test(path, G_FILE_TEST_IS_REGULAR))
            spool_track(sp, entry, NULL, 0);
        g_free(path);
    }
    g_dir_close(dir);
    if (salvaged)
        log_warn("kept %d partial recording(s) left in the spool by an earlier run", salvaged);
    if (sp->items->len)
        log_warn("spool: %u recording(s) wait for their upload; resuming", sp->items->len);
}

/* ---- the public face ------------------------------------------------------- */

struct spool *spool_new(struct core *core)
{
    struct spool *sp = g_new0(struct spool, 1);
    sp->core = core;
    sp->items = g_ptr_array_new_with_free_func(spool_item_free);
    spool_scan(sp);
    return sp;
}

void spool_free(struct spool *sp)
{
    if (!sp)
        return;
    g_ptr_array_free(sp->items, TRUE); /* running uploads are killed: they resume next time */
    g_free(sp);
}

size_t spool_pending(const struct spool *sp)
{
    return sp ? sp->items->len : 0;
}

void spool_foreach(const struct spool *sp, void (*fn)(const struct upload_info *ui, void *data),
                   void *data)
{
    double now = core_now();
    if (!sp)
        return;
    int s3 = config_s3_enabled(sp->core->cfg);
    for (guint i = 0; i < sp->items->len; i++) {
        const struct spool_item *it = g_ptr_array_index(sp->items, i);
        struct upload_info ui = {
            .key = it->name,
            .bytes = it->bytes,
            .attempts = it->attempts,
            .last_error = it->last_error ? it->last_error : "",
            .state = !s3 ? "no-s3" : it->up ? "uploading" : "waiting",
            .next_attempt_s = it->up || it->next_at < now ? 0 : it->next_at - now,
        };
        fn(&ui, data);
    }
}
