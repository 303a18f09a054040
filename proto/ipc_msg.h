/*
 * proto/ipc_msg.h - the JSON payloads of the IPC frames (see ipc.h).
 *
 * Each structure below is one frame type's payload.  Decoders validate the
 * JSON against the type's schema and borrow strings from the parsed root,
 * which the caller releases with json_decref(*root).  Encoders return a
 * malloc'd compact JSON string (free()).
 *
 * Worker link:
 *   HELLO     w->m {"pid":123}
 *   HEARTBEAT w->m {"state":"recording","bytes":12345}
 *   START     m->w {"session":"s-42","sdp":"v=0..","key":"<random stem>",
 *                   "spool_dir":"/var/lib/..","storage_dir":"/var/lib/..",
 *                   "url_base":"http://host:8080/recordings/",
 *                   "ice_addresses":["10.0.0.1"],"loopback":false}
 *   CANDIDATE both {"candidate":"candidate:..","sdpMid":"0","sdpMLineIndex":0}
 *   ANSWER    w->m {"sdp":"v=0.."}
 *   STOP      m->w {}
 *             optional "s3":{see S3 below}: store in S3 instead of storage_dir
 *   DONE      w->m {"key":"<stem>.webm","url":"http://..","bytes":N,"duration_ms":N}
 *             optional "sha256":"<hex of the stored bytes>"
 *   ERROR     w->m {"message":"..","fatal":true}
 *   PENDING   w->m {"key":"<stem>.webm","bytes":N,"message":".."}: the file is
 *             spooled with its sidecar; the master retries its upload
 *   UPLOAD    m->w {"path":"SPOOL/<stem>.webm","key":"<stem>.webm","s3":{S3}}
 *             (webrtc-video-worker --upload: one spooled file, then exit)
 *   S3        {"bucket":"b","region":"r","endpoint":"http://..","prefix":"p/",
 *              "path_style":true,"access_key":"..","secret_key":"..",
 *              "session_token":"..","part_size":8388608,"timeout_ms":30000}
 *             (credentials travel only over this private socketpair: never in
 *             argv or the environment of a worker, never logged)
 * Transport link:
 *   WS_OPEN       t->c {"path":"/api/recorder","peer":"10.0.0.2","host":"h:8080"}
 *   HTTP_REQUEST  t->c {"method":"GET","path":"/sessions","accept":"*&#47;*"}
 *   HTTP_RESPONSE c->t {"status":200,"content_type":"text/plain","body":"0"}
 */
#ifndef WV_PROTO_IPC_MSG_H
#define WV_PROTO_IPC_MSG_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "client.h"

#define IPC_MAX_ICE_ADDRESSES 16

struct ipc_hello {
    long long pid;
};

struct ipc_heartbeat {
    const char *state;
    long long bytes;
};

struct ipc_s3 {
    const char *bucket;
    const char *region;
    const char *endpoint;      /* NULL: AWS */
    const char *prefix;        /* NULL or "": none */
    int path_style;
    const char *access_key;
    const char *secret_key;
    const char *session_token; /* NULL: none */
    long long part_size;       /* bytes, >= 5 MiB */
    long long timeout_ms;      /* the upload's budget before it is handed to the spool */
};

struct ipc_start {
    const char *session;
    const char *sdp;
    const char *key;
    const char *spool_dir;
    const char *storage_dir;
    const char *url_base;
    const char *ice_addresses[IPC_MAX_ICE_ADDRESSES];
    size_t n_ice_addresses;
    int loopback;
    int has_s3;
    struct ipc_s3 s3;
};

struct ipc_upload {
    const char *path;
    const char *key;
    struct ipc_s3 s3;
};

struct ipc_pending {
    const char *key;
    long long bytes;
    const char *message;
};

struct ipc_answer {
    const char *sdp;
};

struct ipc_done {
    const char *key;
    const char *url;
    long long bytes;
    long long duration_ms;
    const char *sha256; /* NULL: not sent */
};

struct ipc_error {
    const char *message;
    int fatal;
};

struct ipc_ws_open {
    const char *path;
    const char *peer;
    const char *host;
};

struct ipc_http_request {
    const char *method;
    const char *path;
    const char *accept;
};

struct ipc_http_response {
    int status;
    const char *content_type;
    const char *body;
};

/* Decoders: 0 on success (release *root), -1 with a reason in err. */
int ipc_hello_decode(const uint8_t *p, size_t n, struct ipc_hello *m, json_t **root, char *err, size_t errlen);
int ipc_heartbeat_decode(const uint8_t *p, size_t n, struct ipc_heartbeat *m, json_t **root, char *err, size_t errlen);
int ipc_start_decode(const uint8_t *p, size_t n, struct ipc_start *m, json_t **root, char *err, size_t errlen);
int ipc_candidate_decode(const uint8_t *p, size_t n, struct ice_candidate *m, json_t **root, char *err, size_t errlen);
int ipc_answer_decode(const uint8_t *p, size_t n, struct ipc_answer *m, json_t **root, char *err, size_t errlen);
int ipc_upload_decode(const uint8_t *p, size_t n, struct ipc_upload *m, json_t **root, char *err, size_t errlen);
int ipc_pending_decode(const uint8_t *p, size_t n, struct ipc_pending *m, json_t **root, char *err, size_t errlen);
int ipc_done_decode(const uint8_t *p, size_t n, struct ipc_done *m, json_t **root, char *err, size_t errlen);
int ipc_error_decode(const uint8_t *p, size_t n, struct ipc_error *m, json_t **root, char *err, size_t errlen);
int ipc_ws_open_decode(const uint8_t *p, size_t n, struct ipc_ws_open *m, json_t **root, char *err, size_t errlen);
int ipc_http_request_decode(const uint8_t *p, size_t n, struct ipc_http_request *m, json_t **root, char *err, size_t errlen);
int ipc_http_response_decode(const uint8_t *p, size_t n, struct ipc_http_response *m, json_t **root, char *err, size_t errlen);

/* Encoders: malloc'd JSON text, or NULL on failure (e.g. invalid UTF-8). */
char *ipc_hello_encode(const struct ipc_hello *m);
char *ipc_heartbeat_encode(const struct ipc_heartbeat *m);
char *ipc_start_encode(const struct ipc_start *m);
char *ipc_candidate_encode(const struct ice_candidate *m);
char *ipc_answer_encode(const struct ipc_answer *m);
char *ipc_upload_encode(const struct ipc_upload *m);
char *ipc_pending_encode(const struct ipc_pending *m);
char *ipc_done_encode(const struct ipc_done *m);
char *ipc_error_encode(const struct ipc_error *m);
char *ipc_ws_open_encode(const struct ipc_ws_open *m);
char *ipc_http_request_encode(const struct ipc_http_request *m);
char *ipc_http_response_encode(const struct ipc_http_response *m);

#endif
