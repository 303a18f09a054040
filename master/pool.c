/*
 * master/pool.c - pre-forked media workers: spawn, hand out, watch, reap.
 *
 * Life of a worker:
 *
 *   spawn --HELLO--> IDLE --acquire--> BUSY --exit--> reaped
 *     |                |                 |
 *     +--exit/hang-----+-----------------+--> reaped (owner told why)
 *
 * Spawning uses posix_spawn with the worker's socketpair end as fd 3 and
 * every other descriptor closed, which is safe in our multithreaded master.
 * Each worker sends a heartbeat every IPC_HEARTBEAT_INTERVAL_MS; one silent
 * for heartbeat_timeout_s (2 s) is SIGKILLed, which turns a hang into a
 * crash that the session's client hears about within about 2.5 s.  A
 * worker that dies before its HELLO counts as a failed start; consecutive
 * failed starts delay the next spawn exponentially (200 ms .. 30 s), so a
 * broken installation logs a few errors a minute instead of forking flat out.
 */
#include "pool.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core.h"
#include "ipc_link.h"
#include "ipc_msg.h"
#include "log.h"

#define POOL_BACKOFF_MIN_S 0.2
#define POOL_BACKOFF_MAX_S 30.0
#define POOL_START_TIMEOUT_S 20.0 /* spawn -> HELLO */
#define POOL_EXIT_GRACE_S 5.0     /* released or retired -> exited */
#define POOL_FAILING_STREAK 3     /* failed starts in a row: the pool is broken */

struct worker {
    TAILQ_ENTRY(worker) entry;
    struct pool *pool;
    pid_t pid;
    enum worker_state state;
    struct ipc_link *link;
    const struct worker_owner *owner;
    void *owner_data;
    double spawned_at, last_seen, exit_deadline;
    char kill_reason[96];
    long long bytes;
};

struct pool {
    struct core *core;
    TAILQ_HEAD(, worker) workers;
    void (*on_idle)(void *data);
    void *on_idle_data;
    int fail_streak;
    double next_spawn_at;
    int shutting_down;
    unsigned long spawned, crashed;
};

static void pool_maintain(struct pool *pool);

static struct worker *pool_find(struct pool *pool, pid_t pid)
{
    struct worker *w;
    TAILQ_FOREACH(w, &pool->workers, entry)
        if (w->pid == pid)
            return w;
    return NULL;
}

static void pool_count(struct pool *pool, int counts[4])
{
    struct worker *w;
    memset(counts, 0, 4 * sizeof(int));
    TAILQ_FOREACH(w, &pool->workers, entry)
        counts[w->state]++;
}

/* ---- frames from a worker ---------------------------------------------- */

static void worker_on_hello(struct worker *w, const struct ipc_frame *f)
{
    struct ipc_hello hello;
    json_t *root = NULL;
    char err[256];

    if (ipc_hello_decode(f->payload, f->len, &hello, &root, err, sizeof(err)) != 0 ||
        hello.pid != w->pid || w->state != WORKER_STARTING) {
        pool_kill(w, "worker sent an invalid hello");
        json_decref(root);
        return;
    }
    json_decref(root);
    w->state = WORKER_IDLE;
    w->pool->fail_streak = 0;
    log_debug("worker %d ready in %.0f ms", (int)w->pid, (core_now() - w->spawned_at) * 1000);
    if (w->pool->on_idle)
        w->pool->on_idle(w->pool->on_idle_data);
}

static void worker_on_heartbeat(struct worker *w, const struct ipc_frame *f)
{
    struct ipc_heartbeat hb;
    json_t *root = NULL;
    char err[256];

    if (ipc_heartbeat_decode(f->payload, f->len, &hb, &root, err, sizeof(err)) == 0)
        w->bytes = hb.bytes;
    json_decref(root);
}

static void worker_on_frame(void *data, const struct ipc_frame *f)
{
    struct worker *w = data;
    w->last_seen = core_now();

    switch (f->type) {
    case IPC_W_HELLO:
        worker_on_hello(w, f);
        return;
    case IPC_W_HEARTBEAT:
        worker_on_heartbeat(w, f);
        return;
    case IPC_W_ANSWER:
    case IPC_W_CANDIDATE:
    case IPC_W_DONE:
    case IPC_W_ERROR:
    case IPC_W_PENDING:
        if (w->owner)
            w->owner->on_frame(w->owner_data, f);
        else if (f->type == IPC_W_ERROR)
            log_warn("worker %d: error outside a session: %.*s", (int)w->pid, (int)f->len,
                     (const char *)f->payload);
        return;
    default:
        pool_kill(w, "worker sent an unexpected frame");
    }
}

static void worker_on_close(void *data, const char *reason)
{
    struct worker *w = data;
    log_debug("worker %d: link %s", (int)w->pid, reason);
    ipc_link_free(w->link);
    w->link = NULL;
    /* The process is expected to exit now; give it a moment, then kill. */
    if (w->exit_deadline == 0)
        w->exit_deadline = core_now() + POOL_EXIT_GRACE_S;
}

static const struct ipc_link_handler worker_link_handler = {
    .on_frame = worker_on_frame,
    .on_close = worker_on_close,
};

/* ---- spawning ------------------------------------------------------------ */

pid_t pool_spawn_child(const struct config *cfg, char *const argv[], const char *what, int *fd)
{
    posix_spawn_file_actions_t fa;
    int sv[2];
    pid_t pid;

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        log_error("socketpair: %s", strerror(errno));
        return -1;
    }
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, sv[1], 3);
    posix_spawn_file_actions_addclosefrom_np(&fa, 4);
    int rc = posix_spawn(&pid, cfg->worker_path, &fa, NULL, argv, config_child_environ());
    posix_spawn_file_actions_destroy(&fa);
    close(sv[1]);
    if (rc != 0) {
        log_error("cannot start %s %s: %s", what, cfg->worker_path, strerror(rc));
        close(sv[0]);
        return -1;
    }
    evutil_make_socket_nonblocking(sv[0]);
    *fd = sv[0];
    return pid;
}

static int pool_spawn(struct pool *pool)
{
    struct config *cfg = pool->core->cfg;
    int fd;
    pid_t pid;
    struct worker *w;

    const char *level = cfg->log_level == LOG_LEVEL_DEBUG  ? "debug"
                        : cfg->log_level == LOG_LEVEL_WARN ? "warn"
                        : cfg->log_level == LOG_LEVEL_ERROR ? "error"
                                                            : "info";
    char *argv[] = {cfg->worker_path, "--ipc-fd", "3", "--log-level", (char *)level, NULL};

    pid = pool_spawn_child(cfg, argv, "worker", &fd);
    if (pid < 0)
        return -1;
    w = calloc(1, sizeof(*w));
    if (!w) {
        kill(pid, SIGKILL);
        close(fd);
        return -1; /* reaped later as an unknown child */
    }
    w->pool = pool;
    w->pid = pid;
    w->state = WORKER_STARTING;
    w->spawned_at = w->last_seen = core_now();
    w->link = ipc_link_new(pool->core->base, fd, &worker_link_handler, w);
    if (!w->link) {
        close(fd);
        w->exit_deadline = core_now();
    }
    TAILQ_INSERT_TAIL(&pool->workers, w, entry);
    pool->spawned++;
    log_debug("worker %d spawned", (int)pid);
    return 0;
}

static void pool_maintain(struct pool *pool)
{
    struct config *cfg = pool->core->cfg;
    int n[4];

    if (pool->shutting_down)
        return;
    pool_count(pool, n);
    int alive = n[WORKER_STARTING] + n[WORKER_IDLE] + n[WORKER_BUSY];
    int spare = n[WORKER_STARTING] + n[WORKER_IDLE];
    int want = cfg->min_spare;
    if (want > cfg->max_workers - n[WORKER_BUSY])
        want = cfg->max_workers - n[WORKER_BUSY];

    while (spare < want && alive < cfg->max_workers && core_now() >= pool->next_spawn_at) {
        if (pool_spawn(pool) != 0)
            break;
        spare++;
        alive++;
    }

    /* Retire surplus idle workers, oldest first. */
    struct worker *w;
    TAILQ_FOREACH(w, &pool->workers, entry) {
        if (n[WORKER_IDLE] <= cfg->max_spare)
            break;
        if (w->state == WORKER_IDLE) {
            w->state = WORKER_EXITING;
            w->exit_deadline = core_now() + POOL_EXIT_GRACE_S;
            kill(w->pid, SIGTERM);
            n[WORKER_IDLE]--;
        }
    }
}

/* ---- reaping ------------------------------------------------------------- */

static void worker_describe_exit(const struct worker *w, int status, char *why, size_t len)
{
    if (w->kill_reason[0])
        snprintf(why, len, "%s", w->kill_reason);
    else if (WIFSIGNALED(status))
        snprintf(why, len, "media worker crashed (signal %d)", WTERMSIG(status));
    else
        snprintf(why, len, "media worker exited unexpectedly (status %d)", WEXITSTATUS(status));
}

static void pool_on_exit(struct pool *pool, struct worker *w, int status)
{
    char why[160];
    int clean = WIFEXITED(status) && WEXITSTATUS(status) == 0 && !w->kill_reason[0];

    worker_describe_exit(w, status, why, sizeof(why));
    if (w->state == WORKER_STARTING) {
        pool->fail_streak++;
        double delay = POOL_BACKOFF_MIN_S * (double)(1u << (pool->fail_streak < 8 ? pool->fail_streak : 8));
        if (delay > POOL_BACKOFF_MAX_S)
            delay = POOL_BACKOFF_MAX_S;
        pool->next_spawn_at = core_now() + delay;
        log_error("worker %d died before it was ready (%s); next start in %.1f s", (int)w->pid,
                  why, delay);
    } else if (!clean && w->state != WORKER_EXITING) {
        log_warn("worker %d: %s", (int)w->pid, why);
    } else {
        log_debug("worker %d exited", (int)w->pid);
    }
    if (!clean && w->state != WORKER_EXITING)
        pool->crashed++;

    TAILQ_REMOVE(&pool->workers, w, entry);
    ipc_link_free(w->link);
    if (w->owner)
        w->owner->on_exit(w->owner_data, why);
    free(w);
}

void pool_reap(struct pool *pool)
{
    int status;
    pid_t pid;

    while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
        struct worker *w = pool_find(pool, pid);
        if (w)
            pool_on_exit(pool, w, status);
        else
            log_debug("reaped unknown child %d", (int)pid);
    }
    pool_maintain(pool);
}

/* ---- the public face --------------------------------------------------- */

struct pool *pool_new(struct core *core)
{
    struct pool *pool = calloc(1, sizeof(*pool));
    if (!pool)
        return NULL;
    pool->core = core;
    TAILQ_INIT(&pool->workers);
    pool_maintain(pool);
    return pool;
}

void pool_free(struct pool *pool)
{
    struct worker *w;
    if (!pool)
        return;
    while ((w = TAILQ_FIRST(&pool->workers))) {
        TAILQ_REMOVE(&pool->workers, w, entry);
        kill(w->pid, SIGKILL);
        waitpid(w->pid, NULL, 0);
        ipc_link_free(w->link);
        free(w);
    }
    free(pool);
}

void pool_set_idle_callback(struct pool *pool, void (*cb)(void *data), void *data)
{
    pool->on_idle = cb;
    pool->on_idle_data = data;
}

struct worker *pool_acquire(struct pool *pool, const struct worker_owner *owner, void *data)
{
    struct worker *w;
    TAILQ_FOREACH(w, &pool->workers, entry) {
        if (w->state == WORKER_IDLE && w->link) {
            w->state = WORKER_BUSY;
            w->owner = owner;
            w->owner_data = data;
            pool_maintain(pool);
            return w;
        }
    }
    pool_maintain(pool);
    return NULL;
}

const char *pool_unavailable(struct pool *pool)
{
    int n[4];
    pool_count(pool, n);
    if (pool->shutting_down)
        return "the server is shutting down; try again shortly";
    if (n[WORKER_IDLE] > 0)
        return NULL;
    if (pool->fail_streak >= POOL_FAILING_STREAK)
        return "no media worker can start on this server; its log says why";
    if (n[WORKER_STARTING] > 0 ||
        n[WORKER_BUSY] + n[WORKER_STARTING] < pool->core->cfg->max_workers)
        return NULL;
    return "the server is at capacity; try again shortly";
}

void pool_release(struct worker *w)
{
    w->owner = NULL;
    w->owner_data = NULL;
    w->state = WORKER_EXITING;
    if (w->exit_deadline == 0)
        w->exit_deadline = core_now() + POOL_EXIT_GRACE_S;
}

void pool_kill(struct worker *w, const char *why)
{
    if (!w->kill_reason[0])
        snprintf(w->kill_reason, sizeof(w->kill_reason), "%s", why);
    log_warn("worker %d: killing: %s", (int)w->pid, why);
    kill(w->pid, SIGKILL);
}

int worker_send(struct worker *w, uint16_t type, uint64_t id, char *payload_owned)
{
    if (!w->link) {
        free(payload_owned);
        return -1;
    }
    return ipc_link_send_owned(w->link, type, id, payload_owned);
}

pid_t worker_pid(const struct worker *w)
{
    return w->pid;
}

long long worker_bytes(const struct worker *w)
{
    return w->bytes;
}

void pool_tick(struct pool *pool)
{
    double now = core_now();
    double hb_timeout = pool->core->cfg->heartbeat_timeout_s;
    struct worker *w;

    TAILQ_FOREACH(w, &pool->workers, entry) {
        if (w->kill_reason[0])
            continue;
        if (w->exit_deadline && now > w->exit_deadline)
            pool_kill(w, "media worker did not exit when asked");
        else if (w->state == WORKER_STARTING && now - w->spawned_at > POOL_START_TIMEOUT_S)
            pool_kill(w, "media worker did not start in time");
        else if (w->state != WORKER_STARTING && w->state != WORKER_EXITING &&
                 now - w->last_seen > hb_timeout)
            pool_kill(w, "media worker stopped responding (killed)");
    }
    pool_maintain(pool);
}

void pool_shutdown(struct pool *pool)
{
    struct worker *w;
    pool->shutting_down = 1;
    TAILQ_FOREACH(w, &pool->workers, entry) {
        if (w->state == WORKER_IDLE || w->state == WORKER_STARTING) {
            w->state = WORKER_EXITING;
            w->exit_deadline = core_now() + POOL_EXIT_GRACE_S;
            kill(w->pid, SIGTERM);
        }
    }
}

void pool_get_stats(struct pool *pool, struct pool_stats *st)
{
    int n[4];
    pool_count(pool, n);
    st->starting = n[WORKER_STARTING];
    st->idle = n[WORKER_IDLE];
    st->busy = n[WORKER_BUSY];
    st->exiting = n[WORKER_EXITING];
    st->spawned = pool->spawned;
    st->crashed = pool->crashed;
}

size_t pool_size(struct pool *pool)
{
    size_t n = 0;
    struct worker *w;
    TAILQ_FOREACH(w, &pool->workers, entry)
        n++;
    return n;
}

void pool_foreach(struct pool *pool, void (*fn)(const struct worker_info *wi, void *data),
                  void *data)
{
    static const char *const names[] = {"starting", "idle", "busy", "exiting"};
    double now = core_now();
    struct worker *w;

    TAILQ_FOREACH(w, &pool->workers, entry) {
        struct worker_info wi = {w->pid, names[w->state], now - w->spawned_at, w->bytes};
        fn(&wi, data);
    }
}
