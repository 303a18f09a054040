/*
 * proto/ipc.h - the frames that travel between webrtc-video's processes and threads.
 *
 * Two links carry them, with the same framing:
 *   - the master's transport thread <-> its core thread (a socketpair), and
 *   - the master's core thread <-> each media worker (a socketpair made at fork).
 *
 * A frame is a fixed 16-byte header followed by `len` payload bytes:
 *
 *   offset  size  field
 *   0       2     magic   0x57 0x56 ("WV")
 *   2       2     type    enum ipc_type, big-endian
 *   4       4     len     payload length, big-endian, at most IPC_MAX_PAYLOAD
 *   8       8     id      big-endian; the connection id (transport link) or
 *                         the session id (worker link) the frame is about
 *
 * Payloads are either raw bytes (a websocket message, untouched) or a JSON
 * object whose shape per type is given in proto/ipc_msg.h.  A frame with a bad
 * magic, an unknown type or an oversized length is a protocol violation: the
 * reader drops the link (for a worker: kills it), it never guesses.
 */
#ifndef WV_PROTO_IPC_H
#define WV_PROTO_IPC_H

#include <stddef.h>
#include <stdint.h>

#define IPC_HEADER_SIZE 16
#define IPC_MAGIC 0x5756u
/* A worker sends IPC_W_HEARTBEAT this often; the master kills one that has
 * been silent for a few intervals (its heartbeat timeout). */
#define IPC_HEARTBEAT_INTERVAL_MS 500

/* Largest payload: a client message (256 KiB) plus room for JSON escaping. */
#define IPC_MAX_PAYLOAD (1024u * 1024u)

enum ipc_type {
    /* transport thread -> core thread */
    IPC_WS_OPEN = 1,       /* JSON {path, peer, host}: a websocket was accepted */
    IPC_WS_TEXT = 2,       /* raw: one complete websocket text message (both ways) */
    IPC_WS_CLOSE = 3,      /* t->c: the socket closed; c->t: raw reason, close it */
    IPC_HTTP_REQUEST = 4,  /* JSON {method, path, accept}: a dynamic HTTP request */
    IPC_HTTP_RESPONSE = 5, /* JSON {status, content_type, body}: its answer */

    /* media worker <-> core thread (id = session id, 0 when none) */
    IPC_W_HELLO = 16,     /* w->m JSON {pid}: initialised and idle */
    IPC_W_HEARTBEAT = 17, /* w->m JSON {state, bytes}: still alive, progress */
    IPC_W_START = 18,     /* m->w JSON: start a session (see ipc_msg.h) */
    IPC_W_CANDIDATE = 19, /* both, JSON {candidate, sdpMid, sdpMLineIndex} */
    IPC_W_ANSWER = 20,    /* w->m JSON {sdp} */
    IPC_W_STOP = 21,      /* m->w JSON {}: finish the recording */
    IPC_W_DONE = 22,      /* w->m JSON {key, url, bytes, duration_ms}: stored */
    IPC_W_ERROR = 23,     /* w->m JSON {message, fatal} */
    IPC_W_UPLOAD = 24,    /* m->w JSON {path, key, s3}: upload a spooled file (--upload) */
    IPC_W_PENDING = 25,   /* w->m JSON {key, bytes, message}: spooled, upload pending */
};

struct ipc_frame {
    uint16_t type;
    uint64_t id;
    uint32_t len;
    const uint8_t *payload; /* points into the caller's buffer */
};

enum ipc_decode_result {
    IPC_DECODE_OK = 1,       /* *frame filled, *consumed bytes used */
    IPC_DECODE_NEED_MORE = 0,
    IPC_DECODE_ERROR = -1,   /* protocol violation: drop the link */
};

/* Is `type` one we know? */
int ipc_type_valid(uint16_t type);
const char *ipc_type_name(uint16_t type);

/* Write a header for a payload of `len` bytes.  Returns -1 if len is too big. */
int ipc_header_encode(uint8_t out[IPC_HEADER_SIZE], uint16_t type, uint64_t id, size_t len);

/*
 * Decode just a header: fills type, id and len (payload is left NULL).
 * Returns IPC_DECODE_OK or IPC_DECODE_ERROR.
 */
enum ipc_decode_result ipc_header_decode(const uint8_t buf[IPC_HEADER_SIZE], struct ipc_frame *frame);

/*
 * Decode the first frame in buf[0..buflen).  On IPC_DECODE_OK the frame's
 * payload points into buf and *consumed is header + payload.
 */
enum ipc_decode_result ipc_frame_decode(const uint8_t *buf, size_t buflen,
                                        struct ipc_frame *frame, size_t *consumed);

/*
 * A growable byte buffer for reading frames from a stream (used where there is
 * no libevent evbuffer: the worker and the transport thread).
 */
struct ipc_reader {
    uint8_t *buf;
    size_t off;     /* start of the bytes not yet handed out */
    size_t pending; /* size of the frame handed out last, dropped next call */
    size_t len, cap;
};

void ipc_reader_init(struct ipc_reader *r);
void ipc_reader_free(struct ipc_reader *r);
/* Append bytes read from the link.  Returns -1 on allocation failure. */
int ipc_reader_append(struct ipc_reader *r, const void *data, size_t len);
/*
 * Take the next whole frame.  The frame's payload stays valid until the next
 * call to ipc_reader_next/append.  Returns as ipc_frame_decode.
 */
enum ipc_decode_result ipc_reader_next(struct ipc_reader *r, struct ipc_frame *frame);

#endif
