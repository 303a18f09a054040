/*
 * master/sigconn.h - limits shared by the signaling services (rooms at
 * /videre, the relay at /webrtc, workspaces at /workspaces).
 *
 * A signaling connection moves small messages between peers and no media, so
 * it gets tighter bounds than a recorder connection:
 *   - message size: SIGCONN_MAX_MESSAGE, enforced by the transport (a larger
 *     message closes the connection with 1009);
 *   - outbound queue: SIGCONN_MAX_QUEUED, enforced by the transport (a peer
 *     that cannot keep up is disconnected, never waited for);
 *   - rate: a token bucket of SIGCONN_RATE messages a second, bursts of
 *     SIGCONN_BURST; the first message over it is answered with an error, the
 *     connection's later messages are dropped and it is closed
 *     SIGCONN_KICK_DELAY_S later (closing at once, with the flood still
 *     unread, would reset the TCP connection and destroy the error before the
 *     client could read it);
 *   - count: at most cfg->signaling_max_connections at once, over every
 *     signaling service; beyond that a new websocket is refused (closed).
 * The service declares the first two in its `struct service`; it embeds a
 * `struct sigconn` per connection and calls sigconn_open/charge/close.
 */
#ifndef WV_MASTER_SIGCONN_H
#define WV_MASTER_SIGCONN_H

#include <stddef.h>
#include <stdint.h>

#define SIGCONN_MAX_MESSAGE (64u * 1024u)
#define SIGCONN_MAX_QUEUED (1024u * 1024u)
#define SIGCONN_RATE 50.0
#define SIGCONN_BURST 100.0
#define SIGCONN_KICK_DELAY_S 0.5

struct core;
struct event;

struct sigconn {
    struct core *core;
    uint64_t conn_id;
    double tokens;
    double last;
    int closing; /* over the rate: closing, its messages are dropped */
    struct event *kick; /* the delayed close */
};

/* Count a new connection in: 0, or -1 (logged) if the cap is reached. */
int sigconn_open(struct sigconn *sc, struct core *core, uint64_t conn_id, const char *what);
void sigconn_close(struct sigconn *sc);
/* Charge one incoming message: 0 to handle it; -1 to drop it.  The first
 * -1 returned because of the rate sets *refuse: send the service's error, then
 * call sigconn_kick (the connection is then closed). */
int sigconn_charge(struct sigconn *sc, int *refuse);
void sigconn_kick(struct sigconn *sc);
/* Signaling connections open now, over every service. */
size_t sigconn_count(const struct core *core);

#endif
