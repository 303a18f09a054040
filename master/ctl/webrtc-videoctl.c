/*
 * master/ctl/webrtc-videoctl.c - the operator's command line for a running
 * webrtc-video: one request on the control socket (proto/control.h), its
 * answer printed as aligned tables, or as JSON with --json.
 *
 * Exit status: 0 ok, 1 the server refused the command (ok:false), 2 usage
 * error, 3 the server cannot be reached (or broke the protocol).  The
 * manual is packaging/webrtc-videoctl.1.
 */
#include <errno.h>
#include <getopt.h>
#include <glib.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "config_build.h"
#include "proto/control.h"

enum { CTL_OK = 0, CTL_FAILED = 1, CTL_USAGE = 2, CTL_UNREACHABLE = 3 };

#define CTL_TIMEOUT_S 30

static const char ctl_usage[] =
    "Usage: webrtc-videoctl [-s PATH] [--json] COMMAND [ARG]\n"
    "Control a running webrtc-video server through its control socket.\n"
    "\n"
    "Commands:\n"
    "  status           version, uptime, draining, sessions, workers, uploads\n"
    "  sessions         the recording sessions\n"
    "  workers          the media worker processes\n"
    "  drain on|off     stop or resume taking new sessions\n"
    "  kill SESSION     end one session; its recording is kept\n"
    "  reload           re-read the configuration file\n"
    "  uploads          pending uploads\n"
    "\n"
    "Options:\n"
    "  -s, --socket PATH  control socket (default " CONTROL_DEFAULT_SOCKET ")\n"
    "  -j, --json         print the server's answer as JSON\n"
    "  -h, --help         show this help and exit\n"
    "  -V, --version      show the version and exit\n"
    "\n"
    "Exit status: 0 ok, 1 the command failed, 2 usage error, 3 server unreachable.\n";

/* ---- talking to the server ----------------------------------------------- */

static int ctl_connect(const char *path)
{
    struct sockaddr_un sun = {.sun_family = AF_UNIX};
    struct timeval tv = {CTL_TIMEOUT_S, 0};

    if (strlen(path) >= sizeof(sun.sun_path)) {
        fprintf(stderr, "webrtc-videoctl: socket path %s is too long\n", path);
        return -1;
    }
    strcpy(sun.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) != 0) {
        fprintf(stderr, "webrtc-videoctl: cannot connect to %s: %s (is webrtc-video running?)\n",
                path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    return fd;
}

static int ctl_send(int fd, const char *line)
{
    size_t len = strlen(line), off = 0;
    while (off < len) {
        ssize_t n = send(fd, line + off, len - off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        off += (size_t)n;
    }
    return 0;
}

/* One response line (without the newline), or NULL. */
static GString *ctl_receive(int fd, const char *path)
{
    GString *buf = g_string_new(NULL);
    char chunk[4096];

    while (!memchr(buf->str, '\n', buf->len)) {
        ssize_t n = recv(fd, chunk, sizeof(chunk), 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0 || buf->len > CONTROL_MAX_RESPONSE) {
            fprintf(stderr, "webrtc-videoctl: %s: %s\n", path,
                    n < 0 ? strerror(errno) : n == 0 ? "the server closed the connection"
                                                     : "response too long");
            g_string_free(buf, TRUE);
            return NULL;
        }
        g_string_append_len(buf, chunk, n);
    }
    g_string_truncate(buf, (gsize)((char *)memchr(buf->str, '\n', buf->len) - buf->str));
    return buf;
}

/* ---- human output -------------------------------------------------------- */

/* Rows of cells (NULL-terminated row arrays), first row the header. */
static void ctl_print_table(GPtrArray *rows)
{
    size_t widths[16] = {0};
    for (guint r = 0; r < rows->len; r++) {
        char **row = g_ptr_array_index(rows, r);
        for (size_t c = 0; row[c] && c < 16; c++)
            widths[c] = MAX(widths[c], strlen(row[c]));
    }
    for (guint r = 0; r < rows->len; r++) {
        char **row = g_ptr_array_index(rows, r);
        for (size_t c = 0; row[c] && c < 16; c++)
            if (row[c + 1])
                printf("%-*s  ", (int)widths[c], row[c]);
            else
                printf("%s\n", row[c]);
    }
}

static char *ctl_field(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    if (json_is_string(v))
        return g_strdup(json_string_value(v));
    if (json_is_integer(v))
        return g_strdup_printf("%lld", (long long)json_integer_value(v));
    if (json_is_real(v))
        return g_strdup_printf("%.0f", json_real_value(v));
    if (json_is_boolean(v))
        return g_strdup(json_is_true(v) ? "yes" : "no");
    return g_strdup("-");
}

/* A table of `list` (an array of objects): a column per key. */
static void ctl_print_list(json_t *list, const char *const *keys, const char *const *heads,
                           const char *empty)
{
    GPtrArray *rows = g_ptr_array_new_with_free_func((GDestroyNotify)g_strfreev);
    size_t n = 0;
    size_t i;
    json_t *item;

    while (keys[n])
        n++;
    if (json_array_size(list) == 0) {
        printf("%s\n", empty);
        g_ptr_array_free(rows, TRUE);
        return;
    }
    g_ptr_array_add(rows, g_strdupv((char **)heads));
    json_array_foreach(list, i, item) {
        char **row = g_new0(char *, n + 1);
        for (size_t c = 0; c < n; c++)
            row[c] = ctl_field(item, keys[c]);
        g_ptr_array_add(rows, row);
    }
    ctl_print_table(rows);
    g_ptr_array_free(rows, TRUE);
}

static void ctl_print_status(json_t *d)
{
    json_t *w = json_object_get(d, "workers"), *s = json_object_get(d, "signaling");
    char *v[] = {ctl_field(d, "version"), ctl_field(d, "uptime_s"), ctl_field(d, "config_file"),
                 ctl_field(d, "draining"), ctl_field(d, "sessions"),
                 ctl_field(d, "pending_uploads")};
    char *workers = g_strdup_printf(
        "%lld idle, %lld busy, %lld starting",
        (long long)json_integer_value(json_object_get(w, "idle")),
        (long long)json_integer_value(json_object_get(w, "busy")),
        (long long)json_integer_value(json_object_get(w, "starting")));
    char *signaling = g_strdup_printf(
        "%lld rooms, %lld relay calls, %lld workspaces, %lld connections",
        (long long)json_integer_value(json_object_get(s, "rooms")),
        (long long)json_integer_value(json_object_get(s, "relay_calls")),
        (long long)json_integer_value(json_object_get(s, "workspaces")),
        (long long)json_integer_value(json_object_get(s, "connections")));
    printf("version:          %s\n", v[0]);
    printf("uptime:           %s s\n", v[1]);
    printf("config file:      %s\n", strcmp(v[2], "-") ? v[2] : "(none)");
    printf("draining:         %s\n", v[3]);
    printf("sessions:         %s\n", v[4]);
    printf("workers:          %s\n", workers);
    printf("pending uploads:  %s\n", v[5]);
    printf("signaling:        %s\n", signaling);
    for (size_t i = 0; i < G_N_ELEMENTS(v); i++)
        g_free(v[i]);
    g_free(workers);
    g_free(signaling);
}

static void ctl_print_reload(json_t *d)
{
    json_t *needs = json_object_get(d, "restart_needed"), *item;
    size_t i;
    printf("%s\n", json_string_value(json_object_get(d, "message")));
    json_array_foreach(needs, i, item)
        printf("restart needed for: %s\n", json_string_value(item));
}

static void ctl_print_human(const char *command, json_t *d)
{
    static const char *const sk[] = {"id", "client", "state", "duration_s", "bytes",
                                      "worker_pid", "key", NULL};
    static const char *const sh[] = {"ID", "CLIENT", "STATE", "DURATION(S)", "BYTES",
                                      "WORKER", "KEY", NULL};
    static const char *const wk[] = {"pid", "state", "session", "age_s", "bytes", NULL};
    static const char *const wh[] = {"PID", "STATE", "SESSION", "AGE(S)", "BYTES", NULL};
    static const char *const uk[] = {"key", "bytes", "state", "attempts", "next_attempt_s",
                                      "last_error", NULL};
    static const char *const uh[] = {"KEY", "BYTES", "STATE", "ATTEMPTS", "NEXT(S)",
                                      "LAST ERROR", NULL};

    if (strcmp(command, "status") == 0)
        ctl_print_status(d);
    else if (strcmp(command, "sessions") == 0)
        ctl_print_list(json_object_get(d, "sessions"), sk, sh, "no sessions");
    else if (strcmp(command, "workers") == 0)
        ctl_print_list(json_object_get(d, "workers"), wk, wh, "no workers");
    else if (strcmp(command, "uploads") == 0)
        ctl_print_list(json_object_get(d, "uploads"), uk, uh, "no pending uploads");
    else if (strcmp(command, "drain") == 0)
        printf("draining: %s (%lld session(s) running)\n",
               json_is_true(json_object_get(d, "draining")) ? "on" : "off",
               (long long)json_integer_value(json_object_get(d, "sessions")));
    else if (strcmp(command, "kill") == 0)
        printf("session %lld: stopping; its recording is kept\n",
               (long long)json_integer_value(json_object_get(d, "session")));
    else if (strcmp(command, "reload") == 0)
        ctl_print_reload(d);
}

/* ---- command line -------------------------------------------------------- */

/* How many arguments each command takes; -1 if there is no such command. */
static int ctl_arity(const char *command)
{
    static const char *const none[] = {"status", "sessions", "workers", "reload", "uploads"};
    for (size_t i = 0; i < G_N_ELEMENTS(none); i++)
        if (strcmp(command, none[i]) == 0)
            return 0;
    if (strcmp(command, "drain") == 0 || strcmp(command, "kill") == 0)
        return 1;
    return -1;
}

static int ctl_usage_error(const char *fmt, const char *what)
{
    fprintf(stderr, "webrtc-videoctl: ");
    fprintf(stderr, fmt, what);
    fprintf(stderr, "\nTry 'webrtc-videoctl --help'.\n");
    return CTL_USAGE;
}

static int ctl_run(const char *path, int json_out, const char *command, const char *arg)
{
    char err[512];
    int ok = 0, status = CTL_UNREACHABLE;
    json_t *root = NULL, *data = NULL;
    const char *error = NULL;
    GString *line = NULL;
    char *req = control_request_encode(command, arg);
    int fd = ctl_connect(path);

    if (fd < 0 || !req)
        goto out;
    if (ctl_send(fd, req) != 0 || ctl_send(fd, "\n") != 0) {
        fprintf(stderr, "webrtc-videoctl: %s: %s\n", path, strerror(errno));
        goto out;
    }
    line = ctl_receive(fd, path);
    if (!line)
        goto out;
    if (control_response_parse(line->str, line->len, &ok, &data, &error, &root, err,
                               sizeof(err)) != 0) {
        fprintf(stderr, "webrtc-videoctl: %s: bad answer from the server: %s\n", path, err);
        goto out;
    }
    if (!ok) {
        fprintf(stderr, "webrtc-videoctl: %s\n", error);
        status = CTL_FAILED;
        goto out;
    }
    if (json_out) {
        char *text = json_dumps(data, JSON_INDENT(2) | JSON_SORT_KEYS);
        printf("%s\n", text ? text : "null");
        free(text);
    } else {
        ctl_print_human(command, data);
    }
    status = CTL_OK;
out:
    json_decref(root);
    if (line)
        g_string_free(line, TRUE);
    free(req);
    if (fd >= 0)
        close(fd);
    return status;
}

int main(int argc, char **argv)
{
    static const struct option options[] = {
        {"socket", required_argument, NULL, 's'}, {"json", no_argument, NULL, 'j'},
        {"help", no_argument, NULL, 'h'},         {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    const char *path = CONTROL_DEFAULT_SOCKET;
    int json_out = 0, opt;

    while ((opt = getopt_long(argc, argv, "+s:jhV", options, NULL)) != -1) {
        switch (opt) {
        case 's':
            path = optarg;
            break;
        case 'j':
            json_out = 1;
            break;
        case 'h':
            fputs(ctl_usage, stdout);
            return CTL_OK;
        case 'V':
            printf("webrtc-videoctl %s\n", WV_VERSION);
            return CTL_OK;
        default:
            fprintf(stderr, "Try 'webrtc-videoctl --help'.\n");
            return CTL_USAGE;
        }
    }
    if (optind >= argc)
        return ctl_usage_error("%s", "no command given");
    const char *command = argv[optind];
    int arity = ctl_arity(command);
    int given = argc - optind - 1;
    if (arity < 0)
        return ctl_usage_error("unknown command '%s'", command);
    if (given != arity)
        return ctl_usage_error(arity ? "'%s' takes one argument" : "'%s' takes no argument",
                               command);
    const char *arg = arity ? argv[optind + 1] : NULL;
    if (strcmp(command, "drain") == 0 && strcmp(arg, "on") != 0 && strcmp(arg, "off") != 0)
        return ctl_usage_error("drain: say 'on' or 'off', not '%s'", arg);
    return ctl_run(path, json_out, command, arg);
}
