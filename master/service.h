/*
 * master/service.h - a websocket endpoint, as the core thread sees it.
 *
 * Each service owns one path.  The transport accepts websocket upgrades only
 * on the paths listed in `services`; the core binds every new connection to
 * its path's service and hands it the connection's messages and its close.
 * A service answers through core_ws_send()/core_ws_close().  Adding an
 * endpoint means writing one `struct service` and listing it in service.c.
 * A service may bound its connections tighter than the transport's defaults
 * (max_message, max_queued; 0 keeps the default): the transport enforces
 * them per connection, from the path it was opened on.
 */
#ifndef WV_MASTER_SERVICE_H
#define WV_MASTER_SERVICE_H

#include <stddef.h>
#include <stdint.h>

struct core;

struct service {
    const char *path;
    size_t max_message; /* largest incoming message (0: CLIENT_MAX_MESSAGE) */
    size_t max_queued;  /* outbound bytes queued before a slow reader is dropped (0: 8 MiB) */
    /* A websocket opened: return the service's state for it (NULL: refuse). */
    void *(*open)(struct core *core, uint64_t conn_id, const char *peer, const char *host);
    /* One complete text message (not NUL-terminated). */
    void (*text)(void *conn, const char *text, size_t len);
    /* The websocket is gone: release `conn`. */
    void (*close)(void *conn);
};

/* Every service, NULL-terminated. */
extern const struct service *const services[];

const struct service *service_for_path(const char *path);

#endif
