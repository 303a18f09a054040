/*
 * master/core.h - the master's core thread: state shared by its modules.
 *
 * The core thread runs a libevent loop that owns everything with a life
 * cycle: websocket connections as the core sees them (by id), the services
 * that speak on them (the recorder at /api/recorder, signaling at /videre and
 * /webrtc), the worker pool, the
 * signals and the timers.  It talks to the transport thread only through
 * `transport_link` (proto/ipc.h frames) and to workers only through the pool.
 */
#ifndef WV_MASTER_CORE_H
#define WV_MASTER_CORE_H

#include <event2/event.h>
#include <stdint.h>
#include <time.h>

#include "config.h"

struct ipc_link;
struct pool;
struct recorder;
struct rooms;
struct relay;

struct core {
    struct event_base *base;
    struct config *cfg;
    struct ipc_link *transport_link;
    struct pool *pool;
    struct recorder *recorder;
    struct rooms *rooms;        /* /videre */
    struct relay *relay;        /* /webrtc */
    size_t signaling_conns;     /* sigconn.h */
    struct conn_table *conns;
    struct event *signals[4];
    struct event *tick;
    struct event *shutdown_timer;
    time_t started;
    int stopping;
};

/* Send a websocket text message (takes ownership of `text`, may be NULL on
 * allocation failure) or close a connection, by connection id. */
void core_ws_send(struct core *core, uint64_t conn_id, char *text);
void core_ws_close(struct core *core, uint64_t conn_id, const char *reason);

/* Monotonic seconds, for durations and timeouts. */
double core_now(void);

/* Run the core loop until shutdown; returns the process exit status. */
int core_run(struct config *cfg, int transport_fd);

#endif
