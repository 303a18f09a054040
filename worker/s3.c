/*
 * worker/s3.c - the S3 client (see s3.h) on libsoup-3.0.
 *
 * Owns one SoupSession per client and the life of each request: the URL
 * (virtual-hosted https://BUCKET.s3.REGION.amazonaws.com/KEY for AWS,
 * ENDPOINT/BUCKET/KEY path-style for a custom endpoint or on request), the
 * SigV4 headers (host, x-amz-date, x-amz-content-sha256 = the body's real
 * SHA-256, x-amz-security-token, content-type), a GBytes body so libsoup
 * sends a Content-Length (never chunked), the retry loop (network errors,
 * 5xx, SlowDown, and two transient 4xx: 429 and RequestTimeout; exponential
 * backoff with full jitter, a fresh x-amz-date and signature on every
 * attempt) and reading S3's XML answers (proto/s3_xml.c).
 *
 * The object key is percent-encoded once, by sigv4_uri_encode(), and handed
 * to libsoup already encoded (SOUP_HTTP_URI_FLAGS keep it as is), so the
 * path on the wire is byte for byte the one that was signed.
 *
 * Each operation holds a reference on the client: s3_client_free() with
 * operations in flight lets them finish (or be cancelled) first.
 */
#include "s3.h"

#include <libsoup/soup.h>
#include <openssl/crypto.h>
#include <string.h>
#include <time.h>

#include "config_build.h"
#include "log.h"
#include "s3_xml.h"
#include "sigv4.h"

#define S3_DEFAULT_ATTEMPTS 6
#define S3_DEFAULT_BACKOFF_BASE_MS 200
#define S3_DEFAULT_BACKOFF_MAX_MS 20000
#define S3_IO_TIMEOUT_S 60
#define S3_MAX_CONNS_PER_HOST 8

G_DEFINE_QUARK(wv-s3-error-quark, s3_error)

struct s3_client {
    int refs;
    char *bucket;
    char *region;
    char *prefix;
    char *scheme;    /* "https" or "http" */
    char *host;      /* the Host header: "b.s3.r.amazonaws.com", "127.0.0.1:4568" */
    char *base_path; /* raw path before the key: "/" (virtual-hosted) or "/bucket/" */
    char *access_key;
    char *secret_key;
    char *session_token;
    guint max_attempts;
    guint backoff_base_ms;
    guint backoff_max_ms;
    SoupSession *session;
};

enum s3_op { S3_OP_PUT, S3_OP_CREATE, S3_OP_PART, S3_OP_COMPLETE, S3_OP_ABORT };

static const char *const s3_op_names[] = {
    [S3_OP_PUT] = "PutObject",
    [S3_OP_CREATE] = "CreateMultipartUpload",
    [S3_OP_PART] = "UploadPart",
    [S3_OP_COMPLETE] = "CompleteMultipartUpload",
    [S3_OP_ABORT] = "AbortMultipartUpload",
};

struct s3_request {
    struct s3_client *client; /* a reference */
    enum s3_op op;
    const char *method;
    char *key;      /* prefix + key, raw */
    char *raw_path; /* what is signed (sigv4 encodes it) */
    GUri *uri;      /* what is sent: the same path, encoded once */
    struct sigv4_pair query[2];
    size_t n_query;
    GBytes *body;   /* NULL: no body (DELETE) */
    char *content_type;
    char payload_hash[SIGV4_SHA256_HEX_LEN + 1];
    guint attempts;
    SoupMessage *msg;
    GSource *wait;  /* the backoff timer, while waiting */
};

/* ---- client ------------------------------------------------------------- */

static struct s3_client *s3_client_ref(struct s3_client *c)
{
    c->refs++;
    return c;
}

static void s3_client_unref(struct s3_client *c)
{
    if (!c || --c->refs > 0)
        return;
    g_clear_object(&c->session);
    g_free(c->bucket);
    g_free(c->region);
    g_free(c->prefix);
    g_free(c->scheme);
    g_free(c->host);
    g_free(c->base_path);
    g_free(c->access_key);
    if (c->secret_key)
        OPENSSL_cleanse(c->secret_key, strlen(c->secret_key));
    g_free(c->secret_key);
    g_free(c->session_token);
    g_free(c);
}

void s3_client_free(struct s3_client *c)
{
    s3_client_unref(c);
}

static gboolean s3_empty(const char *s)
{
    return !s || !*s;
}

/* The endpoint as an error message may show it: an endpoint with an '@'
 * may carry credentials (user:secret@host), which the message goes without
 * (it reaches the log, the master and the client). */
static const char *s3_endpoint_shown(const char *endpoint)
{
    return strchr(endpoint, '@') ? "(not shown: it has an '@', as credentials would)" : endpoint;
}

/* Endpoint "http(s)://host[:port][/base]": scheme, Host header value and
 * the raw base path (without a trailing '/'). */
static gboolean s3_endpoint_parse(struct s3_client *c, const char *endpoint, char **base,
                                  GError **error)
{
    GError *err = NULL;
    GUri *uri = g_uri_parse(endpoint, G_URI_FLAGS_NONE, &err);
    if (!uri) {
        /* GLib's message may quote parts of the URL */
        g_set_error(error, S3_ERROR, S3_ERROR_CONFIG, "S3 endpoint %s is not a URL%s%s",
                    s3_endpoint_shown(endpoint), strchr(endpoint, '@') ? "" : ": ",
                    strchr(endpoint, '@') ? "" : err->message);
        g_error_free(err);
        return FALSE;
    }
    const char *scheme = g_uri_get_scheme(uri);
    const char *host = g_uri_get_host(uri);
    if ((g_strcmp0(scheme, "http") != 0 && g_strcmp0(scheme, "https") != 0) || s3_empty(host) ||
        g_uri_get_userinfo(uri) || g_uri_get_query(uri) || g_uri_get_fragment(uri)) {
        g_set_error(error, S3_ERROR, S3_ERROR_CONFIG,
                    "S3 endpoint %s must be http(s)://host[:port][/path], without "
                    "credentials, query or fragment", s3_endpoint_shown(endpoint));
        g_uri_unref(uri);
        return FALSE;
    }
    int port = g_uri_get_port(uri);
    gboolean default_port = port < 0 || (port == 80 && strcmp(scheme, "http") == 0) ||
                            (port == 443 && strcmp(scheme, "https") == 0);
    gboolean v6 = strchr(host, ':') != NULL;
    c->scheme = g_strdup(scheme);
    c->host = default_port ? g_strdup_printf(v6 ? "[%s]" : "%s", host)
                           : g_strdup_printf(v6 ? "[%s]:%d" : "%s:%d", host, port);
    *base = g_strdup(g_uri_get_path(uri)); /* decoded by G_URI_FLAGS_NONE: raw */
    while (**base && (*base)[strlen(*base) - 1] == '/')
        (*base)[strlen(*base) - 1] = '\0';
    g_uri_unref(uri);
    return TRUE;
}

/* GLib (and so libsoup) removes "." and ".." path segments from a URL,
 * even percent-encoded ones, so such a key would be sent as another one. */
static gboolean s3_key_has_dot_segment(const char *key)
{
    char **segments = g_strsplit(key, "/", -1);
    gboolean found = FALSE;
    for (char **s = segments; *s && !found; s++)
        found = strcmp(*s, ".") == 0 || strcmp(*s, "..") == 0;
    g_strfreev(segments);
    return found;
}

static gboolean s3_config_check(const struct s3_config *cfg, GError **error)
{
    const char *missing = s3_empty(cfg->bucket)       ? "a bucket"
                          : s3_empty(cfg->region)     ? "a region"
                          : s3_empty(cfg->access_key) ? "an access key (AWS_ACCESS_KEY_ID)"
                          : s3_empty(cfg->secret_key) ? "a secret key (AWS_SECRET_ACCESS_KEY)"
                                                      : NULL;
    if (missing) {
        g_set_error(error, S3_ERROR, S3_ERROR_CONFIG, "S3 storage needs %s", missing);
        return FALSE;
    }
    if (cfg->prefix && s3_key_has_dot_segment(cfg->prefix)) {
        g_set_error(error, S3_ERROR, S3_ERROR_CONFIG,
                    "S3 key prefix \"%s\" may not have a \".\" or \"..\" segment", cfg->prefix);
        return FALSE;
    }
    if (strchr(cfg->bucket, '/') || strchr(cfg->region, '/')) {
        g_set_error(error, S3_ERROR, S3_ERROR_CONFIG, "S3 bucket and region may not contain '/'");
        return FALSE;
    }
    return TRUE;
}

struct s3_client *s3_client_new(const struct s3_config *cfg, GError **error)
{
    if (!s3_config_check(cfg, error))
        return NULL;
    struct s3_client *c = g_new0(struct s3_client, 1);
    char *base = NULL;
    c->refs = 1;
    c->bucket = g_strdup(cfg->bucket);
    c->region = g_strdup(cfg->region);
    c->prefix = g_strdup(cfg->prefix ? cfg->prefix : "");
    c->access_key = g_strdup(cfg->access_key);
    c->secret_key = g_strdup(cfg->secret_key);
    c->session_token = s3_empty(cfg->session_token) ? NULL : g_strdup(cfg->session_token);
    c->max_attempts = cfg->max_attempts ? cfg->max_attempts : S3_DEFAULT_ATTEMPTS;
    c->backoff_base_ms = cfg->backoff_base_ms ? cfg->backoff_base_ms : S3_DEFAULT_BACKOFF_BASE_MS;
    c->backoff_max_ms = cfg->backoff_max_ms ? cfg->backoff_max_ms : S3_DEFAULT_BACKOFF_MAX_MS;

    if (cfg->endpoint) {
        if (!s3_endpoint_parse(c, cfg->endpoint, &base, error))
            goto error;
        c->base_path = g_strdup_printf("%s/%s/", base, c->bucket);
    } else if (cfg->path_style) {
        c->scheme = g_strdup("https");
        c->host = g_strdup_printf("s3.%s.amazonaws.com", c->region);
        c->base_path = g_strdup_printf("/%s/", c->bucket);
    } else {
        c->scheme = g_strdup("https");
        c->host = g_strdup_printf("%s.s3.%s.amazonaws.com", c->bucket, c->region);
        c->base_path = g_strdup("/");
    }
    c->session = soup_session_new_with_options("timeout", S3_IO_TIMEOUT_S, "idle-timeout",
                                               S3_IO_TIMEOUT_S, "max-conns-per-host",
                                               S3_MAX_CONNS_PER_HOST, "user-agent",
                                               "webrtc-video/" WV_VERSION, NULL);
    g_free(base);
    return c;
error:
    g_free(base);
    s3_client_unref(c);
    return NULL;
}

char *s3_client_object_key(struct s3_client *c, const char *key)
{
    return g_strconcat(c->prefix, key, NULL);
}

/* The raw (unencoded) path of an object. */
static char *s3_object_path(struct s3_client *c, const char *full_key)
{
    return g_strconcat(c->base_path, full_key, NULL);
}

char *s3_client_object_url(struct s3_client *c, const char *key)
{
    char *full_key = s3_client_object_key(c, key);
    char *raw = s3_object_path(c, full_key);
    char *path = sigv4_canonical_uri(raw);
    char *url = g_strdup_printf("%s://%s%s", c->scheme, c->host, path);
    g_free(full_key);
    g_free(raw);
    g_free(path);
    return url;
}

/* ---- requests ------------------------------------------------------------ */

static void s3_request_free(gpointer data)
{
    struct s3_request *r = data;
    if (r->wait) {
        g_source_destroy(r->wait);
        g_source_unref(r->wait);
    }
    g_clear_object(&r->msg);
    for (size_t i = 0; i < r->n_query; i++) {
        g_free((char *)r->query[i].name);
        g_free((char *)r->query[i].value);
    }
    if (r->uri)
        g_uri_unref(r->uri);
    if (r->body)
        g_bytes_unref(r->body);
    g_free(r->key);
    g_free(r->raw_path);
    g_free(r->content_type);
    s3_client_unref(r->client);
    g_free(r);
}

static void s3_request_add_query(struct s3_request *r, const char *name, const char *value)
{
    g_assert(r->n_query < G_N_ELEMENTS(r->query));
    r->query[r->n_query].name = g_strdup(name);
    r->query[r->n_query].value = g_strdup(value);
    r->n_query++;
}

/* The URL on the wire: path and query encoded exactly as they are signed. */
static GUri *s3_request_uri(struct s3_request *r, GError **error)
{
    struct s3_client *c = r->client;
    GString *url = g_string_new(NULL);
    char *path = sigv4_canonical_uri(r->raw_path);
    g_string_append_printf(url, "%s://%s%s", c->scheme, c->host, path);
    g_free(path);
    for (size_t i = 0; i < r->n_query; i++) {
        char *name = sigv4_uri_encode(r->query[i].name, FALSE);
        g_string_append_c(url, i ? '&' : '?');
        g_string_append(url, name);
        if (!s3_empty(r->query[i].value)) {
            char *value = sigv4_uri_encode(r->query[i].value, FALSE);
            g_string_append_printf(url, "=%s", value);
            g_free(value);
        }
        g_free(name);
    }
    GUri *uri = g_uri_parse(url->str, SOUP_HTTP_URI_FLAGS, error);
    g_string_free(url, TRUE);
    return uri;
}

static GTask *s3_request_new(struct s3_client *c, enum s3_op op, const char *method,
                             const char *key, GBytes *body, const char *content_type,
                             GCancellable *cancel, GAsyncReadyCallback cb, gpointer user,
                             gpointer tag)
{
    struct s3_request *r = g_new0(struct s3_request, 1);
    r->client = s3_client_ref(c);
    r->op = op;
    r->method = method;
    r->key = s3_client_object_key(c, key);
    r->raw_path = s3_object_path(c, r->key);
    r->body = body ? g_bytes_ref(body) : NULL;
    r->content_type = g_strdup(content_type);
    GTask *task = g_task_new(NULL, cancel, cb, user);
    g_task_set_source_tag(task, tag);
    g_task_set_task_data(task, r, s3_request_free);
    return task;
}

/* Ends task with an error before (or instead of) sending anything, and
 * drops the reference the _async() call held. */
static void G_GNUC_PRINTF(4, 5)
s3_task_fail(GTask *task, GQuark domain, gint code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *message = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_task_return_new_error(task, domain, code, "%s", message);
    g_free(message);
    g_object_unref(task);
}

/* The caller hashed the body already (storage_s3 keeps the hash of every
 * part it sends): sign with that instead of hashing the same bytes again.
 * NULL, or not 64 hex digits: s3_request_start() computes it. */
static void s3_request_set_payload_hash(struct s3_request *r, const char *hex)
{
    if (hex && strlen(hex) == SIGV4_SHA256_HEX_LEN)
        g_strlcpy(r->payload_hash, hex, sizeof(r->payload_hash));
}

/* Signs msg afresh (x-amz-date now) and sets its headers. */
static gboolean s3_request_sign(struct s3_request *r, SoupMessage *msg)
{
    struct s3_client *c = r->client;
    SoupMessageHeaders *h = soup_message_get_request_headers(msg);
    char date[SIGV4_AMZ_DATE_LEN + 1];
    sigv4_amz_date(time(NULL), date);

    struct sigv4_pair signed_headers[5];
    size_t n = 0;
    signed_headers[n++] = (struct sigv4_pair){"host", c->host};
    signed_headers[n++] = (struct sigv4_pair){"x-amz-date", date};
    signed_headers[n++] = (struct sigv4_pair){"x-amz-content-sha256", r->payload_hash};
    if (c->session_token)
        signed_headers[n++] = (struct sigv4_pair){"x-amz-security-token", c->session_token};
    if (r->content_type)
        signed_headers[n++] = (struct sigv4_pair){"content-type", r->content_type};
    for (size_t i = 0; i < n; i++)
        soup_message_headers_replace(h, signed_headers[i].name, signed_headers[i].value);

    const struct sigv4_credentials cred = {
        .access_key = c->access_key, .secret_key = c->secret_key,
        .region = c->region, .service = "s3",
    };
    const struct sigv4_request sr = {
        .method = r->method, .path = r->raw_path, .query = r->query, .n_query = r->n_query,
        .headers = signed_headers, .n_headers = n, .payload_hash = r->payload_hash,
    };
    char *auth = sigv4_authorization(&sr, &cred, date);
    if (!auth)
        return FALSE;
    soup_message_headers_replace(h, "Authorization", auth);
    g_free(auth);
    return TRUE;
}

static void s3_request_done(GObject *source, GAsyncResult *res, gpointer data);

static void s3_request_send(GTask *task)
{
    struct s3_request *r = g_task_get_task_data(task);
    struct s3_client *c = r->client;

    r->attempts++;
    g_clear_object(&r->msg);
    r->msg = soup_message_new_from_uri(r->method, r->uri);
    /* a redirect (S3's 301 PermanentRedirect: wrong region) would be
     * followed with a signature for the old host: report it instead */
    soup_message_add_flags(r->msg, SOUP_MESSAGE_NO_REDIRECT);
    if (r->body) /* sets Content-Length: the body is never chunked */
        soup_message_set_request_body_from_bytes(r->msg, r->content_type, r->body);
    if (!s3_request_sign(r, r->msg)) {
        s3_task_fail(task, S3_ERROR, S3_ERROR_CONFIG, "S3 %s %s: signing failed",
                     s3_op_names[r->op], r->key);
        return;
    }
    soup_session_send_and_read_async(c->session, r->msg, G_PRIORITY_DEFAULT,
                                     g_task_get_cancellable(task), s3_request_done, task);
}

static void s3_request_start(GTask *task)
{
    struct s3_request *r = g_task_get_task_data(task);
    GError *err = NULL;
    gsize len = 0;
    if (s3_empty(r->key) || s3_key_has_dot_segment(r->key)) {
        s3_task_fail(task, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                     "S3 %s \"%s\": an object key may not be empty nor have a "
                     "\".\" or \"..\" segment", s3_op_names[r->op], r->key);
        return;
    }
    const void *data = r->body ? g_bytes_get_data(r->body, &len) : "";
    if (!r->payload_hash[0] && sigv4_sha256_hex(data, len, r->payload_hash) < 0) {
        s3_task_fail(task, S3_ERROR, S3_ERROR_CONFIG, "S3 %s %s: SHA-256 failed",
                     s3_op_names[r->op], r->key);
        return;
    }
    r->uri = s3_request_uri(r, &err);
    if (!r->uri) {
        s3_task_fail(task, S3_ERROR, S3_ERROR_CONFIG, "S3 %s %s: bad URL: %s",
                     s3_op_names[r->op], r->key, err->message);
        g_error_free(err);
        return;
    }
    s3_request_send(task);
}

/* Full jitter: uniform in [0, min(cap, base * 2^(attempt-1))]. */
static guint s3_backoff_ms(const struct s3_client *c, guint attempt)
{
    guint shift = attempt > 0 ? MIN(attempt - 1, 30u) : 0;
    guint64 ceiling = MIN((guint64)c->backoff_base_ms << shift, (guint64)c->backoff_max_ms);
    ceiling = MIN(ceiling, (guint64)G_MAXINT32 - 1);
    return (guint)g_random_int_range(0, (gint32)ceiling + 1);
}

static gboolean s3_request_wait_over(gpointer data)
{
    GTask *task = data;
    struct s3_request *r = g_task_get_task_data(task);
    g_source_unref(r->wait);
    r->wait = NULL;
    GError *err = NULL;
    if (g_cancellable_set_error_if_cancelled(g_task_get_cancellable(task), &err)) {
        g_task_return_error(task, err);
        g_object_unref(task);
    } else {
        s3_request_send(task);
    }
    return G_SOURCE_REMOVE;
}

static gboolean s3_request_cancelled_during_wait(GCancellable *cancel, gpointer data)
{
    return G_SOURCE_CONTINUE; /* the parent timeout source dispatches and sees it */
}

/* err (taken) is a retriable failure: try again after a backoff, or give up. */
static void s3_request_retry(GTask *task, GError *err)
{
    struct s3_request *r = g_task_get_task_data(task);
    struct s3_client *c = r->client;
    if (r->attempts >= c->max_attempts) {
        g_prefix_error(&err, "after %u attempts: ", r->attempts);
        g_task_return_error(task, err);
        g_object_unref(task);
        return;
    }
    guint delay = s3_backoff_ms(c, r->attempts);
    log_warn("S3: %s (attempt %u of %u); retrying in %u ms", err->message, r->attempts,
             c->max_attempts, delay);
    g_error_free(err);
    r->wait = g_timeout_source_new(delay);
    GCancellable *cancel = g_task_get_cancellable(task);
    if (cancel) { /* a cancel during the wait ends it at once */
        GSource *child = g_cancellable_source_new(cancel);
        g_source_set_callback(child, G_SOURCE_FUNC(s3_request_cancelled_during_wait), NULL, NULL);
        g_source_add_child_source(r->wait, child);
        g_source_unref(child);
    }
    g_source_set_callback(r->wait, s3_request_wait_over, task, NULL);
    g_source_attach(r->wait, g_task_get_context(task));
}

static void s3_request_succeed(GTask *task, struct s3_request *r, struct s3_xml *doc)
{
    SoupMessageHeaders *h = soup_message_get_response_headers(r->msg);
    const char *etag = soup_message_headers_get_one(h, "ETag");
    switch (r->op) {
    case S3_OP_CREATE:
        if (s3_empty(doc->upload_id))
            goto malformed;
        g_task_return_pointer(task, g_strdup(doc->upload_id), g_free);
        return;
    case S3_OP_PART:
        if (s3_empty(etag))
            goto malformed;
        g_task_return_pointer(task, g_strdup(etag), g_free);
        return;
    case S3_OP_COMPLETE:
        if (g_strcmp0(doc->root, "CompleteMultipartUploadResult") != 0)
            goto malformed;
        g_task_return_boolean(task, TRUE);
        return;
    case S3_OP_PUT:
    case S3_OP_ABORT:
        g_task_return_boolean(task, TRUE);
        return;
    }
malformed:
    g_task_return_new_error(task, S3_ERROR, S3_ERROR_SERVER,
                            "S3 %s %s: %u answer without the expected %s",
                            s3_op_names[r->op], r->key, soup_message_get_status(r->msg),
                            r->op == S3_OP_PART ? "ETag" : "XML document");
}

/* Transient answers: 5xx; SlowDown (503) and 429 Too Many Requests, the
 * throttling of S3 and of S3-compatible stores; 400 RequestTimeout, S3's
 * answer to an upload whose socket went quiet, which AWS documents as
 * retriable.  Every other 3xx/4xx would fail again the same way. */
static gboolean s3_retriable(guint status, const char *code)
{
    return status >= 500 || status == 429 || g_strcmp0(code, "SlowDown") == 0 ||
           g_strcmp0(code, "RequestTimeout") == 0;
}

static void s3_request_done(GObject *source, GAsyncResult *res, gpointer data)
{
    GTask *task = data;
    struct s3_request *r = g_task_get_task_data(task);
    GError *err = NULL;
    GBytes *body = soup_session_send_and_read_finish(SOUP_SESSION(source), res, &err);
    if (!body) {
        if (g_error_matches(err, G_IO_ERROR, G_IO_ERROR_CANCELLED)) {
            g_task_return_error(task, err);
            g_object_unref(task);
            return;
        }
        GError *net = g_error_new(S3_ERROR, S3_ERROR_NETWORK, "S3 %s %s: %s",
                                  s3_op_names[r->op], r->key, err->message);
        g_error_free(err);
        s3_request_retry(task, net);
        return;
    }

    guint status = soup_message_get_status(r->msg);
    gsize len = 0;
    const char *xml = g_bytes_get_data(body, &len);
    struct s3_xml doc;
    s3_xml_parse(xml ? xml : "", len, &doc);
    g_bytes_unref(body);
    gboolean error_doc = g_strcmp0(doc.root, "Error") == 0;
    if (status >= 200 && status < 300 && !error_doc) {
        s3_request_succeed(task, r, &doc);
        s3_xml_clear(&doc);
        g_object_unref(task);
        return;
    }

    /* An error: S3's Code and Message, or the HTTP status when there is no
     * error document (HEAD-like answers, proxies). */
    const char *code = doc.code ? doc.code : soup_status_get_phrase(status);
    const char *message = doc.message ? doc.message : "";
    gboolean retriable = s3_retriable(status, doc.code) ||
                         (status < 300 && error_doc); /* a 200 that carries an <Error> */
    enum s3_error_code kind = retriable ? S3_ERROR_SERVER
                              : (status == 404 && g_strcmp0(doc.code, "NoSuchUpload") == 0)
                                  ? S3_ERROR_NO_UPLOAD
                                  : S3_ERROR_REJECTED;
    err = g_error_new(S3_ERROR, kind, "S3 %s %s: %u %s%s%s", s3_op_names[r->op], r->key, status,
                      code ? code : "", *message ? ": " : "", message);
    s3_xml_clear(&doc);
    if (retriable) {
        s3_request_retry(task, err);
        return;
    }
    if (r->op == S3_OP_ABORT && kind == S3_ERROR_NO_UPLOAD) {
        g_error_free(err); /* nothing left to abort: done */
        g_task_return_boolean(task, TRUE);
    } else {
        g_task_return_error(task, err);
    }
    g_object_unref(task);
}

/* ---- operations ---------------------------------------------------------- */

void s3_put_object_async(struct s3_client *c, const char *key, GBytes *body,
                         const char *body_sha256, const char *content_type, GCancellable *cancel,
                         GAsyncReadyCallback cb, gpointer user)
{
    GTask *task = s3_request_new(c, S3_OP_PUT, "PUT", key, body, content_type, cancel, cb, user,
                                 s3_put_object_async);
    s3_request_set_payload_hash(g_task_get_task_data(task), body_sha256);
    s3_request_start(task);
}

gboolean s3_put_object_finish(struct s3_client *c, GAsyncResult *res, GError **error)
{
    g_return_val_if_fail(g_async_result_is_tagged(res, s3_put_object_async), FALSE);
    return g_task_propagate_boolean(G_TASK(res), error);
}

void s3_multipart_create_async(struct s3_client *c, const char *key, const char *content_type,
                               GCancellable *cancel, GAsyncReadyCallback cb, gpointer user)
{
    GBytes *empty = g_bytes_new_static("", 0); /* Content-Length: 0 */
    GTask *task = s3_request_new(c, S3_OP_CREATE, "POST", key, empty, content_type, cancel, cb,
                                 user, s3_multipart_create_async);
    g_bytes_unref(empty);
    s3_request_add_query(g_task_get_task_data(task), "uploads", NULL);
    s3_request_start(task);
}

char *s3_multipart_create_finish(struct s3_client *c, GAsyncResult *res, GError **error)
{
    g_return_val_if_fail(g_async_result_is_tagged(res, s3_multipart_create_async), NULL);
    return g_task_propagate_pointer(G_TASK(res), error);
}

void s3_multipart_upload_part_async(struct s3_client *c, const char *key, const char *upload_id,
                                    guint part_number, GBytes *body, const char *body_sha256,
                                    GCancellable *cancel, GAsyncReadyCallback cb, gpointer user)
{
    GTask *task = s3_request_new(c, S3_OP_PART, "PUT", key, body, NULL, cancel, cb, user,
                                 s3_multipart_upload_part_async);
    s3_request_set_payload_hash(g_task_get_task_data(task), body_sha256);
    if (part_number < 1 || part_number > S3_PART_NUMBER_MAX || s3_empty(upload_id)) {
        s3_task_fail(task, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                     "S3 UploadPart: part number %u (1..%u) or upload id invalid",
                     part_number, S3_PART_NUMBER_MAX);
        return;
    }
    char number[16];
    g_snprintf(number, sizeof(number), "%u", part_number);
    struct s3_request *r = g_task_get_task_data(task);
    s3_request_add_query(r, "partNumber", number);
    s3_request_add_query(r, "uploadId", upload_id);
    s3_request_start(task);
}

char *s3_multipart_upload_part_finish(struct s3_client *c, GAsyncResult *res, GError **error)
{
    g_return_val_if_fail(g_async_result_is_tagged(res, s3_multipart_upload_part_async), NULL);
    return g_task_propagate_pointer(G_TASK(res), error);
}

/* The CompleteMultipartUpload document; NULL when the parts are not in
 * strictly ascending 1..10000 order or lack an ETag. */
static GBytes *s3_complete_body(const struct s3_part *parts, guint n_parts)
{
    GString *xml = g_string_new("<CompleteMultipartUpload "
                                "xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">");
    for (guint i = 0; i < n_parts; i++) {
        if (parts[i].number < 1 || parts[i].number > S3_PART_NUMBER_MAX ||
            (i > 0 && parts[i].number <= parts[i - 1].number) || s3_empty(parts[i].etag)) {
            g_string_free(xml, TRUE);
            return NULL;
        }
        char *etag = g_markup_escape_text(parts[i].etag, -1);
        g_string_append_printf(xml, "<Part><PartNumber>%u</PartNumber><ETag>%s</ETag></Part>",
                               parts[i].number, etag);
        g_free(etag);
    }
    g_string_append(xml, "</CompleteMultipartUpload>");
    return g_string_free_to_bytes(xml);
}

void s3_multipart_complete_async(struct s3_client *c, const char *key, const char *upload_id,
                                 const struct s3_part *parts, guint n_parts, GCancellable *cancel,
                                 GAsyncReadyCallback cb, gpointer user)
{
    GBytes *body = n_parts ? s3_complete_body(parts, n_parts) : NULL;
    GTask *task = s3_request_new(c, S3_OP_COMPLETE, "POST", key, body, "application/xml", cancel,
                                 cb, user, s3_multipart_complete_async);
    if (!body || s3_empty(upload_id)) {
        s3_task_fail(task, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                     "S3 CompleteMultipartUpload: no upload id, or parts not in "
                     "ascending order 1..%u with their ETags", S3_PART_NUMBER_MAX);
        return;
    }
    g_bytes_unref(body);
    s3_request_add_query(g_task_get_task_data(task), "uploadId", upload_id);
    s3_request_start(task);
}

gboolean s3_multipart_complete_finish(struct s3_client *c, GAsyncResult *res, GError **error)
{
    g_return_val_if_fail(g_async_result_is_tagged(res, s3_multipart_complete_async), FALSE);
    return g_task_propagate_boolean(G_TASK(res), error);
}

void s3_multipart_abort_async(struct s3_client *c, const char *key, const char *upload_id,
                              GCancellable *cancel, GAsyncReadyCallback cb, gpointer user)
{
    GTask *task = s3_request_new(c, S3_OP_ABORT, "DELETE", key, NULL, NULL, cancel, cb, user,
                                 s3_multipart_abort_async);
    if (s3_empty(upload_id)) {
        s3_task_fail(task, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                     "S3 AbortMultipartUpload: no upload id");
        return;
    }
    s3_request_add_query(g_task_get_task_data(task), "uploadId", upload_id);
    s3_request_start(task);
}

gboolean s3_multipart_abort_finish(struct s3_client *c, GAsyncResult *res, GError **error)
{
    g_return_val_if_fail(g_async_result_is_tagged(res, s3_multipart_abort_async), FALSE);
    return g_task_propagate_boolean(G_TASK(res), error);
}
