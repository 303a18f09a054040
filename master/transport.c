/*
 * master/transport.c - the libwebsockets thread (see transport.h).
 *
 * Connections (`tconn`) are numbered; the number is the only thing the core
 * knows them by.  What happens here, per callback:
 *
 *   HTTP_CONFIRM_UPGRADE  refuse websockets on paths that have no service
 *   ESTABLISHED           new tconn, IPC_WS_OPEN {path, peer, host} -> core
 *   RECEIVE               reassemble fragments (lws hands us rx_buffer_size
 *                         pieces), enforce CLIENT_MAX_MESSAGE, then
 *                         IPC_WS_TEXT -> core.  This is where a websocket
 *                         message enters the server.
 *   SERVER_WRITEABLE      write one queued message (lws_write only here)
 *   CLOSED                IPC_WS_CLOSE -> core
 *   HTTP                  /recordings/KEY served from disk here, static
 *                         files and the /admin gate by www.c; dynamic
 *                         paths become IPC_HTTP_REQUEST and are answered in
 *                         HTTP_WRITEABLE once the core's response arrives
 *
 * The core link is the socketpair end adopted as a raw file descriptor, so
 * that its frames wake this thread's poll loop like any socket.  When the
 * core closes it, the thread destroys the context (closing every client) and
 * ends.  A client whose outbound queue passes its endpoint's max_queued
 * (default TRANSPORT_MAX_QUEUED) bytes cannot keep up and is disconnected
 * within a second (its queue dropped) rather than allowed to grow memory; incoming
 * messages are bounded by the endpoint's max_message (default
 * CLIENT_MAX_MESSAGE).
 */
#include "transport.h"

#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <libwebsockets.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client.h"
#include "ipc.h"
#include "ipc_msg.h"
#include "log.h"
#include "www.h"

#define TRANSPORT_MAX_QUEUED (8u * 1024u * 1024u)
#define TRANSPORT_RX_BUFFER 16384
#define TRANSPORT_MAX_FDS 65536

/* HTTP paths answered by the core. */
static const char *const transport_dynamic_paths[] = {
    "/ping", "/api/ping", "/sessions", "/api/sessions", "/signaling", "/api/signaling", NULL};

struct outmsg {
    struct outmsg *next;
    size_t len;
    unsigned char buf[]; /* LWS_PRE bytes of headroom, then the message */
};

struct tconn {
    uint64_t id;
    struct lws *wsi;
    int is_ws;
    int closing;               /* the core asked us to close it */
    GByteArray *rx;            /* the message being reassembled */
    int rx_overflow;
    size_t max_message, max_queued; /* from the endpoint */
    struct outmsg *out_head, *out_tail;
    size_t out_bytes;
    struct ipc_http_response *response; /* dynamic HTTP: the core's answer */
    json_t *response_root;
};

struct pss {
    struct tconn *conn;
};

struct transport {
    struct lws_context *ctx;
    struct lws *link_wsi;
    int core_fd;
    pthread_t thread;
    struct ipc_reader reader;
    GByteArray *to_core;
    GHashTable *conns; /* id -> tconn */
    uint64_t next_id;
    char *storage_dir;
    const struct transport_endpoint *endpoints;
    struct www *www; /* /api/client.js, /admin */
    volatile int stop;
};

/* ---- the link to the core -------------------------------------------- */

static void transport_send(struct transport *t, uint16_t type, uint64_t id, const void *data,
                           size_t len)
{
    uint8_t header[IPC_HEADER_SIZE];
    if (t->stop || ipc_header_encode(header, type, id, len) != 0)
        return;
    g_byte_array_append(t->to_core, header, sizeof(header));
    if (len)
        g_byte_array_append(t->to_core, data, (guint)len);
    lws_callback_on_writable(t->link_wsi);
}

static void transport_send_owned(struct transport *t, uint16_t type, uint64_t id, char *json)
{
    if (json)
        transport_send(t, type, id, json, strlen(json));
    free(json);
}

static int transport_flush_to_core(struct transport *t)
{
    while (t->to_core->len) {
        ssize_t n = write(t->core_fd, t->to_core->data, t->to_core->len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            lws_callback_on_writable(t->link_wsi);
            return 0;
        }
        if (n <= 0)
            return -1;
        g_byte_array_remove_range(t->to_core, 0, (guint)n);
    }
    return 0;
}

/* ---- connections ------------------------------------------------------- */

static struct tconn *tconn_new(struct transport *t, struct lws *wsi, int is_ws)
{
    struct tconn *c = g_new0(struct tconn, 1);
    c->id = ++t->next_id;
    c->wsi = wsi;
    c->is_ws = is_ws;
    c->rx = g_byte_array_new();
    g_hash_table_insert(t->conns, &c->id, c);
    return c;
}

static void tconn_free(struct transport *t, struct tconn *c)
{
    struct outmsg *m = c->out_head;
    while (m) {
        struct outmsg *next = m->next;
        free(m);
        m = next;
    }
    g_hash_table_remove(t->conns, &c->id);
    g_byte_array_free(c->rx, TRUE);
    json_decref(c->response_root);
    g_free(c->response);
    g_free(c);
}

static void tconn_queue(struct tconn *c, const uint8_t *data, size_t len)
{
    if (c->closing)
        return;
    if (c->out_bytes + len > c->max_queued) {
        log_warn("connection %llu cannot keep up (%zu bytes queued); closing it",
                 (unsigned long long)c->id, c->out_bytes);
        c->closing = 1;
        /* It is not reading: waiting for it to become writeable could be forever.
         * (LWS_TO_KILL_ASYNC here left both threads spinning in lws 4.1.6.) */
        lws_set_timeout(c->wsi, PENDING_TIMEOUT_CLOSE_SEND, 1);
        return;
    }
    struct outmsg *m = malloc(sizeof(*m) + LWS_PRE + len);
    if (!m)
        return;
    m->next = NULL;
    m->len = len;
    memcpy(m->buf + LWS_PRE, data, len);
    if (c->out_tail)
        c->out_tail->next = m;
    else
        c->out_head = m;
    c->out_tail = m;
    c->out_bytes += len;
    lws_callback_on_writable(c->wsi);
}

static void transport_on_core_frame(struct transport *t, const struct ipc_frame *f)
{
    struct tconn *c = g_hash_table_lookup(t->conns, &f->id);
    if (!c)
        return; /* it closed meanwhile */

    switch (f->type) {
    case IPC_WS_TEXT:
        if (c->is_ws)
            tconn_queue(c, f->payload, f->len);
        break;
    case IPC_WS_CLOSE:
        c->closing = 1;
        lws_callback_on_writable(c->wsi);
        break;
    case IPC_HTTP_RESPONSE: {
        char err[256];
        if (c->is_ws || c->response)
            break;
        c->response = g_new0(struct ipc_http_response, 1);
        if (ipc_http_response_decode(f->payload, f->len, c->response, &c->response_root, err,
                                     sizeof(err)) != 0) {
            log_error("bad response from core: %s", err);
            c->response->status = 500;
            c->response->content_type = "text/plain";
            c->response->body = "internal error\n";
        }
        lws_callback_on_writable(c->wsi);
        break;
    }
    default:
        log_error("unexpected %s frame from core", ipc_type_name(f->type));
    }
}

static int transport_read_core(struct transport *t)
{
    uint8_t buf[65536];
    for (;;) {
        ssize_t n = read(t->core_fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;
        if (n <= 0)
            return -1; /* the core closed its end: shut down */
        if (ipc_reader_append(&t->reader, buf, (size_t)n) != 0)
            return -1;
    }
    struct ipc_frame f;
    enum ipc_decode_result r;
    while ((r = ipc_reader_next(&t->reader, &f)) == IPC_DECODE_OK)
        transport_on_core_frame(t, &f);
    return r == IPC_DECODE_ERROR ? -1 : 0;
}

static int transport_link_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                             void *in, size_t len)
{
    struct transport *t = lws_context_user(lws_get_context(wsi));
    (void)user;
    (void)in;
    (void)len;

    switch (reason) {
    case LWS_CALLBACK_RAW_RX_FILE:
        if (transport_read_core(t) != 0) {
            t->stop = 1;
            lws_cancel_service(t->ctx);
        }
        return 0;
    case LWS_CALLBACK_RAW_WRITEABLE_FILE:
        if (transport_flush_to_core(t) != 0) {
            t->stop = 1;
            lws_cancel_service(t->ctx);
        }
        return 0;
    case LWS_CALLBACK_RAW_CLOSE_FILE:
        t->link_wsi = NULL;
        t->stop = 1;
        return 0;
    default:
        return 0;
    }
}

/* ---- websockets -------------------------------------------------------- */

static int transport_path_in(const char *path, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(path, *list) == 0)
            return 1;
    return 0;
}

static const struct transport_endpoint *transport_endpoint(struct transport *t, const char *path)
{
    for (const struct transport_endpoint *e = t->endpoints; e->path; e++)
        if (strcmp(path, e->path) == 0)
            return e;
    return NULL;
}

/* The request path without its query string. */
static void transport_uri(struct lws *wsi, char *buf, size_t len)
{
    buf[0] = '\0';
    if (lws_hdr_copy(wsi, buf, (int)len, WSI_TOKEN_GET_URI) < 0)
        buf[0] = '\0';
    char *q = strchr(buf, '?');
    if (q)
        *q = '\0';
}

/* The client's address and port, "192.0.2.1:5000" or "[2001:db8::1]:5000"
 * (an IPv4-mapped IPv6 address shown as IPv4), for logs and the sessions
 * list; lws_get_peer_simple() would give the address alone. */
static void transport_peer(struct lws *wsi, char *buf, size_t len)
{
    struct sockaddr_storage ss;
    socklen_t sslen = sizeof(ss);
    char host[INET6_ADDRSTRLEN], port[8];
    int fd = lws_get_socket_fd(wsi);

    if (fd < 0 || getpeername(fd, (struct sockaddr *)&ss, &sslen) != 0 ||
        getnameinfo((struct sockaddr *)&ss, sslen, host, sizeof(host), port, sizeof(port),
                    NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
        lws_get_peer_simple(wsi, buf, len);
        return;
    }
    const char *h = g_str_has_prefix(host, "::ffff:") && strchr(host, '.') ? host + 7 : host;
    snprintf(buf, len, strchr(h, ':') ? "[%s]:%s" : "%s:%s", h, port);
}

static void transport_ws_open(struct transport *t, struct lws *wsi, struct pss *pss)
{
    char path[256], peer[INET6_ADDRSTRLEN + 10], host[256];
    struct tconn *c = tconn_new(t, wsi, 1);
    pss->conn = c;

    transport_uri(wsi, path, sizeof(path));
    const struct transport_endpoint *e = transport_endpoint(t, path);
    c->max_message = e && e->max_message ? e->max_message : CLIENT_MAX_MESSAGE;
    c->max_queued = e && e->max_queued ? e->max_queued : TRANSPORT_MAX_QUEUED;
    transport_peer(wsi, peer, sizeof(peer));
    if (lws_hdr_copy(wsi, host, sizeof(host), WSI_TOKEN_HOST) < 0)
        host[0] = '\0';
    struct ipc_ws_open m = {.path = path, .peer = peer, .host = host};
    transport_send_owned(t, IPC_WS_OPEN, c->id, ipc_ws_open_encode(&m));
}

static int transport_ws_receive(struct transport *t, struct lws *wsi, struct tconn *c,
                                const void *in, size_t len)
{
    if (lws_is_first_fragment(wsi)) {
        g_byte_array_set_size(c->rx, 0);
        c->rx_overflow = 0;
    }
    if (c->rx->len + len > c->max_message)
        c->rx_overflow = 1;
    else
        g_byte_array_append(c->rx, in, (guint)len);
    if (!lws_is_final_fragment(wsi))
        return 0;
    if (c->rx_overflow) {
        static const char reason[] = "message too large";
        log_info("connection %llu: message over %zu bytes; closing it", (unsigned long long)c->id,
                 c->max_message);
        lws_close_reason(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, (unsigned char *)reason,
                         sizeof(reason) - 1);
        return -1;
    }
    transport_send(t, IPC_WS_TEXT, c->id, c->rx->data, c->rx->len);
    g_byte_array_set_size(c->rx, 0);
    return 0;
}

static int transport_ws_writeable(struct tconn *c)
{
    struct outmsg *m = c->out_head;
    if (m) {
        int n = lws_write(c->wsi, m->buf + LWS_PRE, m->len, LWS_WRITE_TEXT);
        if (n < (int)m->len)
            return -1;
        c->out_head = m->next;
        if (!c->out_head)
            c->out_tail = NULL;
        c->out_bytes -= m->len;
        free(m);
        if (c->out_head) {
            lws_callback_on_writable(c->wsi);
            return 0;
        }
    }
    if (c->closing) {
        lws_close_reason(c->wsi, LWS_CLOSE_STATUS_NORMAL, NULL, 0);
        return -1;
    }
    return 0;
}

/* ---- HTTP -------------------------------------------------------------- */

static int transport_http_done(struct lws *wsi)
{
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static int transport_http_status(struct lws *wsi, unsigned int status)
{
    if (lws_return_http_status(wsi, status, NULL))
        return -1;
    return transport_http_done(wsi);
}

/* A recording key is what the worker made: hex, a dot, an extension. */
static int transport_key_valid(const char *key)
{
    size_t n = strlen(key);
    if (n == 0 || n > 64 || key[0] == '.')
        return 0;
    for (const char *p = key; *p; p++)
        if (!g_ascii_isalnum(*p) && *p != '.' && *p != '-' && *p != '_')
            return 0;
    return strstr(key, "..") == NULL;
}

static int transport_serve_recording(struct transport *t, struct lws *wsi, const char *key)
{
    if (!transport_key_valid(key))
        return transport_http_status(wsi, HTTP_STATUS_NOT_FOUND);
    gchar *path = g_build_filename(t->storage_dir, key, NULL);
    const char *mime = g_str_has_suffix(key, ".webm") ? "video/webm"
                       : g_str_has_suffix(key, ".mkv") ? "video/x-matroska"
                                                       : "application/octet-stream";
    int n = lws_serve_http_file(wsi, path, mime, NULL, 0);
    g_free(path);
    if (n < 0)
        return -1;
    if (n > 0)
        return transport_http_done(wsi);
    return 0;
}

static int transport_http(struct transport *t, struct lws *wsi, struct pss *pss)
{
    char path[256];

    if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) <= 0)
        return transport_http_status(wsi, HTTP_STATUS_METHOD_NOT_ALLOWED);
    transport_uri(wsi, path, sizeof(path));
    if (strncmp(path, "/recordings/", 12) == 0)
        return transport_serve_recording(t, wsi, path + 12);
    int rc = 0;
    enum www_result wr = www_http(t->www, wsi, path, &rc);
    if (wr == WWW_ANSWERED)
        return rc;
    if (wr == WWW_NOT_MINE && !transport_path_in(path, transport_dynamic_paths))
        return transport_http_status(wsi, HTTP_STATUS_NOT_FOUND);

    char accept[512]; /* a browser's is ~140 bytes */
    if (lws_hdr_copy(wsi, accept, sizeof(accept), WSI_TOKEN_HTTP_ACCEPT) < 0)
        accept[0] = '\0';
    struct tconn *c = tconn_new(t, wsi, 0);
    pss->conn = c;
    struct ipc_http_request m = {.method = "GET", .path = path, .accept = accept};
    transport_send_owned(t, IPC_HTTP_REQUEST, c->id, ipc_http_request_encode(&m));
    return 0;
}

static int transport_http_writeable(struct transport *t, struct lws *wsi, struct pss *pss)
{
    struct tconn *c = pss->conn;
    if (!c || !c->response)
        return 0;
    const struct ipc_http_response *r = c->response;
    size_t body_len = strlen(r->body);
    unsigned char buf[LWS_PRE + 1024];
    unsigned char *start = buf + LWS_PRE, *p = start, *end = buf + sizeof(buf) - 1;
    static const char nocache[] = "no-store";

    if (lws_add_http_common_headers(wsi, (unsigned int)r->status, r->content_type, body_len, &p,
                                    end) ||
        lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
                                     (const unsigned char *)nocache, sizeof(nocache) - 1, &p,
                                     end) ||
        lws_finalize_write_http_header(wsi, start, &p, end))
        return -1;
    if (body_len) {
        unsigned char *body = malloc(LWS_PRE + body_len);
        if (!body)
            return -1;
        memcpy(body + LWS_PRE, r->body, body_len);
        int n = lws_write(wsi, body + LWS_PRE, body_len, LWS_WRITE_HTTP_FINAL);
        free(body);
        if (n < (int)body_len)
            return -1;
    }
    pss->conn = NULL;
    tconn_free(t, c);
    return transport_http_done(wsi);
}

static int transport_http_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user,
                             void *in, size_t len)
{
    struct lws_context *ctx = lws_get_context(wsi);
    struct transport *t = ctx ? lws_context_user(ctx) : NULL;
    struct pss *pss = user;
    char path[256];

    switch (reason) {
    case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
        transport_uri(wsi, path, sizeof(path));
        if (strcmp((const char *)in, "websocket") != 0 ||
            !transport_endpoint(t, path)) {
            lws_return_http_status(wsi, HTTP_STATUS_NOT_FOUND, NULL);
            return 1;
        }
        return 0;
    case LWS_CALLBACK_ESTABLISHED:
        transport_ws_open(t, wsi, pss);
        return 0;
    case LWS_CALLBACK_RECEIVE:
        return pss->conn ? transport_ws_receive(t, wsi, pss->conn, in, len) : -1;
    case LWS_CALLBACK_SERVER_WRITEABLE:
        return pss->conn ? transport_ws_writeable(pss->conn) : 0;
    case LWS_CALLBACK_CLOSED:
        if (pss->conn) {
            transport_send(t, IPC_WS_CLOSE, pss->conn->id, NULL, 0);
            tconn_free(t, pss->conn);
            pss->conn = NULL;
        }
        return 0;
    case LWS_CALLBACK_HTTP:
        return transport_http(t, wsi, pss);
    case LWS_CALLBACK_HTTP_WRITEABLE:
        return transport_http_writeable(t, wsi, pss);
    case LWS_CALLBACK_HTTP_FILE_COMPLETION:
        return transport_http_done(wsi);
    case LWS_CALLBACK_CLOSED_HTTP:
        if (pss && pss->conn && !pss->conn->is_ws) {
            tconn_free(t, pss->conn);
            pss->conn = NULL;
        }
        return 0;
    default:
        return lws_callback_http_dummy(wsi, reason, user, in, len);
    }
}

static const struct lws_protocols transport_protocols[] = {
    {"http", transport_http_cb, sizeof(struct pss), TRANSPORT_RX_BUFFER, 0, NULL, 0},
    {"wv-core-link", transport_link_cb, 0, 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

/* ---- the thread -------------------------------------------------------- */

static void transport_lws_log(int level, const char *line)
{
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        n--;
    log_write(level == LLL_ERR ? LOG_LEVEL_ERROR : LOG_LEVEL_WARN, "lws: %.*s", (int)n, line);
}

static void *transport_main(void *arg)
{
    struct transport *t = arg;
    while (!t->stop)
        if (lws_service(t->ctx, 0) < 0)
            break;
    lws_context_destroy(t->ctx);
    t->ctx = NULL;
    return NULL;
}

/* Allow many connections: raise the soft descriptor limit towards the hard one. */
static unsigned transport_raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return 1024;
    rlim_t want = rl.rlim_max < TRANSPORT_MAX_FDS ? rl.rlim_max : TRANSPORT_MAX_FDS;
    if (rl.rlim_cur < want) {
        rl.rlim_cur = want;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    return (unsigned)(rl.rlim_cur < TRANSPORT_MAX_FDS ? rl.rlim_cur : TRANSPORT_MAX_FDS);
}

struct transport *transport_start(const struct transport_config *tc)
{
    struct lws_context_creation_info info;
    struct transport *t = g_new0(struct transport, 1);
    sigset_t all, old;

    t->core_fd = tc->core_fd;
    t->storage_dir = g_strdup(tc->storage_dir);
    t->endpoints = tc->endpoints;
    struct www_config wc = {tc->static_dir, tc->admin_user, tc->admin_password};
    t->www = www_new(&wc);
    t->to_core = g_byte_array_new();
    t->conns = g_hash_table_new(g_int64_hash, g_int64_equal);
    ipc_reader_init(&t->reader);

    lws_set_log_level(LLL_ERR | LLL_WARN, transport_lws_log);
    memset(&info, 0, sizeof(info));
    info.port = tc->listen_port;
    info.iface = strcmp(tc->listen_host, "0.0.0.0") == 0 ? NULL : tc->listen_host;
    info.protocols = transport_protocols;
    info.user = t;
    info.alpn = "http/1.1";
    info.fd_limit_per_thread = transport_raise_fd_limit();
    info.timeout_secs = 20;
    info.options = LWS_SERVER_OPTION_VALIDATE_UTF8;
    if (strchr(tc->listen_host, ':') == NULL)
        info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;

    t->ctx = lws_create_context(&info);
    if (!t->ctx) {
        log_error("cannot listen on %s:%d", tc->listen_host, tc->listen_port);
        goto error;
    }
    lws_sock_file_fd_type fd = {.filefd = t->core_fd};
    t->link_wsi = lws_adopt_descriptor_vhost(lws_get_vhost_by_name(t->ctx, "default"),
                                             LWS_ADOPT_RAW_FILE_DESC, fd, "wv-core-link", NULL);
    if (!t->link_wsi) {
        log_error("cannot adopt the core link");
        goto error;
    }

    /* Signals belong to the core thread: block them all here. */
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    int rc = pthread_create(&t->thread, NULL, transport_main, t);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        log_error("cannot start the transport thread: %s", strerror(rc));
        goto error;
    }
    log_info("listening on %s:%d", tc->listen_host, tc->listen_port);
    return t;

error:
    if (t->ctx)
        lws_context_destroy(t->ctx);
    ipc_reader_free(&t->reader);
    g_byte_array_free(t->to_core, TRUE);
    g_hash_table_destroy(t->conns);
    www_free(t->www);
    g_free(t->storage_dir);
    g_free(t);
    return NULL;
}

void transport_join(struct transport *t)
{
    pthread_join(t->thread, NULL);
    ipc_reader_free(&t->reader);
    g_byte_array_free(t->to_core, TRUE);
    g_hash_table_destroy(t->conns);
    www_free(t->www);
    g_free(t->storage_dir);
    g_free(t);
}
