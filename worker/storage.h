/*
 * worker/storage.h - where a finished recording goes.
 *
 * A storage backend takes a closed spool file and makes it durable under its
 * key, then reports the public URL.  Backends are an ops table (like nginx
 * modules): the local-disk one lives in storage_local.c, an S3 uploader can
 * plug in beside it.  Completion is always asynchronous: the callback runs
 * later on the worker's GLib main loop, never from inside commit().
 *
 * Contract of commit(): on success the spool file is consumed (moved or
 * uploaded and removed) and cb gets the URL; on failure the spool file is
 * left where it was, so the master's spool scan can retry it, and cb gets
 * a readable error.
 */
#ifndef WV_WORKER_STORAGE_H
#define WV_WORKER_STORAGE_H

struct storage;

/* Exactly one of url / error is non-NULL; both are valid only during the call. */
typedef void (*storage_done_cb)(void *user, const char *url, const char *error);

struct storage_ops {
    const char *name;
    void (*commit)(struct storage *s, const char *spool_path, const char *key, storage_done_cb cb,
                   void *user);
    void (*destroy)(struct storage *s);
};

struct storage {
    const struct storage_ops *ops;
};

/* Local disk: files land in dir/<key>, their URL is url_base + key. */
struct storage *storage_local_new(const char *dir, const char *url_base);

static inline void storage_commit(struct storage *s, const char *spool_path, const char *key,
                                  storage_done_cb cb, void *user)
{
    s->ops->commit(s, spool_path, key, cb, user);
}

static inline void storage_destroy(struct storage *s)
{
    if (s)
        s->ops->destroy(s);
}

#endif
