/*
 * master/notify.h - what the master tells its service manager (systemd's
 * sd_notify protocol; nothing happens when NOTIFY_SOCKET is unset).
 *
 *   READY=1       once it listens and the worker pool is up (min-spare
 *                 workers started and said HELLO)
 *   RELOADING=1   around a reload (SIGHUP, webrtc-videoctl reload), with
 *                 MONOTONIC_USEC, then READY=1 again
 *   STOPPING=1    on the first stop signal
 *   STATUS=       what it is doing: sessions, workers, draining, stopping
 *   EXTEND_TIMEOUT_USEC while stopping, a few seconds at a time and never
 *                 past the master's own stop deadline: a long drain is not
 *                 killed by TimeoutStopSec=, a stuck master still is
 *   WATCHDOG=1    from the core loop's tick, when WatchdogSec= is set
 *
 * Every call is made from the core thread (core.c).
 */
#ifndef WV_MASTER_NOTIFY_H
#define WV_MASTER_NOTIFY_H

struct core;

/* Read the watchdog interval; call once before the core loop runs. */
void notify_init(void);
/* Twice a second (core tick): READY=1 when due, STATUS= when it changed,
 * the watchdog, and the stop timeout extension. */
void notify_tick(struct core *core);
/* Before and after a reload; `error` is NULL when it succeeded. */
void notify_reloading(void);
void notify_reloaded(struct core *core, const char *error);
/* A stop began or changed pace (core->stop_deadline is set). */
void notify_stopping(struct core *core);

#endif
