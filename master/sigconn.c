/*
 * master/sigconn.c - per-connection rate, and the total count, of signaling
 * connections (see sigconn.h).
 */
#include "sigconn.h"

#include <event2/event.h>

#include "core.h"
#include "log.h"

int sigconn_open(struct sigconn *sc, struct core *core, uint64_t conn_id, const char *what)
{
    if (core->signaling_conns >= (size_t)core->cfg->signaling_max_connections) {
        log_warn("%s connection %llu refused: %zu signaling connections already open", what,
                 (unsigned long long)conn_id, core->signaling_conns);
        return -1;
    }
    sc->core = core;
    sc->conn_id = conn_id;
    sc->tokens = SIGCONN_BURST;
    sc->last = core_now();
    sc->closing = 0;
    sc->kick = NULL;
    core->signaling_conns++;
    return 0;
}

void sigconn_close(struct sigconn *sc)
{
    sc->core->signaling_conns--;
    if (sc->kick)
        event_free(sc->kick);
    sc->kick = NULL;
}

int sigconn_charge(struct sigconn *sc, int *refuse)
{
    double now = core_now();

    *refuse = 0;
    if (sc->closing)
        return -1;
    sc->tokens += (now - sc->last) * SIGCONN_RATE;
    if (sc->tokens > SIGCONN_BURST)
        sc->tokens = SIGCONN_BURST;
    sc->last = now;
    if (sc->tokens < 1.0) {
        log_info("connection %llu: over %.0f messages/s; closing it",
                 (unsigned long long)sc->conn_id, SIGCONN_RATE);
        sc->closing = 1;
        *refuse = 1;
        return -1;
    }
    sc->tokens -= 1.0;
    return 0;
}

static void sigconn_on_kick(evutil_socket_t fd, short what, void *arg)
{
    struct sigconn *sc = arg;
    (void)fd;
    (void)what;
    core_ws_close(sc->core, sc->conn_id, "rate limit exceeded");
}

void sigconn_kick(struct sigconn *sc)
{
    struct timeval tv = {0, (suseconds_t)(SIGCONN_KICK_DELAY_S * 1e6)};
    if (!sc->kick)
        sc->kick = evtimer_new(sc->core->base, sigconn_on_kick, sc);
    if (!sc->kick || evtimer_add(sc->kick, &tv) != 0)
        core_ws_close(sc->core, sc->conn_id, "rate limit exceeded");
}

size_t sigconn_count(const struct core *core)
{
    return core->signaling_conns;
}
