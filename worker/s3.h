/*
 * worker/s3.h - an S3 client on libsoup-3.0, for the media worker.
 *
 * Owns talking to S3 (AWS or any S3-compatible store): addressing
 * (virtual-hosted for AWS, path-style for a custom endpoint or on request),
 * AWS Signature Version 4 on every request (worker/sigv4.h), a known
 * Content-Length on every body (never chunked), and retries: network errors,
 * 5xx and SlowDown are retried per request with exponential backoff and full
 * jitter, each retry signed afresh; any other 4xx fails at once.  Responses
 * are parsed (an S3 error document becomes a GError carrying its Code and
 * Message; CompleteMultipartUpload's 200 may carry an error and is checked).
 *
 * Every operation is asynchronous in the GIO style: it runs on the thread-
 * default main context of the caller (the worker's GLib main loop) and
 * completes through a GAsyncReadyCallback; the matching _finish() gives the
 * result.  Credentials are never logged.
 */
#ifndef WV_WORKER_S3_H
#define WV_WORKER_S3_H

#include <gio/gio.h>
#include <glib.h>

#define S3_PART_MIN_SIZE (5u * 1024 * 1024) /* S3's minimum for all but the last part */
#define S3_PART_MAX_SIZE (5ull * 1024 * 1024 * 1024) /* S3's maximum for any part */
#define S3_PART_NUMBER_MAX 10000u /* parts are numbered 1..this */

#define S3_ERROR (s3_error_quark())
GQuark s3_error_quark(void);

enum s3_error_code {
    S3_ERROR_CONFIG,    /* the configuration cannot work (no bucket, bad endpoint) */
    S3_ERROR_NETWORK,   /* no answer after every retry */
    S3_ERROR_SERVER,    /* 5xx / SlowDown after every retry */
    S3_ERROR_REJECTED,  /* 4xx: credentials, permissions, bad request; not retried */
    S3_ERROR_NO_UPLOAD, /* 404 NoSuchUpload */
};

struct s3_config {
    const char *bucket;
    const char *region;
    const char *endpoint; /* NULL: AWS, https://BUCKET.s3.REGION.amazonaws.com */
    const char *prefix;   /* prepended to every key ("" or NULL: none) */
    gboolean path_style;  /* forced on when endpoint is set */
    const char *access_key;
    const char *secret_key;
    const char *session_token; /* NULL: none */
    guint max_attempts;        /* per request, first try included (0: default 6) */
    guint backoff_base_ms;     /* first retry waits up to this (0: default 200) */
    guint backoff_max_ms;      /* cap of one wait (0: default 20000) */
};

struct s3_client;

/* Copies everything it needs from cfg.  NULL and *error set when the
 * configuration cannot work (missing bucket/region/credentials, endpoint
 * that is not an http(s) URL). */
struct s3_client *s3_client_new(const struct s3_config *cfg, GError **error);
void s3_client_free(struct s3_client *c);

/* The object's public URL (endpoint/bucket/prefix+key or the virtual-hosted
 * form); g_free it. */
char *s3_client_object_url(struct s3_client *c, const char *key);
/* prefix + key: the object key actually used in S3; g_free it. */
char *s3_client_object_key(struct s3_client *c, const char *key);

/* PUT one object whose bytes are `body`.  body_sha256: the hex SHA-256 of
 * body when the caller already has it (signed as x-amz-content-sha256), or
 * NULL to have it computed here. */
void s3_put_object_async(struct s3_client *c, const char *key, GBytes *body,
                         const char *body_sha256, const char *content_type, GCancellable *cancel,
                         GAsyncReadyCallback cb, gpointer user);
gboolean s3_put_object_finish(struct s3_client *c, GAsyncResult *res, GError **error);

/* CreateMultipartUpload: gives the UploadId (g_free it). */
void s3_multipart_create_async(struct s3_client *c, const char *key, const char *content_type,
                               GCancellable *cancel, GAsyncReadyCallback cb, gpointer user);
char *s3_multipart_create_finish(struct s3_client *c, GAsyncResult *res, GError **error);

/* UploadPart number 1..10000: gives the part's ETag (g_free it).
 * body_sha256 as for s3_put_object_async(). */
void s3_multipart_upload_part_async(struct s3_client *c, const char *key, const char *upload_id,
                                    guint part_number, GBytes *body, const char *body_sha256,
                                    GCancellable *cancel,
                                    GAsyncReadyCallback cb, gpointer user);
char *s3_multipart_upload_part_finish(struct s3_client *c, GAsyncResult *res, GError **error);

struct s3_part {
    guint number;
    const char *etag;
};

/* CompleteMultipartUpload with the parts in ascending number order. */
void s3_multipart_complete_async(struct s3_client *c, const char *key, const char *upload_id,
                                 const struct s3_part *parts, guint n_parts, GCancellable *cancel,
                                 GAsyncReadyCallback cb, gpointer user);
gboolean s3_multipart_complete_finish(struct s3_client *c, GAsyncResult *res, GError **error);

/* AbortMultipartUpload; 404 NoSuchUpload counts as done. */
void s3_multipart_abort_async(struct s3_client *c, const char *key, const char *upload_id,
                              GCancellable *cancel, GAsyncReadyCallback cb, gpointer user);
gboolean s3_multipart_abort_finish(struct s3_client *c, GAsyncResult *res, GError **error);

#endif
