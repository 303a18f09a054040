/*
 * tests/s3/s3_tool.c - drives worker/s3.c from the command line for
 * tests/s3/test_s3_client.py (the S3 client against s3rver behind the
 * SigV4-verifying proxy, tests/lib/s3proxy.py).
 *
 *   s3-tool [--endpoint URL] [--bucket B] [--region R] [--prefix P]
 *           [--attempts N] [--backoff-ms MS] [--backoff-max-ms MS] COMMAND...
 *     put KEY FILE                      PutObject
 *     multipart KEY FILE PARTSIZE ORDER multipart upload of FILE cut into
 *                                       PARTSIZE parts, uploaded in ORDER
 *                                       ("2,3,1"; "2+3,1": 2 and 3 at the
 *                                       same time), then completed; aborted
 *                                       when anything fails
 *     create KEY                        CreateMultipartUpload
 *     abort KEY UPLOADID                AbortMultipartUpload
 *     url KEY                           the object's URL
 *     put-cancel KEY FILE MS            PutObject, cancelled after MS ms
 * Credentials from AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN.
 * Prints "ok ..." (exit 0) or "error KIND message" (exit 1), KIND being the
 * s3_error_code name (CONFIG, NETWORK, SERVER, REJECTED, NO_UPLOAD) or OTHER.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "s3.h"

struct tool {
    GMainLoop *loop;
    struct s3_client *client;
    GAsyncResult *res;
};

static void tool_done(GObject *source, GAsyncResult *res, gpointer data)
{
    struct tool *t = data;
    t->res = g_object_ref(res);
    g_main_loop_quit(t->loop);
}

/* Runs the main loop until the operation just started completes. */
static GAsyncResult *tool_wait(struct tool *t)
{
    g_main_loop_run(t->loop);
    GAsyncResult *res = t->res;
    t->res = NULL;
    return res;
}

static const char *tool_kind(const GError *e)
{
    static const char *const names[] = {
        [S3_ERROR_CONFIG] = "CONFIG", [S3_ERROR_NETWORK] = "NETWORK",
        [S3_ERROR_SERVER] = "SERVER", [S3_ERROR_REJECTED] = "REJECTED",
        [S3_ERROR_NO_UPLOAD] = "NO_UPLOAD",
    };
    if (e->domain == S3_ERROR && e->code >= 0 && (size_t)e->code < G_N_ELEMENTS(names))
        return names[e->code];
    return "OTHER";
}

static int tool_fail(const char *what, GError *e)
{
    printf("error %s %s%s\n", tool_kind(e), what, e->message);
    g_error_free(e);
    return 1;
}

static GBytes *tool_read(const char *path)
{
    char *data = NULL;
    gsize len = 0;
    GError *e = NULL;
    if (!g_file_get_contents(path, &data, &len, &e)) {
        fprintf(stderr, "s3-tool: %s\n", e->message);
        exit(2);
    }
    return g_bytes_new_take(data, len);
}

static int tool_put(struct tool *t, const char *key, const char *file)
{
    GBytes *body = tool_read(file);
    GError *e = NULL;
    s3_put_object_async(t->client, key, body, NULL, "video/x-matroska", NULL, tool_done, t);
    g_bytes_unref(body);
    GAsyncResult *res = tool_wait(t);
    gboolean ok = s3_put_object_finish(t->client, res, &e);
    g_object_unref(res);
    if (!ok)
        return tool_fail("", e);
    printf("ok\n");
    return 0;
}

static gboolean tool_cancel(gpointer data)
{
    g_cancellable_cancel(data);
    return G_SOURCE_REMOVE;
}

static int tool_put_cancel(struct tool *t, const char *key, const char *file, const char *ms)
{
    GBytes *body = tool_read(file);
    GCancellable *cancel = g_cancellable_new();
    GError *e = NULL;
    s3_put_object_async(t->client, key, body, NULL, "video/x-matroska", cancel, tool_done, t);
    g_bytes_unref(body);
    g_timeout_add((guint)atoi(ms), tool_cancel, cancel);
    GAsyncResult *res = tool_wait(t);
    gboolean ok = s3_put_object_finish(t->client, res, &e);
    g_object_unref(res);
    g_object_unref(cancel);
    if (!ok)
        return tool_fail(g_error_matches(e, G_IO_ERROR, G_IO_ERROR_CANCELLED) ? "cancelled: " : "",
                         e);
    printf("ok\n");
    return 0;
}

static char *tool_create(struct tool *t, const char *key, GError **e)
{
    s3_multipart_create_async(t->client, key, "video/x-matroska", NULL, tool_done, t);
    GAsyncResult *res = tool_wait(t);
    char *id = s3_multipart_create_finish(t->client, res, e);
    g_object_unref(res);
    return id;
}

static gboolean tool_abort_upload(struct tool *t, const char *key, const char *id, GError **e)
{
    s3_multipart_abort_async(t->client, key, id, NULL, tool_done, t);
    GAsyncResult *res = tool_wait(t);
    gboolean ok = s3_multipart_abort_finish(t->client, res, e);
    g_object_unref(res);
    return ok;
}

/* One group of parts uploaded at the same time ("2+3"). */
struct tool_group {
    struct tool *t;
    char **etags;  /* by part number - 1 */
    guint pending;
    GError *error; /* the first failure */
};

struct tool_part_op {
    struct tool_group *g;
    guint number;
};

static void tool_part_done(GObject *source, GAsyncResult *res, gpointer data)
{
    struct tool_part_op *op = data;
    struct tool_group *g = op->g;
    GError *e = NULL;
    g->etags[op->number - 1] = s3_multipart_upload_part_finish(g->t->client, res, &e);
    if (e && !g->error)
        g->error = e;
    else if (e)
        g_error_free(e);
    g_free(op);
    if (--g->pending == 0)
        g_main_loop_quit(g->t->loop);
}

static gboolean tool_upload_group(struct tool *t, const char *key, const char *id, GBytes *all,
                                  gsize part_size, const char *group, char **etags, GError **e)
{
    gsize total = g_bytes_get_size(all);
    guint n = (guint)((total + part_size - 1) / part_size);
    struct tool_group g = {.t = t, .etags = etags};
    char **numbers = g_strsplit(group, "+", -1);
    for (char **o = numbers; *o; o++) {
        guint number = (guint)atoi(*o);
        g_assert(number >= 1 && number <= n);
        gsize off = (number - 1) * part_size;
        GBytes *part = g_bytes_new_from_bytes(all, off, MIN(part_size, total - off));
        struct tool_part_op *op = g_new0(struct tool_part_op, 1);
        *op = (struct tool_part_op){.g = &g, .number = number};
        g.pending++;
        s3_multipart_upload_part_async(t->client, key, id, number, part, NULL, NULL, tool_part_done,
                                       op);
        g_bytes_unref(part);
    }
    g_strfreev(numbers);
    if (g.pending)
        g_main_loop_run(t->loop);
    if (g.error) {
        g_propagate_error(e, g.error);
        return FALSE;
    }
    return TRUE;
}

/* Uploads the parts group by group ("2+3,1": 2 and 3 at once, then 1),
 * then completes; *step says what failed. */
static gboolean tool_upload_parts(struct tool *t, const char *key, const char *id, GBytes *all,
                                  gsize part_size, char **order, const char **step, GError **e)
{
    gsize total = g_bytes_get_size(all);
    guint n = (guint)((total + part_size - 1) / part_size);
    struct s3_part *parts = g_new0(struct s3_part, n);
    char **etags = g_new0(char *, n + 1);
    gboolean ok = FALSE;
    *step = "upload part: ";
    for (char **o = order; *o; o++)
        if (!tool_upload_group(t, key, id, all, part_size, *o, etags, e))
            goto out;
    for (guint i = 0; i < n; i++)
        parts[i] = (struct s3_part){.number = i + 1, .etag = etags[i]};
    *step = "complete: ";
    s3_multipart_complete_async(t->client, key, id, parts, n, NULL, tool_done, t);
    GAsyncResult *res = tool_wait(t);
    ok = s3_multipart_complete_finish(t->client, res, e);
    g_object_unref(res);
out:
    for (guint i = 0; i < n; i++)
        g_free(etags[i]);
    g_free(etags);
    g_free(parts);
    return ok;
}

static int tool_multipart(struct tool *t, const char *key, const char *file, const char *size,
                          const char *order_arg)
{
    GBytes *all = tool_read(file);
    char **order = g_strsplit(order_arg, ",", -1);
    GError *e = NULL;
    const char *step = "create: ";
    int rc = 1;
    char *id = tool_create(t, key, &e);
    if (!id) {
        rc = tool_fail(step, e);
        goto out;
    }
    if (!tool_upload_parts(t, key, id, all, (gsize)g_ascii_strtoull(size, NULL, 10), order,
                           &step, &e)) {
        rc = tool_fail(step, e);
        GError *ae = NULL;
        if (tool_abort_upload(t, key, id, &ae))
            printf("aborted\n");
        else
            tool_fail("abort: ", ae);
        goto out;
    }
    printf("ok %s\n", id);
    rc = 0;
out:
    g_free(id);
    g_strfreev(order);
    g_bytes_unref(all);
    return rc;
}

static int tool_run(struct tool *t, int argc, char **argv)
{
    GError *e = NULL;
    if (argc == 3 && strcmp(argv[0], "put") == 0)
        return tool_put(t, argv[1], argv[2]);
    if (argc == 4 && strcmp(argv[0], "put-cancel") == 0)
        return tool_put_cancel(t, argv[1], argv[2], argv[3]);
    if (argc == 5 && strcmp(argv[0], "multipart") == 0)
        return tool_multipart(t, argv[1], argv[2], argv[3], argv[4]);
    if (argc == 2 && strcmp(argv[0], "create") == 0) {
        char *id = tool_create(t, argv[1], &e);
        if (!id)
            return tool_fail("", e);
        printf("ok %s\n", id);
        g_free(id);
        return 0;
    }
    if (argc == 3 && strcmp(argv[0], "abort") == 0) {
        if (!tool_abort_upload(t, argv[1], argv[2], &e))
            return tool_fail("", e);
        printf("ok\n");
        return 0;
    }
    if (argc == 2 && strcmp(argv[0], "url") == 0) {
        char *url = s3_client_object_url(t->client, argv[1]);
        char *key = s3_client_object_key(t->client, argv[1]);
        printf("ok %s %s\n", url, key);
        g_free(url);
        g_free(key);
        return 0;
    }
    fprintf(stderr, "s3-tool: unknown command\n");
    return 2;
}

int main(int argc, char **argv)
{
    struct s3_config cfg = {
        .bucket = "recordings", .region = "us-east-1",
        .access_key = g_getenv("AWS_ACCESS_KEY_ID"),
        .secret_key = g_getenv("AWS_SECRET_ACCESS_KEY"),
        .session_token = g_getenv("AWS_SESSION_TOKEN"),
    };
    int i = 1;
    for (; i + 1 < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
        const char *v = argv[i + 1];
        if (strcmp(argv[i], "--endpoint") == 0)
            cfg.endpoint = v;
        else if (strcmp(argv[i], "--bucket") == 0)
            cfg.bucket = v;
        else if (strcmp(argv[i], "--region") == 0)
            cfg.region = v;
        else if (strcmp(argv[i], "--prefix") == 0)
            cfg.prefix = v;
        else if (strcmp(argv[i], "--attempts") == 0)
            cfg.max_attempts = (guint)atoi(v);
        else if (strcmp(argv[i], "--backoff-ms") == 0)
            cfg.backoff_base_ms = (guint)atoi(v);
        else if (strcmp(argv[i], "--backoff-max-ms") == 0)
            cfg.backoff_max_ms = (guint)atoi(v);
        else if (strcmp(argv[i], "--path-style") == 0)
            cfg.path_style = atoi(v) != 0;
        else
            break;
    }
    GError *e = NULL;
    struct tool t = {.loop = g_main_loop_new(NULL, FALSE)};
    t.client = s3_client_new(&cfg, &e);
    int rc = t.client ? tool_run(&t, argc - i, argv + i) : tool_fail("", e);
    s3_client_free(t.client);
    g_main_loop_unref(t.loop);
    return rc;
}
