/*
 * worker/storage.h - where a finished recording goes.
 *
 * A storage backend takes a closed spool file and makes it durable under its
 * key, then reports the public URL.  Backends are an ops table (like nginx
 * modules): the local-disk one lives in storage_local.c, the S3 uploader in
 * storage_s3.c.  Completion is always asynchronous: the callback runs later
 * on the worker's GLib main loop, never from inside commit().
 *
 * While recording, a backend may also hear about the spool file as it grows
 * (grow(), optional): the writer reports how far the file is final and every
 * backward seek it makes, so that an uploader can send what will not change
 * before the recording ends (storage_s3.c, docs/s3.md "Upload while
 * recording").
 *
 * Contract of commit(): on success the spool file is consumed (moved or
 * uploaded and removed) and cb gets the URL; on failure the spool file is
 * kept, so that nothing is lost: either where it was (the master's spool scan
 * salvages it), or, with `pending` set, finished and described by a sidecar
 * in the spool for the master to retry (master/spool.c).
 */
#ifndef WV_WORKER_STORAGE_H
#define WV_WORKER_STORAGE_H

#include <stdint.h>

#include "ipc_msg.h"

struct storage;

struct storage_result {
    const char *url;    /* success: where the recording is */
    const char *key;    /* success: its key in the store (S3: prefix + key) */
    const char *sha256; /* success: hex SHA-256 of the stored bytes, or NULL */
    const char *error;  /* failure: why, for the client and the log */
    int pending;        /* failure, but the file is spooled and will be retried */
};

/* Valid only during the call. */
typedef void (*storage_done_cb)(void *user, const struct storage_result *r);

struct storage_ops {
    const char *name;
    void (*commit)(struct storage *s, const char *spool_path, const char *key, storage_done_cb cb,
                   void *user);
    /* Optional.  The spool file being recorded: bytes below `stable` will not
     * be rewritten, except in the header (the first bytes, which the muxer
     * rewrites when it finishes); `seek_back`, if not UINT64_MAX, is an offset
     * the writer just went back to rewrite.  Main loop only. */
    void (*grow)(struct storage *s, const char *spool_path, uint64_t stable, uint64_t seek_back);
    void (*destroy)(struct storage *s);
};

struct storage {
    const struct storage_ops *ops;
};

/* Local disk: files land in dir/<key>, their URL is url_base + key. */
struct storage *storage_local_new(const char *dir, const char *url_base);
/* S3 (storage_s3.c): NULL with a reason in err if the settings cannot work. */
struct storage *storage_s3_new(const struct ipc_s3 *cfg, char *err, size_t errlen);

static inline void storage_commit(struct storage *s, const char *spool_path, const char *key,
                                  storage_done_cb cb, void *user)
{
    s->ops->commit(s, spool_path, key, cb, user);
}

static inline void storage_grow(struct storage *s, const char *spool_path, uint64_t stable,
                                uint64_t seek_back)
{
    if (s && s->ops->grow)
        s->ops->grow(s, spool_path, stable, seek_back);
}

static inline void storage_destroy(struct storage *s)
{
    if (s)
        s->ops->destroy(s);
}

#endif
