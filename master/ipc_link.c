/*
 * master/ipc_link.c - framed IPC over a bufferevent (see ipc_link.h).
 *
 * Reads peek at the 16-byte header in the input evbuffer, wait until the
 * whole frame is there, make it contiguous and hand it out; writes add the
 * header and payload to the output evbuffer.  A protocol violation reported
 * by proto/ipc.c closes the link: a peer that speaks garbage is not trusted
 * with another frame.
 */
#include "ipc_link.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <stdlib.h>
#include <string.h>

struct ipc_link {
    struct bufferevent *bev;
    struct ipc_link_handler handler;
    void *user;
    int dead;
};

static void ipc_link_die(struct ipc_link *link, const char *reason)
{
    if (link->dead)
        return;
    link->dead = 1;
    bufferevent_disable(link->bev, EV_READ | EV_WRITE);
    link->handler.on_close(link->user, reason);
}

static void ipc_link_read_cb(struct bufferevent *bev, void *arg)
{
    struct ipc_link *link = arg;
    struct evbuffer *in = bufferevent_get_input(bev);

    while (!link->dead) {
        uint8_t header[IPC_HEADER_SIZE];
        struct ipc_frame frame;
        size_t consumed;

        if (evbuffer_copyout(in, header, sizeof(header)) < (ev_ssize_t)sizeof(header))
            return;
        if (ipc_header_decode(header, &frame) != IPC_DECODE_OK) {
            ipc_link_die(link, "protocol violation");
            return;
        }
        size_t total = IPC_HEADER_SIZE + frame.len;
        if (evbuffer_get_length(in) < total)
            return;
        uint8_t *data = evbuffer_pullup(in, (ev_ssize_t)total);
        if (!data || ipc_frame_decode(data, total, &frame, &consumed) != IPC_DECODE_OK) {
            ipc_link_die(link, "protocol violation");
            return;
        }
        link->handler.on_frame(link->user, &frame);
        if (link->dead)
            return;
        evbuffer_drain(in, consumed);
    }
}

static void ipc_link_event_cb(struct bufferevent *bev, short events, void *arg)
{
    (void)bev;
    struct ipc_link *link = arg;
    if (events & BEV_EVENT_EOF)
        ipc_link_die(link, "closed by peer");
    else if (events & BEV_EVENT_ERROR)
        ipc_link_die(link, "read/write error");
}

struct ipc_link *ipc_link_new(struct event_base *base, int fd, const struct ipc_link_handler *h,
                              void *user)
{
    struct ipc_link *link = calloc(1, sizeof(*link));
    if (!link)
        return NULL;
    link->bev = bufferevent_socket_new(base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (!link->bev) {
        free(link);
        return NULL;
    }
    link->handler = *h;
    link->user = user;
    bufferevent_setcb(link->bev, ipc_link_read_cb, NULL, ipc_link_event_cb, link);
    bufferevent_enable(link->bev, EV_READ | EV_WRITE);
    return link;
}

void ipc_link_free(struct ipc_link *link)
{
    if (!link)
        return;
    bufferevent_free(link->bev);
    free(link);
}

int ipc_link_send(struct ipc_link *link, uint16_t type, uint64_t id, const void *payload,
                  size_t len)
{
    uint8_t header[IPC_HEADER_SIZE];
    if (link->dead || ipc_header_encode(header, type, id, len) != 0)
        return -1;
    struct evbuffer *out = bufferevent_get_output(link->bev);
    if (evbuffer_add(out, header, sizeof(header)) != 0)
        return -1;
    if (len && evbuffer_add(out, payload, len) != 0)
        return -1;
    return 0;
}

int ipc_link_send_owned(struct ipc_link *link, uint16_t type, uint64_t id, char *payload)
{
    if (!payload)
        return -1;
    int r = ipc_link_send(link, type, id, payload, strlen(payload));
    free(payload);
    return r;
}

size_t ipc_link_pending(const struct ipc_link *link)
{
    return evbuffer_get_length(bufferevent_get_output(link->bev));
}
