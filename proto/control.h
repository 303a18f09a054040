/*
 * proto/control.h - the control-socket protocol (docs/protocol.md, "Control
 * socket"): what webrtc-videoctl and the master say to each other.
 *
 * One JSON object per line each way.  A request is {"command":"NAME"} plus
 * "arg" (a string) for the commands that take one; a response is
 * {"ok":true,"data":{...}} or {"ok":false,"error":"..."}.
 */
#ifndef WV_PROTO_CONTROL_H
#define WV_PROTO_CONTROL_H

#include <jansson.h>
#include <stddef.h>

/* Where the server listens unless told otherwise. */
#define CONTROL_DEFAULT_SOCKET "/run/webrtc-video/control.sock"

/* Longest request or response line, newline excluded. */
#define CONTROL_MAX_REQUEST 4096
#define CONTROL_MAX_RESPONSE (1024 * 1024)

struct control_request {
    const char *command; /* borrowed from the parsed JSON */
    const char *arg;     /* NULL if absent */
};

/* Parse one request line; *root holds what the fields point into. */
int control_request_parse(const char *line, size_t len, struct control_request *req,
                          json_t **root, char *err, size_t errlen);
/* A request line (malloc'd, without the newline). */
char *control_request_encode(const char *command, const char *arg);

/* Response lines (malloc'd, without the newline).  `data` is stolen. */
char *control_response_ok(json_t *data);
char *control_response_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Parse a response line: *ok, and *data (ok) or *error (not ok), pointing
 * into *root (json_decref it). */
int control_response_parse(const char *line, size_t len, int *ok, json_t **data,
                           const char **error, json_t **root, char *err, size_t errlen);

#endif
