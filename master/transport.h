/*
 * master/transport.h - the master's transport thread: libwebsockets.
 *
 * Owns the listening socket, HTTP and websocket framing (libwebsockets' own
 * event loop: Debian's build has no libevent support), static file serving
 * of /recordings/, static files and the admin gate (www.h), and nothing else.  Every websocket message and every
 * dynamic HTTP request becomes an IPC frame to the core thread over a
 * socketpair; the core's answers come back the same way.  The two threads
 * share no memory.
 */
#ifndef WV_MASTER_TRANSPORT_H
#define WV_MASTER_TRANSPORT_H

#include <stddef.h>

struct transport;

/* A websocket path and its per-connection bounds (0: the defaults). */
struct transport_endpoint {
    const char *path;
    size_t max_message;
    size_t max_queued;
};

struct transport_config {
    const char *listen_host; /* "0.0.0.0", "::" or an address */
    int listen_port;
    const char *storage_dir; /* served at /recordings/ */
    const struct transport_endpoint *endpoints; /* websocket paths; a NULL path ends it */
    int core_fd;             /* our end of the socketpair to the core */
    /* static files and the admin gate (www.h) */
    const char *static_dir;
    const char *admin_user;     /* NULL: no admin pages */
    const char *admin_password;
};

/* Bind and start the thread.  Returns NULL (after logging why) on failure,
 * after which the process should exit. */
struct transport *transport_start(const struct transport_config *tc);
/* Wait for the thread, which ends when the core closes its end. */
void transport_join(struct transport *t);

#endif
