/*
 * master/www.c - static files and the admin gate, on the transport thread
 * (see www.h).
 *
 *   /api/client.js     static-dir/client.js, public
 *   /admin             static-dir/admin.html        } basic auth; none
 *   /admin/NAME.EXT    static-dir/NAME.EXT          } configured: 404
 *   /admin/sessions    the core's (WWW_TO_CORE)     }
 *   /admin/            redirect to ../admin (relative: works under a proxy prefix)
 */
#include "www.h"

#include <errno.h>
#include <glib.h>
#include <libwebsockets.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "log.h"
#include "secret.h"

#define WWW_REALM "webrtc-video admin"
#define WWW_MAX_NAME 64
#define WWW_MAX_AUTH_HEADER 1024
#define WWW_CACHE_MAX 64        /* remembered verified headers */
#define WWW_FAILED_CACHE_MAX 256 /* remembered wrong ones */
#define WWW_VERIFY_BUDGET_US 250000 /* PBKDF2 time allowed per second on this thread */

struct www {
    char *static_dir;
    char *admin_user;
    char *admin_password;
    int password_hashed;
    GHashTable *verified; /* SHA-256 hex of an Authorization header -> 1 */
    GHashTable *failed;   /* likewise, for wrong ones */
    time_t verify_second;
    gint64 verify_spent_us; /* PBKDF2 time spent in verify_second */
};

static const struct {
    const char *ext;
    const char *type;
} www_types[] = {
    {".js", "application/javascript; charset=utf-8"},
    {".mjs", "application/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".html", "text/html; charset=utf-8"},
    {".json", "application/json"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".ico", "image/x-icon"},
    {".txt", "text/plain; charset=utf-8"},
};

struct www *www_new(const struct www_config *wc)
{
    struct www *w = g_new0(struct www, 1);
    w->static_dir = g_strdup(wc->static_dir);
    if (wc->admin_user && wc->admin_password) {
        w->admin_user = g_strdup(wc->admin_user);
        w->admin_password = g_strdup(wc->admin_password);
        w->password_hashed = secret_is_password_hash(wc->admin_password);
    }
    w->verified = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    w->failed = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    if (w->static_dir && !g_file_test(w->static_dir, G_FILE_TEST_IS_DIR))
        log_warn("static directory %s does not exist: /api/client.js and /admin answer 404",
                 w->static_dir);
    if (!w->admin_user)
        log_info("no admin credentials ([admin] auth): /admin answers 404");
    return w;
}

void www_free(struct www *w)
{
    if (!w)
        return;
    if (w->admin_password)
        memset(w->admin_password, 0, strlen(w->admin_password));
    g_free(w->admin_password);
    g_free(w->admin_user);
    g_free(w->static_dir);
    g_hash_table_destroy(w->verified);
    g_hash_table_destroy(w->failed);
    g_free(w);
}

/* ---- responses ------------------------------------------------------------ */

static int www_done(struct lws *wsi)
{
    return lws_http_transaction_completed(wsi) ? -1 : 0;
}

/* A whole small response, written now; `header`/`value` one extra header. */
static int www_respond(struct lws *wsi, unsigned status, const char *header, const char *value,
                       const char *body)
{
    unsigned char buf[LWS_PRE + 2048];
    unsigned char *start = buf + LWS_PRE, *p = start, *end = buf + sizeof(buf) - 1;
    static const char nostore[] = "no-store";
    size_t len = strlen(body);

    if (lws_add_http_common_headers(wsi, status, "text/plain; charset=utf-8", len, &p, end) ||
        lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
                                     (const unsigned char *)nostore, sizeof(nostore) - 1, &p,
                                     end) ||
        (header && lws_add_http_header_by_name(wsi, (const unsigned char *)header,
                                               (const unsigned char *)value, (int)strlen(value),
                                               &p, end)) ||
        lws_finalize_write_http_header(wsi, start, &p, end))
        return -1;
    if (len) { /* the headers are written: buf is free again */
        if (len > sizeof(buf) - LWS_PRE)
            return -1;
        memcpy(start, body, len);
        if (lws_write(wsi, start, len, LWS_WRITE_HTTP_FINAL) < (int)len)
            return -1;
    }
    return www_done(wsi);
}

/* ---- static files ------------------------------------------------------- */

static const char *www_type_for(const char *name)
{
    for (size_t i = 0; i < G_N_ELEMENTS(www_types); i++)
        if (g_str_has_suffix(name, www_types[i].ext))
            return www_types[i].type;
    return NULL;
}

/* A plain file name: no '/', no leading '.', a known extension. */
static int www_name_valid(const char *name)
{
    size_t n = strlen(name);
    if (n == 0 || n > WWW_MAX_NAME || name[0] == '.' || !www_type_for(name))
        return 0;
    for (const char *p = name; *p; p++)
        if (!g_ascii_isalnum(*p) && *p != '.' && *p != '-' && *p != '_')
            return 0;
    return 1;
}

static int www_etag_matches(struct lws *wsi, const char *etag)
{
    char inm[256];
    if (lws_hdr_copy(wsi, inm, sizeof(inm), WSI_TOKEN_HTTP_IF_NONE_MATCH) <= 0)
        return 0;
    return strstr(inm, etag) != NULL || strcmp(inm, "*") == 0;
}

static int www_serve_file(struct www *w, struct lws *wsi, const char *name)
{
    unsigned char hdrs[512];
    unsigned char *p = hdrs, *end = hdrs + sizeof(hdrs);
    char etag[64], modified[64];
    struct stat st;
    struct tm tm;
    static const char nocache[] = "no-cache";
    static const char nosniff[] = "nosniff";

    if (!www_name_valid(name) || !w->static_dir)
        return www_respond(wsi, HTTP_STATUS_NOT_FOUND, NULL, NULL, "not found\n");
    gchar *path = g_build_filename(w->static_dir, name, NULL);
    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
        g_free(path);
        return www_respond(wsi, HTTP_STATUS_NOT_FOUND, NULL, NULL, "not found\n");
    }
    /* Size and modification time: a changed file gets a new tag. */
    snprintf(etag, sizeof(etag), "\"%llx-%llx\"", (unsigned long long)st.st_size,
             (unsigned long long)st.st_mtim.tv_sec * 1000000000ull +
                 (unsigned long long)st.st_mtim.tv_nsec);
    gmtime_r(&st.st_mtim.tv_sec, &tm);
    strftime(modified, sizeof(modified), "%a, %d %b %Y %H:%M:%S GMT", &tm);
    if (lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_ETAG, (const unsigned char *)etag,
                                     (int)strlen(etag), &p, end) ||
        lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_LAST_MODIFIED,
                                     (const unsigned char *)modified, (int)strlen(modified), &p,
                                     end) ||
        lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
                                     (const unsigned char *)nocache, sizeof(nocache) - 1, &p,
                                     end) ||
        lws_add_http_header_by_name(wsi, (const unsigned char *)"x-content-type-options:",
                                    (const unsigned char *)nosniff, sizeof(nosniff) - 1, &p,
                                    end)) {
        g_free(path);
        return -1;
    }
    if (www_etag_matches(wsi, etag)) {
        unsigned char buf[LWS_PRE + 1024];
        unsigned char *start = buf + LWS_PRE, *q = start, *qend = buf + sizeof(buf) - 1;
        g_free(path);
        if (lws_add_http_common_headers(wsi, HTTP_STATUS_NOT_MODIFIED, NULL,
                                        LWS_ILLEGAL_HTTP_CONTENT_LEN, &q, qend) ||
            q + (p - hdrs) >= qend)
            return -1;
        memcpy(q, hdrs, (size_t)(p - hdrs));
        q += p - hdrs;
        if (lws_finalize_write_http_header(wsi, start, &q, qend))
            return -1;
        return www_done(wsi);
    }
    int n = lws_serve_http_file(wsi, path, www_type_for(name), (const char *)hdrs,
                                (int)(p - hdrs));
    g_free(path);
    if (n < 0)
        return -1;
    return n > 0 ? www_done(wsi) : 0;
}

/* ---- basic auth ----------------------------------------------------------- */

enum www_auth { WWW_AUTH_OK, WWW_AUTH_NO, WWW_AUTH_BUSY };

static void www_remember(GHashTable *set, char *digest, guint max)
{
    if (g_hash_table_size(set) >= max)
        g_hash_table_remove_all(set);
    g_hash_table_add(set, digest);
}

/* May a PBKDF2 run now?  Each blocks this thread (all websockets) for its
 * duration, which depends on the hash's iterations: budget the time. */
static int www_verify_allowed(struct www *w)
{
    time_t now = time(NULL);
    if (now != w->verify_second) {
        w->verify_second = now;
        w->verify_spent_us = 0;
    }
    return w->verify_spent_us < WWW_VERIFY_BUDGET_US;
}

/* Check "Basic base64(user:password)" against the configuration.  The user
 * and the password are both compared, in constant time, whatever the other
 * gave. */
static enum www_auth www_check_credentials(struct www *w, const char *encoded)
{
    gsize n = 0;
    guchar *raw = g_base64_decode(encoded, &n);
    char *text = g_strndup((const char *)raw, n);
    char *colon = strchr(text, ':');
    size_t len = strlen(text);
    enum www_auth result = WWW_AUTH_NO;

    if (colon && w->password_hashed && !www_verify_allowed(w)) {
        result = WWW_AUTH_BUSY;
    } else if (colon) {
        *colon = '\0';
        const char *pass = colon + 1;
        gint64 t0 = g_get_monotonic_time();
        int user_ok = secret_equal(text, strlen(text), w->admin_user, strlen(w->admin_user));
        int pass_ok = w->password_hashed
                          ? secret_verify_password(pass, w->admin_password) == 1
                          : secret_equal(pass, strlen(pass), w->admin_password,
                                         strlen(w->admin_password));
        w->verify_spent_us += g_get_monotonic_time() - t0;
        result = user_ok & pass_ok ? WWW_AUTH_OK : WWW_AUTH_NO;
    }
    memset(text, 0, len);
    memset(raw, 0, n);
    g_free(text);
    g_free(raw);
    return result;
}

static enum www_auth www_authorize(struct www *w, struct lws *wsi)
{
    char header[WWW_MAX_AUTH_HEADER];
    if (lws_hdr_copy(wsi, header, sizeof(header), WSI_TOKEN_HTTP_AUTHORIZATION) <= 0 ||
        g_ascii_strncasecmp(header, "Basic ", 6) != 0)
        return WWW_AUTH_NO;
    char *digest = g_compute_checksum_for_string(G_CHECKSUM_SHA256, header, -1);
    enum www_auth result;
    if (g_hash_table_contains(w->verified, digest)) {
        g_free(digest);
        return WWW_AUTH_OK;
    }
    if (g_hash_table_contains(w->failed, digest)) {
        g_free(digest);
        return WWW_AUTH_NO;
    }
    result = www_check_credentials(w, g_strstrip(header + 6));
    memset(header, 0, sizeof(header));
    if (result == WWW_AUTH_OK)
        www_remember(w->verified, digest, WWW_CACHE_MAX);
    else if (result == WWW_AUTH_NO)
        www_remember(w->failed, digest, WWW_FAILED_CACHE_MAX);
    else
        g_free(digest);
    return result;
}

/* ---- routing -------------------------------------------------------------- */

static enum www_result www_answered(int *rc, int value)
{
    *rc = value;
    return WWW_ANSWERED;
}

enum www_result www_http(struct www *w, struct lws *wsi, const char *path, int *rc)
{
    if (strcmp(path, "/api/client.js") == 0)
        return www_answered(rc, www_serve_file(w, wsi, "client.js"));
    if (strcmp(path, "/admin") != 0 && strncmp(path, "/admin/", 7) != 0)
        return WWW_NOT_MINE;

    if (!w->admin_user)
        return www_answered(rc, www_respond(wsi, HTTP_STATUS_NOT_FOUND, NULL, NULL,
                                            "not found (no admin credentials are configured)\n"));
    switch (www_authorize(w, wsi)) {
    case WWW_AUTH_OK:
        break;
    case WWW_AUTH_BUSY:
        return www_answered(rc, www_respond(wsi, 429, "retry-after:", "1",
                                            "too many login attempts; try again\n"));
    case WWW_AUTH_NO: {
        gchar *shown = g_strescape(path, NULL); /* lws decodes %1b etc.: no raw control bytes */
        log_info("admin: %s refused (no or wrong credentials)", shown);
        g_free(shown);
        return www_answered(rc, www_respond(wsi, HTTP_STATUS_UNAUTHORIZED, "www-authenticate:",
                                            "Basic realm=\"" WWW_REALM "\", charset=\"UTF-8\"",
                                            "authentication required\n"));
    }
    }
    if (strcmp(path, "/admin") == 0)
        return www_answered(rc, www_serve_file(w, wsi, "admin.html"));
    if (strcmp(path, "/admin/") == 0)
        return www_answered(rc, www_respond(wsi, HTTP_STATUS_MOVED_PERMANENTLY, "location:",
                                            "../admin", "moved to ../admin\n"));
    if (strcmp(path, "/admin/sessions") == 0)
        return WWW_TO_CORE;
    return www_answered(rc, www_serve_file(w, wsi, path + 7));
}
