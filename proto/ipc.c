/*
 * proto/ipc.c - encoding and decoding of the 16-byte IPC frame header, and a
 * small stream reassembler.  See ipc.h for the layout.
 */
#include "ipc.h"

#include <stdlib.h>
#include <string.h>

static void put_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void put_be32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (24 - 8 * i));
}

static void put_be64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (56 - 8 * i));
}

static uint16_t get_be16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

static uint32_t get_be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static uint64_t get_be64(const uint8_t *p)
{
    return ((uint64_t)get_be32(p) << 32) | get_be32(p + 4);
}

static const struct {
    uint16_t type;
    const char *name;
} ipc_types[] = {
    {IPC_WS_OPEN, "ws-open"},
    {IPC_WS_TEXT, "ws-text"},
    {IPC_WS_CLOSE, "ws-close"},
    {IPC_HTTP_REQUEST, "http-request"},
    {IPC_HTTP_RESPONSE, "http-response"},
    {IPC_W_HELLO, "hello"},
    {IPC_W_HEARTBEAT, "heartbeat"},
    {IPC_W_START, "start"},
    {IPC_W_CANDIDATE, "candidate"},
    {IPC_W_ANSWER, "answer"},
    {IPC_W_STOP, "stop"},
    {IPC_W_DONE, "done"},
    {IPC_W_ERROR, "error"},
    {IPC_W_UPLOAD, "upload"},
    {IPC_W_PENDING, "pending"},
};

const char *ipc_type_name(uint16_t type)
{
    for (size_t i = 0; i < sizeof(ipc_types) / sizeof(ipc_types[0]); i++)
        if (ipc_types[i].type == type)
            return ipc_types[i].name;
    return NULL;
}

int ipc_type_valid(uint16_t type)
{
    return ipc_type_name(type) != NULL;
}

int ipc_header_encode(uint8_t out[IPC_HEADER_SIZE], uint16_t type, uint64_t id, size_t len)
{
    if (len > IPC_MAX_PAYLOAD || !ipc_type_valid(type))
        return -1;
    put_be16(out, IPC_MAGIC);
    put_be16(out + 2, type);
    put_be32(out + 4, (uint32_t)len);
    put_be64(out + 8, id);
    return 0;
}

enum ipc_decode_result ipc_header_decode(const uint8_t buf[IPC_HEADER_SIZE], struct ipc_frame *frame)
{
    uint16_t type = get_be16(buf + 2);
    uint32_t len = get_be32(buf + 4);
    if (get_be16(buf) != IPC_MAGIC || !ipc_type_valid(type) || len > IPC_MAX_PAYLOAD)
        return IPC_DECODE_ERROR;
    frame->type = type;
    frame->len = len;
    frame->id = get_be64(buf + 8);
    frame->payload = NULL;
    return IPC_DECODE_OK;
}

enum ipc_decode_result ipc_frame_decode(const uint8_t *buf, size_t buflen,
                                        struct ipc_frame *frame, size_t *consumed)
{
    struct ipc_frame f;

    /* Check what we can as early as we can: a bad magic is an error even
     * before the whole header has arrived. */
    if (buflen >= 1 && buf[0] != (IPC_MAGIC >> 8))
        return IPC_DECODE_ERROR;
    if (buflen >= 2 && get_be16(buf) != IPC_MAGIC)
        return IPC_DECODE_ERROR;
    if (buflen < IPC_HEADER_SIZE)
        return IPC_DECODE_NEED_MORE;
    if (ipc_header_decode(buf, &f) != IPC_DECODE_OK)
        return IPC_DECODE_ERROR;
    if (buflen - IPC_HEADER_SIZE < f.len)
        return IPC_DECODE_NEED_MORE;

    f.payload = buf + IPC_HEADER_SIZE;
    *frame = f;
    *consumed = IPC_HEADER_SIZE + (size_t)f.len;
    return IPC_DECODE_OK;
}

void ipc_reader_init(struct ipc_reader *r)
{
    memset(r, 0, sizeof(*r));
}

void ipc_reader_free(struct ipc_reader *r)
{
    free(r->buf);
    ipc_reader_init(r);
}

/* Drop the frame handed out last time and move what follows to the front. */
static void ipc_reader_compact(struct ipc_reader *r)
{
    r->off += r->pending;
    r->pending = 0;
    if (r->off == 0)
        return;
    memmove(r->buf, r->buf + r->off, r->len - r->off);
    r->len -= r->off;
    r->off = 0;
}

int ipc_reader_append(struct ipc_reader *r, const void *data, size_t len)
{
    ipc_reader_compact(r);
    if (len == 0)
        return 0; /* memcpy with a NULL buffer is undefined, even for 0 bytes */
    if (r->len + len > r->cap) {
        size_t cap = r->cap ? r->cap : 4096;
        while (cap < r->len + len)
            cap *= 2;
        uint8_t *nb = realloc(r->buf, cap);
        if (!nb)
            return -1;
        r->buf = nb;
        r->cap = cap;
    }
    memcpy(r->buf + r->len, data, len);
    r->len += len;
    return 0;
}

/*
 * The bytes of the frame returned last time are dropped only at the next
 * call, so that its payload stays valid while the caller handles it.
 */
enum ipc_decode_result ipc_reader_next(struct ipc_reader *r, struct ipc_frame *frame)
{
    r->off += r->pending;
    r->pending = 0;
    if (r->buf == NULL)
        return IPC_DECODE_NEED_MORE;
    size_t consumed = 0;
    enum ipc_decode_result res = ipc_frame_decode(r->buf + r->off, r->len - r->off, frame, &consumed);
    if (res == IPC_DECODE_OK)
        r->pending = consumed;
    return res;
}
