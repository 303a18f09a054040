/*
 * master/www.h - the transport thread's static files and admin gate.
 *
 * Owns what the transport answers from disk besides recordings: the browser
 * library at /api/client.js and the admin page's files under /admin, from
 * the static directory (`[http] static-dir`; installed in
 * DATADIR/webrtc-video/www, copied next to the daemon in a build tree), with
 * their content types and caching headers (ETag + Last-Modified,
 * Cache-Control: no-cache, so that a deploy takes effect at the next load).
 * Only plain file names with a known extension are served: no directories,
 * no listings, no path escapes.
 *
 * Everything under /admin needs HTTP basic auth (`[admin] auth`): none
 * configured answers 404, missing or wrong credentials 401 with
 * WWW-Authenticate.  Checked in constant time (common/secret.h); a verified
 * Authorization header is remembered by its SHA-256 so that a hashed
 * password costs PBKDF2 once, not per request; a wrong header is
 * remembered likewise, and PBKDF2 may take at most a quarter of each second
 * of this thread (beyond it: 429 Too Many Requests, Retry-After: 1).
 * /admin/sessions, once authorised, is the core's to answer.
 */
#ifndef WV_MASTER_WWW_H
#define WV_MASTER_WWW_H

struct lws;
struct www;

struct www_config {
    const char *static_dir;
    const char *admin_user;     /* NULL: no admin pages */
    const char *admin_password; /* plain, or a secret.h hash */
};

enum www_result {
    WWW_NOT_MINE, /* not a path of ours: the caller goes on */
    WWW_ANSWERED, /* a response was started; *rc is the callback's return */
    WWW_TO_CORE,  /* authorised dynamic admin path: ask the core */
};

struct www *www_new(const struct www_config *wc);
void www_free(struct www *w);

/* LWS_CALLBACK_HTTP for `path` (no query string). */
enum www_result www_http(struct www *w, struct lws *wsi, const char *path, int *rc);

#endif
