/*
 * master/spool.h - the spool: recordings not yet where they belong.
 *
 * One place for everything the master does with the spool directory:
 *
 *   SPOOL/KEY.EXT.part    being recorded by a worker.  If the worker dies
 *                         first, or the whole server did, the file is still
 *                         valid Matroska up to its last cluster: it is
 *                         salvaged (spool_salvage, and at start-up) - moved
 *                         into local storage, or, with S3, made a pending
 *                         upload.
 *   SPOOL/KEY.EXT         finished, waiting for S3 to confirm it, described
 *   SPOOL/KEY.EXT.upload  by its sidecar (proto/spool_meta.h): a worker whose
 *                         upload could not finish left it (IPC_W_PENDING).
 *
 * Pending uploads are retried by upload processes (uploader.h) with
 * exponential backoff and jitter (upload-retry-min doubling to
 * upload-retry-max), at most SPOOL_MAX_UPLOADS at once; at start-up the
 * directory is scanned and they resume at once.  No recording is deleted
 * here (only empty part files, and sidecars whose recording is gone): the
 * upload process removes the file and its sidecar once S3 confirmed it.
 */
#ifndef WV_MASTER_SPOOL_H
#define WV_MASTER_SPOOL_H

#include <stddef.h>

#include "config.h"

struct core;
struct spool;

/* Scan the spool directory (salvage part files, load pending uploads). */
struct spool *spool_new(struct core *core);
void spool_free(struct spool *sp);

/* A worker died while recording `key` (the random stem): keep its part file.
 * Returns the recording's name (KEY.EXT; g_free it) or NULL if there was
 * nothing to keep; *pending says it became a pending upload (S3) rather than
 * a file in local storage. */
char *spool_salvage(struct spool *sp, const char *key, int *pending);
/* A worker left SPOOL/name and its sidecar for a retry (IPC_W_PENDING). */
void spool_add_pending(struct spool *sp, const char *name, const char *why);
/* Twice a second: start the retries that are due, end the hung ones. */
void spool_tick(struct spool *sp);
size_t spool_pending(const struct spool *sp);

/* One pending upload as the control socket shows it. */
struct upload_info {
    const char *key;        /* the recording's name, e.g. "3f9c...e1.webm" */
    long long bytes;
    int attempts;           /* finished attempts */
    const char *last_error; /* "" if none */
    const char *state;      /* "waiting", "uploading", "no-s3" (S3 not configured) */
    double next_attempt_s;  /* from now; 0: now or running */
};
void spool_foreach(const struct spool *sp, void (*fn)(const struct upload_info *ui, void *data),
                   void *data);

#endif
