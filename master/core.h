/*
 * master/core.h - the master's core thread: state shared by its modules.
 *
 * The core thread runs a libevent loop that owns everything with a life
 * cycle: websocket connections as the core sees them (by id), the services
 * that speak on them (the recorder at /api/recorder, signaling at /videre and
 * /webrtc), the worker pool, the
 * operator control socket (control.h), the signals, drain and the timers.  It talks to the transport thread only through
 * `transport_link` (proto/ipc.h frames) and to workers only through the pool.
 */
#ifndef WV_MASTER_CORE_H
#define WV_MASTER_CORE_H

#include <event2/event.h>
#include <stdint.h>
#include <time.h>

#include "config.h"

struct control;
struct spool;
struct ipc_link;
struct pool;
struct recorder;
struct rooms;
struct relay;
struct workspaces;

struct core {
    struct event_base *base;
    struct config *cfg;
    struct ipc_link *transport_link;
    struct pool *pool;
    struct recorder *recorder;
    struct rooms *rooms;        /* /videre */
    struct relay *relay;        /* /webrtc */
    struct workspaces *workspaces; /* /workspaces */
    size_t signaling_conns;     /* sigconn.h */
    struct conn_table *conns;
    struct event *signals[4];
    struct event *tick;
    struct event *shutdown_timer;
    struct control *control;    /* the operator control socket, or NULL */
    struct spool *spool;        /* salvage and pending uploads (spool.h) */
    time_t started;
    int draining;               /* no new sessions (drain on, or stopping) */
    int stopping;               /* CORE_STOP_* */
    double stop_deadline;       /* core_now() by which a stop ends: notify.c */
    double finished_at;         /* core_now() when a stop had nothing left, or 0 */
};

enum {
    CORE_RUNNING = 0,
    CORE_STOP_DRAIN = 1, /* SIGTERM: sessions run on until drain-timeout */
    CORE_STOP_FAST = 2,  /* sessions told to stop; exit when stored */
};

/* Send a websocket text message (takes ownership of `text`, may be NULL on
 * allocation failure) or close a connection, by connection id. */
void core_ws_send(struct core *core, uint64_t conn_id, char *text);
void core_ws_close(struct core *core, uint64_t conn_id, const char *reason);

/* Drain on or off (`who` for the log).  Off is refused while stopping. */
void core_set_draining(struct core *core, int on, const char *who);
/* Re-read the configuration (SIGHUP, the control socket's reload) and apply
 * what can change at run time; NEW sessions get it.  Returns 0, with the
 * settings that changed but need a restart listed in `restart`
 * (comma-separated, "" if none); or -1 with the reason in err, nothing
 * changed. */
int core_reload(struct core *core, const char *who, char *err, size_t errlen, char *restart,
                size_t restartlen);

/* The signaling services' counts, as GET /signaling and the control
 * socket's status show them. */
struct signaling_counts {
    size_t rooms, room_peers;
    size_t relay_calls, relay_peers;
    size_t workspaces, workspace_attendees;
    size_t connections;
};
void core_signaling_counts(struct core *core, struct signaling_counts *c);

/* Monotonic seconds, for durations and timeouts. */
double core_now(void);

/* Run the core loop until shutdown; returns the process exit status. */
int core_run(struct config *cfg, int transport_fd);

#endif
