/*
 * master/ipc_link.h - one framed IPC link on the core thread's event loop.
 *
 * Wraps a libevent bufferevent around a socketpair end and turns its byte
 * stream into proto/ipc.h frames.  The core thread has one link to the
 * transport thread and one per media worker; both speak the same framing.
 */
#ifndef WV_MASTER_IPC_LINK_H
#define WV_MASTER_IPC_LINK_H

#include <event2/event.h>
#include <stddef.h>
#include <stdint.h>

#include "ipc.h"

struct ipc_link;

struct ipc_link_handler {
    /* One whole frame.  The payload is valid only during the call. */
    void (*on_frame)(void *user, const struct ipc_frame *frame);
    /* EOF, a read error or a protocol violation: the link is dead.  The
     * callee frees the link (ipc_link_free), possibly later. */
    void (*on_close)(void *user, const char *reason);
};

struct ipc_link *ipc_link_new(struct event_base *base, int fd, const struct ipc_link_handler *h,
                              void *user);
void ipc_link_free(struct ipc_link *link);

/* Queue one frame.  Returns -1 if the payload is too large or the link is dead. */
int ipc_link_send(struct ipc_link *link, uint16_t type, uint64_t id, const void *payload,
                  size_t len);
/* Same, with a NUL-terminated payload that the link takes ownership of
 * (free()d), so that encoders can be called inline; NULL fails. */
int ipc_link_send_owned(struct ipc_link *link, uint16_t type, uint64_t id, char *payload);
/* Bytes queued but not yet written. */
size_t ipc_link_pending(const struct ipc_link *link);

#endif
