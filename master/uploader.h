/*
 * master/uploader.h - one upload of a spooled recording, run in a child.
 *
 * The master does not speak HTTP itself (libsoup is a GLib library; the core
 * thread is libevent): to retry an upload it spawns the worker executable
 * as `webrtc-video-worker --upload --ipc-fd 3`, sends it one IPC_W_UPLOAD
 * frame (the file and the S3 settings, credentials included, over the
 * private socketpair) and waits for DONE or PENDING.  The child exits after
 * that one file; pool_reap reaps it like any other child.
 */
#ifndef WV_MASTER_UPLOADER_H
#define WV_MASTER_UPLOADER_H

#include <sys/types.h>

#include "config.h"
#include "ipc_msg.h"

struct core;
struct uploader;

/* ok: S3 confirmed the object (the child removed the spooled file and its
 * sidecar); else `error` says why.  Called once, then the uploader is freed. */
typedef void (*uploader_done_cb)(void *user, int ok, const char *url, const char *error);

/* NULL if the child cannot be started (the reason is logged). */
struct uploader *uploader_start(struct core *core, const char *path, const char *key,
                                uploader_done_cb cb, void *user);
/* Give up on it before it answered (never from inside its callback): the
 * child is killed, the callback is not called, u is freed. */
void uploader_cancel(struct uploader *u);
pid_t uploader_pid(const struct uploader *u);
/* The S3 settings a worker gets (pointers into cfg); timeout_ms 0: none. */
void uploader_s3_settings(const struct config *cfg, struct ipc_s3 *s3, long long timeout_ms);

#endif
