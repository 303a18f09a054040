/*
 * master/pool.h - the pool of pre-forked media workers.
 *
 * Workers are webrtc-video-worker processes, started ahead of demand so that
 * GStreamer is already initialised when a session arrives.  Each serves one
 * session and then exits; the pool replaces it.  The pool reaps every child,
 * kills workers that stop sending heartbeats, and backs off when workers die
 * before becoming ready (a crash loop is throttled, not spun).
 */
#ifndef WV_MASTER_POOL_H
#define WV_MASTER_POOL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "ipc.h"

struct config;
struct core;
struct pool;
struct worker;

/* Whoever a busy worker serves (a recorder session) hears from it here. */
struct worker_owner {
    void (*on_frame)(void *owner, const struct ipc_frame *frame);
    /* The worker is gone; `why` says how, for the client. */
    void (*on_exit)(void *owner, const char *why);
};

enum worker_state { WORKER_STARTING, WORKER_IDLE, WORKER_BUSY, WORKER_EXITING };

struct pool_stats {
    int starting, idle, busy, exiting;
    unsigned long spawned, crashed;
};

struct pool *pool_new(struct core *core);
void pool_free(struct pool *pool);

/* Called when a worker becomes idle, so that waiting sessions can take it. */
void pool_set_idle_callback(struct pool *pool, void (*cb)(void *data), void *data);

/* An idle worker, now busy and owned; NULL if none is idle (one is spawned). */
struct worker *pool_acquire(struct pool *pool, const struct worker_owner *owner, void *data);
/* NULL if a session can get a worker soon (one is idle or starting, or
 * there is room to spawn one), else why not, in words for the client. */
const char *pool_unavailable(struct pool *pool);
/* The owner lets go: the worker is expected to exit on its own; it is killed
 * if it has not within a few seconds.  on_exit is not called any more. */
void pool_release(struct worker *w);
/* Kill a worker now (hung or misbehaving); on_exit follows with `why`. */
void pool_kill(struct worker *w, const char *why);

int worker_send(struct worker *w, uint16_t type, uint64_t id, char *payload_owned);
pid_t worker_pid(const struct worker *w);
long long worker_bytes(const struct worker *w);

/* Start cfg->worker_path with argv (argv[0] is the path) and a socketpair end
 * as fd 3, every other fd closed and the scrubbed environment
 * (config_child_environ).  Returns the child's pid and stores our end,
 * non-blocking, in *fd; -1 (logged as `what`) if it could not start.  The
 * child is reaped by pool_reap. */
pid_t pool_spawn_child(const struct config *cfg, char *const argv[], const char *what, int *fd);

/* SIGCHLD: reap every exited child. */
void pool_reap(struct pool *pool);
/* Twice a second: watchdog, retire surplus, respawn. */
void pool_tick(struct pool *pool);
/* Shutdown: stop spawning and ask idle workers to exit. */
void pool_shutdown(struct pool *pool);
void pool_get_stats(struct pool *pool, struct pool_stats *st);
size_t pool_size(struct pool *pool);

/* One worker as the control socket shows it. */
struct worker_info {
    pid_t pid;
    const char *state; /* "starting", "idle", "busy", "exiting" */
    double age_s;      /* since it was spawned */
    long long bytes;   /* recorded, from its last heartbeat */
};
/* Call fn for each worker, oldest first. */
void pool_foreach(struct pool *pool, void (*fn)(const struct worker_info *wi, void *data),
                  void *data);

#endif
