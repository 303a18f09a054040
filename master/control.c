/*
 * master/control.c - the control socket: listener, connections, commands.
 *
 * Owns the socket file (created 0660 under a umask, its directory 0750 if
 * missing; a stale file left by a dead server is replaced, a live server
 * answering there is an error) and one bufferevent per connected operator.
 * Each request line is parsed by proto/control.c and answered at once, in
 * order; a line longer than CONTROL_MAX_REQUEST gets an error and the
 * connection is closed.  The commands only read the core's state through
 * accessors (recorder_foreach, pool_foreach, ...) and change it through
 * core_set_draining, core_reload and recorder_kill.
 */
#include "control.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "config_build.h"
#include "core.h"
#include "log.h"
#include "pool.h"
#include "proto/control.h"
#include "recorder.h"
#include "spool.h"

/* A connection's state, as the value in control.conns. */
enum { CONTROL_OPEN = 1, CONTROL_CLOSING = 2 /* freed once its output is written */ };

struct control {
    struct core *core;
    char *path;
    struct evconnlistener *listener;
    GHashTable *conns; /* struct bufferevent * -> CONTROL_OPEN or CONTROL_CLOSING */
};

/* ---- commands ------------------------------------------------------------ */

static json_t *control_status(struct core *core)
{
    struct pool_stats st;
    struct signaling_counts c;

    pool_get_stats(core->pool, &st);
    core_signaling_counts(core, &c);
    return json_pack("{s:s,s:I,s:s?,s:b,s:b,s:I,s:{s:i,s:i,s:i,s:i},s:i,"
                     "s:{s:I,s:I,s:I,s:I,s:I,s:I,s:I}}",
                     "version", WV_VERSION, "uptime_s", (json_int_t)(time(NULL) - core->started),
                     "config_file", core->cfg->config_file, "draining",
                     core->draining, "stopping", core->stopping, "sessions",
                     (json_int_t)recorder_active(core->recorder), "workers", "idle", st.idle,
                     "busy", st.busy, "starting", st.starting, "exiting", st.exiting,
                     "pending_uploads", (json_int_t)spool_pending(core->spool), "signaling",
                     "rooms", (json_int_t)c.rooms, "room_peers", (json_int_t)c.room_peers,
                     "relay_calls", (json_int_t)c.relay_calls, "relay_peers",
                     (json_int_t)c.relay_peers, "connections", (json_int_t)c.connections,
                     "workspaces", (json_int_t)c.workspaces, "workspace_attendees",
                     (json_int_t)c.workspace_attendees);
}

static void control_add_upload(const struct upload_info *ui, void *data)
{
    json_array_append_new(
        data, json_pack("{s:s,s:I,s:i,s:s,s:s,s:f}", "key", ui->key, "bytes",
                        (json_int_t)ui->bytes, "attempts", ui->attempts, "last_error",
                        ui->last_error, "state", ui->state, "next_attempt_s",
                        ui->next_attempt_s));
}

static json_t *control_uploads(struct core *core)
{
    json_t *list = json_array();
    spool_foreach(core->spool, control_add_upload, list);
    return json_pack("{s:o}", "uploads", list);
}

static void control_add_session(const struct session_info *si, void *data)
{
    json_array_append_new(
        data, json_pack("{s:I,s:s,s:s,s:s,s:f,s:I,s:i}", "id", (json_int_t)si->id, "client",
                        si->peer, "state", si->state, "key", si->key, "duration_s",
                        si->duration_s, "bytes", (json_int_t)si->bytes, "worker_pid",
                        si->worker_pid));
}

json_t *control_sessions_json(struct core *core)
{
    json_t *list = json_array();
    recorder_foreach(core->recorder, control_add_session, list);
    return json_pack("{s:o}", "sessions", list);
}

struct control_workers {
    json_t *list;
    GHashTable *session_of; /* pid -> session id */
};

static void control_map_session(const struct session_info *si, void *data)
{
    if (si->worker_pid)
        g_hash_table_insert(data, GINT_TO_POINTER(si->worker_pid), (gpointer)(uintptr_t)si->id);
}

static void control_add_worker(const struct worker_info *wi, void *data)
{
    struct control_workers *cw = data;
    uintptr_t sid = (uintptr_t)g_hash_table_lookup(cw->session_of, GINT_TO_POINTER(wi->pid));
    json_t *w = json_pack("{s:i,s:s,s:f,s:I}", "pid", (int)wi->pid, "state", wi->state, "age_s",
                          wi->age_s, "bytes", (json_int_t)wi->bytes);
    json_object_set_new(w, "session", sid ? json_integer((json_int_t)sid) : json_null());
    json_array_append_new(cw->list, w);
}

static json_t *control_workers(struct core *core)
{
    struct control_workers cw = {json_array(), g_hash_table_new(NULL, NULL)};
    recorder_foreach(core->recorder, control_map_session, cw.session_of);
    pool_foreach(core->pool, control_add_worker, &cw);
    g_hash_table_destroy(cw.session_of);
    return json_pack("{s:o}", "workers", cw.list);
}

static char *control_drain(struct core *core, const char *arg)
{
    if (!arg || (strcmp(arg, "on") != 0 && strcmp(arg, "off") != 0))
        return control_response_error("drain: say 'on' or 'off'");
    if (core->stopping && strcmp(arg, "off") == 0)
        return control_response_error("drain off: the server is stopping");
    core_set_draining(core, strcmp(arg, "on") == 0, "the control socket");
    return control_response_ok(json_pack("{s:b,s:I}", "draining", core->draining, "sessions",
                                         (json_int_t)recorder_active(core->recorder)));
}

static char *control_kill(struct core *core, const char *arg)
{
    char *end = NULL;
    unsigned long long id = arg ? strtoull(arg, &end, 10) : 0;
    if (!arg || !*arg || *end || id == 0)
        return control_response_error("kill: give a session id (see 'sessions')");
    if (recorder_kill(core->recorder, id) != 0)
        return control_response_error("kill: no session %llu", id);
    return control_response_ok(json_pack("{s:I,s:s}", "session", (json_int_t)id, "state",
                                          "stopping"));
}

static char *control_reload(struct core *core)
{
    char err[512], restart[256];
    if (core_reload(core, "the control socket", err, sizeof(err), restart, sizeof(restart)) != 0)
        return control_response_error("reload failed: %s", err);
    json_t *data = json_pack("{s:b,s:s?}", "reloaded", 1, "config_file", core->cfg->config_file);
    json_t *needs = json_array();
    for (char *tok = strtok(restart, ","); tok; tok = strtok(NULL, ","))
        json_array_append_new(needs, json_string(tok));
    json_object_set_new(data, "restart_needed", needs);
    json_object_set_new(data, "message",
                        json_string(json_array_size(needs)
                                        ? "reloaded; new sessions use the new settings; the "
                                          "settings in restart_needed take effect only after "
                                          "a restart"
                                        : "reloaded; new sessions use the new settings"));
    return control_response_ok(data);
}

static char *control_execute(struct core *core, const struct control_request *req)
{
    const char *c = req->command;
    if (strcmp(c, "status") == 0)
        return control_response_ok(control_status(core));
    if (strcmp(c, "sessions") == 0)
        return control_response_ok(control_sessions_json(core));
    if (strcmp(c, "workers") == 0)
        return control_response_ok(control_workers(core));
    if (strcmp(c, "drain") == 0)
        return control_drain(core, req->arg);
    if (strcmp(c, "kill") == 0)
        return control_kill(core, req->arg);
    if (strcmp(c, "reload") == 0)
        return control_reload(core);
    if (strcmp(c, "uploads") == 0)
        return control_response_ok(control_uploads(core));
    return control_response_error("unknown command '%.64s' (commands: status, sessions, workers, "
                                  "drain on|off, kill SESSION, reload, uploads)",
                                  c);
}

/* ---- connections --------------------------------------------------------- */

static void control_conn_free(struct control *ctl, struct bufferevent *bev)
{
    g_hash_table_remove(ctl->conns, bev);
    bufferevent_free(bev);
}

static void control_reply(struct bufferevent *bev, char *line)
{
    if (!line)
        line = control_response_error("internal error: cannot encode the response");
    if (line) {
        bufferevent_write(bev, line, strlen(line));
        free(line);
    }
    bufferevent_write(bev, "\n", 1);
}

static void control_on_read(struct bufferevent *bev, void *arg)
{
    struct control *ctl = arg;
    struct evbuffer *in = bufferevent_get_input(bev);
    char err[512];
    size_t len;
    char *line;

    while ((line = evbuffer_readln(in, &len, EVBUFFER_EOL_LF))) {
        struct control_request req;
        json_t *root = NULL;
        if (len == 0) {
            free(line);
            continue;
        }
        if (control_request_parse(line, len, &req, &root, err, sizeof(err)) != 0)
            control_reply(bev, control_response_error("%s", err));
        else
            control_reply(bev, control_execute(ctl->core, &req));
        json_decref(root);
        free(line);
    }
    if (evbuffer_get_length(in) > CONTROL_MAX_REQUEST) {
        control_reply(bev, control_response_error("request longer than %d bytes; closing",
                                                  CONTROL_MAX_REQUEST));
        evbuffer_drain(in, evbuffer_get_length(in));
        bufferevent_disable(bev, EV_READ);
        bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
        g_hash_table_insert(ctl->conns, bev, GINT_TO_POINTER(CONTROL_CLOSING));
    }
}

static void control_on_write(struct bufferevent *bev, void *arg)
{
    struct control *ctl = arg;
    if (GPOINTER_TO_INT(g_hash_table_lookup(ctl->conns, bev)) == CONTROL_CLOSING)
        control_conn_free(ctl, bev);
}

/* EOF or an error.  A client that shuts down its side right after its
 * requests (`printf ... | socat`) still gets the answers queued for it. */
static void control_on_event(struct bufferevent *bev, short what, void *arg)
{
    struct control *ctl = arg;
    if ((what & BEV_EVENT_EOF) && evbuffer_get_length(bufferevent_get_output(bev)) > 0) {
        bufferevent_disable(bev, EV_READ);
        g_hash_table_insert(ctl->conns, bev, GINT_TO_POINTER(CONTROL_CLOSING));
        return;
    }
    control_conn_free(ctl, bev);
}

static void control_on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa,
                              int salen, void *arg)
{
    struct control *ctl = arg;
    (void)l;
    (void)sa;
    (void)salen;
    struct bufferevent *bev =
        bufferevent_socket_new(ctl->core->base, fd, BEV_OPT_CLOSE_ON_FREE);
    if (!bev) {
        close(fd);
        return;
    }
    bufferevent_setcb(bev, control_on_read, control_on_write, control_on_event, ctl);
    bufferevent_enable(bev, EV_READ);
    g_hash_table_insert(ctl->conns, bev, GINT_TO_POINTER(CONTROL_OPEN));
}

/* ---- the socket ---------------------------------------------------------- */

/* Is a server answering at `path`?  (A stale file refuses connections.) */
static int control_is_live(const struct sockaddr_un *sun)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    int live = connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) == 0;
    close(fd);
    return live;
}

static int control_bind(const char *path, char *err, size_t errlen)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    struct stat st;
    int fd = -1;

    if (strlen(path) >= sizeof(sun.sun_path)) {
        snprintf(err, errlen, "control socket path %s is too long", path);
        goto error;
    }
    strcpy(sun.sun_path, path);
    gchar *dir = g_path_get_dirname(path);
    int made = g_mkdir_with_parents(dir, 0750);
    g_free(dir);
    if (made != 0) {
        snprintf(err, errlen, "cannot create the directory of %s: %s", path, strerror(errno));
        goto error;
    }
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            snprintf(err, errlen, "%s exists and is not a socket", path);
            goto error;
        }
        if (control_is_live(&sun)) {
            snprintf(err, errlen, "another server is running: it answers on %s", path);
            errno = EADDRINUSE;
            goto error;
        }
        unlink(path); /* stale, left by a server that died */
    }
    fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        goto error;
    }
    mode_t old = umask(0117); /* srw-rw---- */
    int rc = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
    umask(old);
    if (rc != 0 || listen(fd, 16) != 0) {
        snprintf(err, errlen, "cannot listen on %s: %s", path, strerror(errno));
        goto error;
    }
    return fd;
error:
    if (fd >= 0) {
        int saved = errno;
        close(fd);
        errno = saved;
    }
    return -1;
}

struct control *control_new(struct core *core, const char *path, char *err, size_t errlen)
{
    int fd = control_bind(path, err, errlen);
    if (fd < 0)
        return NULL;
    struct control *ctl = g_new0(struct control, 1);
    ctl->core = core;
    ctl->path = g_strdup(path);
    ctl->conns = g_hash_table_new(NULL, NULL);
    ctl->listener = evconnlistener_new(core->base, control_on_accept, ctl,
                                       LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, fd);
    if (!ctl->listener) {
        snprintf(err, errlen, "cannot listen on %s", path);
        close(fd);
        control_free(ctl);
        return NULL;
    }
    log_info("control socket %s", path);
    return ctl;
}

void control_free(struct control *ctl)
{
    GHashTableIter it;
    gpointer bev;

    if (!ctl)
        return;
    g_hash_table_iter_init(&it, ctl->conns);
    while (g_hash_table_iter_next(&it, &bev, NULL))
        bufferevent_free(bev);
    g_hash_table_destroy(ctl->conns);
    if (ctl->listener) {
        evconnlistener_free(ctl->listener);
        unlink(ctl->path);
    }
    g_free(ctl->path);
    g_free(ctl);
}
