/*
 * master/control.h - the operator control socket (docs/protocol.md,
 * "Control socket"), served on the core thread.
 *
 * A Unix stream socket, mode 0660, that takes one JSON request per line
 * (proto/control.h) and answers each with one line: status, sessions,
 * workers, drain on|off, kill SESSION, reload, uploads.  webrtc-videoctl is
 * its client.
 */
#ifndef WV_MASTER_CONTROL_H
#define WV_MASTER_CONTROL_H

#include <jansson.h>
#include <stddef.h>

struct core;
struct control;

/* Listen on `path` (core->cfg->control_socket).  NULL with the reason in
 * err: a live server already answers there, or the socket cannot be made. */
struct control *control_new(struct core *core, const char *path, char *err, size_t errlen);
/* Close every connection and remove the socket file. */
void control_free(struct control *ctl);

/* {"sessions":[{id, client, state, key, duration_s, bytes, worker_pid}]}: the
 * `sessions` command's data, also served at /admin/sessions (admin.c). */
json_t *control_sessions_json(struct core *core);

#endif
