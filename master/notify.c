/*
 * master/notify.c - the master's sd_notify messages (see notify.h).
 *
 * State is per process, as NOTIFY_SOCKET is: whether READY=1 was sent, the
 * last STATUS= (sent again only when it changes), when the stop timeout was
 * last extended and the watchdog last fed.
 */
#include "notify.h"

#include <glib.h>
#include <stdio.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <time.h>

#include "core.h"
#include "log.h"
#include "pool.h"
#include "recorder.h"
#include "spool.h"

#define NOTIFY_EXTEND_S 20.0       /* each EXTEND_TIMEOUT_USEC, at most */
#define NOTIFY_EXTEND_EVERY_S 5.0  /* ... sent this often while stopping */
#define NOTIFY_EXTEND_MARGIN_S 5.0 /* past the master's own stop deadline */
#define NOTIFY_TICK_S 0.5          /* notify_tick's period (core.c) */

static struct {
    int ready;
    double last_extend;
    double watchdog_every; /* 0: no watchdog */
    double last_watchdog;
    char status[256];
} notify;

static void notify_send(const char *msg)
{
    static int warned;
    int rc = sd_notify(0, msg);
    if (rc < 0 && !warned) {
        warned = 1;
        log_warn("sd_notify: %s (further failures not logged)", strerror(-rc));
    }
}

void notify_init(void)
{
    uint64_t usec = 0;
    if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0)
        notify.watchdog_every = (double)usec / 1e6 / 4; /* as sd_watchdog_enabled(3) advises */
}

static void notify_status_text(struct core *core, char *buf, size_t len)
{
    struct pool_stats st;
    size_t sessions = recorder_active(core->recorder);

    pool_get_stats(core->pool, &st);
    if (core->stopping == CORE_STOP_DRAIN)
        snprintf(buf, len, "Stopping: draining, %zu session(s) running (drain timeout %d s)",
                 sessions, core->cfg->drain_timeout_s);
    else if (core->stopping == CORE_STOP_FAST)
        snprintf(buf, len, "Stopping: %zu session(s) finishing their recordings", sessions);
    else if (core->draining)
        snprintf(buf, len, "Draining (no new sessions): %zu session(s) running", sessions);
    else
        snprintf(buf, len, "%zu session(s) recording; workers: %d idle, %d starting",
                 sessions, st.idle, st.starting);
    size_t pending = core->spool ? spool_pending(core->spool) : 0;
    size_t used = strlen(buf);
    if (pending && used < len)
        snprintf(buf + used, len - used, "; %zu upload(s) pending", pending);
}

static void notify_status(struct core *core, const char *prefix)
{
    char text[sizeof(notify.status)], msg[sizeof(notify.status) + 32];

    notify_status_text(core, text, sizeof(text));
    if (!prefix && strcmp(text, notify.status) == 0)
        return;
    snprintf(notify.status, sizeof(notify.status), "%s", text);
    snprintf(msg, sizeof(msg), "%sSTATUS=%s", prefix ? prefix : "", text);
    notify_send(msg);
}

/* Listening (transport_start returned) and min-spare workers up. */
static int notify_pool_up(struct core *core)
{
    struct pool_stats st;
    int want = core->cfg->min_spare < core->cfg->max_workers ? core->cfg->min_spare
                                                             : core->cfg->max_workers;
    pool_get_stats(core->pool, &st);
    return st.idle + st.busy >= want;
}

static void notify_extend(struct core *core, double now)
{
    double left = core->stop_deadline - now + NOTIFY_EXTEND_MARGIN_S;
    char msg[64];

    if (left > NOTIFY_EXTEND_S)
        left = NOTIFY_EXTEND_S;
    if (left < 1)
        left = 1;
    snprintf(msg, sizeof(msg), "EXTEND_TIMEOUT_USEC=%llu", (unsigned long long)(left * 1e6));
    notify_send(msg);
    notify.last_extend = now;
}

void notify_tick(struct core *core)
{
    double now = core_now();

    /* half a tick early rather than a whole tick late */
    if (notify.watchdog_every > 0 &&
        now - notify.last_watchdog >= notify.watchdog_every - NOTIFY_TICK_S / 2) {
        notify_send("WATCHDOG=1");
        notify.last_watchdog = now;
    }
    if (!notify.ready && !core->stopping && notify_pool_up(core)) {
        notify.ready = 1;
        notify_status(core, "READY=1\n");
        return;
    }
    if (core->stopping && now - notify.last_extend >= NOTIFY_EXTEND_EVERY_S)
        notify_extend(core, now);
    notify_status(core, NULL);
}

void notify_reloading(void)
{
    struct timespec ts;
    char msg[96];

    if (!notify.ready)
        return;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    snprintf(msg, sizeof(msg), "RELOADING=1\nSTATUS=Reloading\nMONOTONIC_USEC=%llu",
             (unsigned long long)ts.tv_sec * 1000000ULL + (unsigned long long)ts.tv_nsec / 1000);
    notify_send(msg);
}

void notify_reloaded(struct core *core, const char *error)
{
    char msg[sizeof(notify.status) + 32];

    if (!notify.ready)
        return;
    if (!error) {
        notify_status(core, "READY=1\n");
        return;
    }
    /* The old settings stay in force: the service is ready as it was. */
    snprintf(notify.status, sizeof(notify.status), "Reload failed, old settings kept: %s", error);
    /* one line: a newline in the error would start another sd_notify field */
    g_strdelimit(notify.status, "\r\n", ' ');
    snprintf(msg, sizeof(msg), "READY=1\nSTATUS=%s", notify.status);
    notify_send(msg);
}

void notify_stopping(struct core *core)
{
    static int sent;

    if (!sent) {
        sent = 1;
        notify_send("STOPPING=1");
    }
    notify_status(core, NULL);
    notify_extend(core, core_now());
}
