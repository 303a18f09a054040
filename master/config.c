/*
 * master/config.c - defaults, config file and command line (see config.h).
 *
 * The file is parsed by GLib's GKeyFile; the command line by getopt_long.
 * Every option exists in both places under the same name, e.g.
 * `--storage-dir DIR` and `[storage] dir = DIR`.  The command line is read
 * twice: once to find --config, then, after the file, to override it.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <glib.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config_build.h"
#include "secret.h"

enum {
    OPT_LISTEN = 'l',
    OPT_CONFIG = 'c',
    OPT_HELP = 'h',
    OPT_VERSION = 'V',
    OPT_STORAGE_DIR = 256,
    OPT_SPOOL_DIR,
    OPT_ICE_ADDRESS,
    OPT_WORKERS,
    OPT_MIN_SPARE,
    OPT_MAX_SPARE,
    OPT_PUBLIC_URL,
    OPT_WORKER_PATH,
    OPT_LOG_LEVEL,
    OPT_ROOM_SIZE,
    OPT_SIGNALING_CONNECTIONS,
    OPT_CONTROL_SOCKET,
    OPT_DRAIN_TIMEOUT,
    OPT_STATIC_DIR,
    OPT_ADMIN_AUTH,
    /* file only: [workspaces], [ice] stun-uris, [turn] (secrets stay out of argv) */
    OPT_WS_SECRET = 512,
    OPT_WS_TOKEN_TTL,
    OPT_WS_ID_LENGTH,
    OPT_WS_MAX_CAPACITY,
    OPT_WS_PIN_ITERATIONS,
    OPT_WS_STORAGE_FILE,
    OPT_WS_DEVELOPMENT,
    OPT_STUN_URIS,
    OPT_TURN_URIS,
    OPT_TURN_SECRET,
    OPT_TURN_TTL,
    /* S3 storage */
    OPT_S3_BUCKET,
    OPT_S3_REGION,
    OPT_S3_ENDPOINT,
    OPT_S3_PREFIX,
    OPT_S3_PATH_STYLE,
    OPT_S3_ACCESS_KEY,
    OPT_S3_SECRET_KEY,
    OPT_S3_SESSION_TOKEN,
    OPT_S3_PART_SIZE,
    OPT_UPLOAD_TIMEOUT,
    OPT_UPLOAD_RETRY_MIN,
    OPT_UPLOAD_RETRY_MAX,
};

static const struct option config_options[] = {
    {"config", required_argument, NULL, OPT_CONFIG},
    {"listen", required_argument, NULL, OPT_LISTEN},
    {"public-url", required_argument, NULL, OPT_PUBLIC_URL},
    {"storage-dir", required_argument, NULL, OPT_STORAGE_DIR},
    {"spool-dir", required_argument, NULL, OPT_SPOOL_DIR},
    {"ice-address", required_argument, NULL, OPT_ICE_ADDRESS},
    {"workers", required_argument, NULL, OPT_WORKERS},
    {"min-spare", required_argument, NULL, OPT_MIN_SPARE},
    {"max-spare", required_argument, NULL, OPT_MAX_SPARE},
    {"worker-path", required_argument, NULL, OPT_WORKER_PATH},
    {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
    {"room-size", required_argument, NULL, OPT_ROOM_SIZE},
    {"signaling-connections", required_argument, NULL, OPT_SIGNALING_CONNECTIONS},
    {"control-socket", required_argument, NULL, OPT_CONTROL_SOCKET},
    {"drain-timeout", required_argument, NULL, OPT_DRAIN_TIMEOUT},
    {"static-dir", required_argument, NULL, OPT_STATIC_DIR},
    {"admin-auth", required_argument, NULL, OPT_ADMIN_AUTH},
    {"s3-bucket", required_argument, NULL, OPT_S3_BUCKET},
    {"s3-region", required_argument, NULL, OPT_S3_REGION},
    {"s3-endpoint", required_argument, NULL, OPT_S3_ENDPOINT},
    {"s3-prefix", required_argument, NULL, OPT_S3_PREFIX},
    {"s3-path-style", no_argument, NULL, OPT_S3_PATH_STYLE},
    {"s3-part-size", required_argument, NULL, OPT_S3_PART_SIZE},
    {"upload-timeout", required_argument, NULL, OPT_UPLOAD_TIMEOUT},
    {"upload-retry-min", required_argument, NULL, OPT_UPLOAD_RETRY_MIN},
    {"upload-retry-max", required_argument, NULL, OPT_UPLOAD_RETRY_MAX},
    {"help", no_argument, NULL, OPT_HELP},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0},
};

static const char config_usage[] =
    "Usage: webrtc-video [OPTION]...\n"
    "WebRTC recording server: records browsers' camera and microphone without\n"
    "transcoding and answers with the recording's URL.\n"
    "\n"
    "  -c, --config FILE        read settings from FILE (default: none;\n"
    "                           the package uses " WV_CONFIG_PATH ")\n"
    "  -l, --listen HOST:PORT   HTTP and websocket address (default 0.0.0.0:8080)\n"
    "      --public-url URL     base URL of the server as clients reach it\n"
    "                           (default: from each client's Host header)\n"
    "      --storage-dir DIR    finished recordings (default ./recordings,\n"
    "                           or $STATE_DIRECTORY/recordings under systemd)\n"
    "      --spool-dir DIR      recordings in progress (default STORAGE-DIR/.spool)\n"
    "      --ice-address IP     gather ICE candidates on IP only; repeatable\n"
    "                           (default: every non-loopback interface)\n"
    "      --workers N          most sessions recording at once (default 16)\n"
    "      --min-spare N        idle workers kept ready (default 2)\n"
    "      --max-spare N        idle workers kept at most (default 4)\n"
    "      --worker-path PATH   the webrtc-video-worker executable\n"
    "      --log-level LEVEL    debug, info, warn or error (default info)\n"
    "      --room-size N        most peers in one /videre room (default 16)\n"
    "      --signaling-connections N\n"
    "                           most signaling websockets (/videre, /webrtc,\n"
    "                           /workspaces) open at once (default 10000)\n"
    "      --control-socket PATH\n"
    "                           operator control socket (default\n"
    "                           " CONFIG_DEFAULT_CONTROL_SOCKET "; empty: none)\n"
    "      --drain-timeout SECONDS\n"
    "                           on SIGTERM, how long running sessions may go\n"
    "                           on before they are stopped (default 300)\n"
    "      --static-dir DIR     client.js and the admin page (default: next to\n"
    "                           the daemon in a build tree, else " WV_STATIC_DIR ")\n"
    "      --admin-auth USER:PASSWORD\n"
    "                           basic-auth credentials of /admin (PASSWORD plain\n"
    "                           or a pbkdf2:sha256 hash; default: none, /admin\n"
    "                           answers 404)\n"
    "\n"
    "S3 storage (used when a bucket is set; credentials come from\n"
    "AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN or the config\n"
    "file, never from the command line):\n"
    "      --s3-bucket NAME     upload recordings to this bucket\n"
    "      --s3-region REGION   its region, e.g. eu-west-1 (required with a bucket)\n"
    "      --s3-endpoint URL    an S3-compatible store (MinIO, Ceph); implies\n"
    "                           path-style addressing (default: AWS)\n"
    "      --s3-prefix PREFIX   prepended to every object key (default none)\n"
    "      --s3-path-style      path-style addressing on AWS too\n"
    "      --s3-part-size MIB   multipart part size, at least 5 (default 8)\n"
    "      --upload-timeout SECONDS\n"
    "                           stop -> uploadSuccess; later, the client is told\n"
    "                           its upload is pending (default 30)\n"
    "      --upload-retry-min SECONDS, --upload-retry-max SECONDS\n"
    "                           pending uploads are retried after min, doubling\n"
    "                           up to max (default 5, 600)\n"
    "\n"
    "  -h, --help               show this help and exit\n"
    "  -V, --version            show the version and exit\n"
    "\n"
    "Every option can also be set in the config file; see docs/configuration.md.\n";

/* Where configuration errors go: stderr at start-up, a buffer on reload. */
static char *config_errbuf;
static size_t config_errlen;

__attribute__((format(printf, 1, 2))) static void config_fail(const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    msg[strcspn(msg, "\n")] = '\0';
    if (config_errbuf)
        snprintf(config_errbuf, config_errlen, "%s", msg);
    else
        fprintf(stderr, "webrtc-video: %s\n", msg);
}

static void config_set_str(char **slot, const char *value)
{
    g_free(*slot);
    *slot = value ? g_strdup(value) : NULL;
}

static int config_parse_listen(struct config *cfg, const char *value)
{
    const char *colon = strrchr(value, ':');
    char *end = NULL;
    if (!colon || colon == value)
        goto error;
    long port = strtol(colon + 1, &end, 10);
    if (*end != '\0' || port < 1 || port > 65535)
        goto error;
    const char *host = value;
    size_t hostlen = (size_t)(colon - value);
    if (host[0] == '[' && hostlen >= 2 && host[hostlen - 1] == ']') {
        host++;
        hostlen -= 2;
    }
    g_free(cfg->listen_host);
    cfg->listen_host = g_strndup(host, hostlen);
    cfg->listen_port = (int)port;
    return 0;
error:
    config_fail("invalid listen address '%s' (expected HOST:PORT)\n", value);
    return -1;
}

static int config_parse_int(const char *name, const char *value, int min, int max, int *out)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(value, &end, 10);
    if (errno || *end != '\0' || end == value || v < min || v > max) {
        config_fail("%s must be an integer from %d to %d, not '%s'\n", name,
                min, max, value);
        return -1;
    }
    *out = (int)v;
    return 0;
}

static int config_add_ice_address(struct config *cfg, const char *value)
{
    if (cfg->n_ice_addresses >= CONFIG_MAX_ICE_ADDRESSES) {
        config_fail("at most %d ICE addresses\n", CONFIG_MAX_ICE_ADDRESSES);
        return -1;
    }
    if (!g_hostname_is_ip_address(value)) {
        config_fail("ICE address '%s' is not an IP address\n", value);
        return -1;
    }
    cfg->ice_addresses[cfg->n_ice_addresses++] = g_strdup(value);
    return 0;
}

/* USER:PASSWORD, the password plain or a secret.h hash (which itself holds
 * colons: the user name ends at the first one). */
static int config_parse_admin_auth(struct config *cfg, const char *value)
{
    const char *colon = strchr(value, ':');
    if (!colon || colon == value || colon[1] == '\0') {
        config_fail("admin auth must be USER:PASSWORD, with neither empty\n");
        return -1;
    }
    if (g_str_has_prefix(colon + 1, "pbkdf2:") && !secret_is_password_hash(colon + 1)) {
        config_fail("admin auth: the password looks like a hash but is not "
                    "\"pbkdf2:sha256:ITERATIONS$SALT$HEX\"\n");
        return -1;
    }
    config_set_str(&cfg->admin_password, colon + 1);
    g_free(cfg->admin_user);
    cfg->admin_user = g_strndup(value, (gsize)(colon - value));
    return 0;
}

static void config_clear_ice_addresses(struct config *cfg)
{
    for (size_t i = 0; i < cfg->n_ice_addresses; i++)
        g_free(cfg->ice_addresses[i]);
    cfg->n_ice_addresses = 0;
}

/* ---- [workspaces], [ice] stun-uris, [turn] ------------------------------ */

/* A signing secret must be long and varied; its value is never printed. */
static int config_secret_ok(const char *name, const char *value, size_t min_len)
{
    int seen[256] = {0}, distinct = 0;
    for (const unsigned char *p = (const unsigned char *)value; *p; p++)
        distinct += !seen[*p]++;
    if (strlen(value) < min_len || distinct < 10) {
        config_fail("%s is too weak: it needs at least %zu characters, 10 of them different "
                    "(e.g. openssl rand -base64 48)\n", name, min_len);
        return -1;
    }
    return 0;
}

static int config_add_uri(char ***list, const char *name, const char *value,
                          const char *scheme1, const char *scheme2)
{
    if (!g_str_has_prefix(value, scheme1) && !g_str_has_prefix(value, scheme2)) {
        config_fail("%s: '%s' is not a %s or %s URI\n", name, value, scheme1, scheme2);
        return -1;
    }
    guint n = *list ? g_strv_length(*list) : 0;
    *list = g_renew(char *, *list, n + 2);
    (*list)[n] = g_strdup(value);
    (*list)[n + 1] = NULL;
    return 0;
}

static int config_parse_bool(const char *name, const char *value, int *out)
{
    if (!value || g_ascii_strcasecmp(value, "true") == 0 || strcmp(value, "1") == 0 ||
        g_ascii_strcasecmp(value, "yes") == 0)
        *out = 1;
    else if (g_ascii_strcasecmp(value, "false") == 0 || strcmp(value, "0") == 0 ||
             g_ascii_strcasecmp(value, "no") == 0)
        *out = 0;
    else {
        config_fail("%s must be true or false, not '%s'\n", name, value);
        return -1;
    }
    return 0;
}

static int config_apply_workspaces(struct config *cfg, int opt, const char *value)
{
    switch (opt) {
    case OPT_WS_SECRET:
        if (config_secret_ok("[workspaces] secret", value, 32) != 0)
            return -1;
        config_set_str(&cfg->workspaces_secret, value);
        return 0;
    case OPT_WS_TOKEN_TTL:
        return config_parse_int("[workspaces] token-ttl", value, 60, 31 * 86400,
                                &cfg->workspaces_token_ttl_s);
    case OPT_WS_ID_LENGTH:
        return config_parse_int("[workspaces] id-length", value, 8, 64, &cfg->workspaces_id_length);
    case OPT_WS_MAX_CAPACITY:
        return config_parse_int("[workspaces] max-capacity", value, 2, 1000,
                                &cfg->workspaces_max_capacity);
    case OPT_WS_PIN_ITERATIONS:
        return config_parse_int("[workspaces] pin-iterations", value, 1000, 200000,
                                &cfg->workspaces_pin_iterations);
    case OPT_WS_STORAGE_FILE:
        config_set_str(&cfg->workspaces_storage_file, *value ? value : NULL);
        return 0;
    case OPT_WS_DEVELOPMENT:
        return config_parse_bool("[workspaces] development", value, &cfg->workspaces_development);
    case OPT_STUN_URIS:
        return config_add_uri(&cfg->stun_uris, "[ice] stun-uris", value, "stun:", "stuns:");
    case OPT_TURN_URIS:
        return config_add_uri(&cfg->turn_uris, "[turn] uris", value, "turn:", "turns:");
    case OPT_TURN_SECRET:
        if (config_secret_ok("[turn] secret", value, 16) != 0)
            return -1;
        config_set_str(&cfg->turn_secret, value);
        return 0;
    case OPT_TURN_TTL:
        return config_parse_int("[turn] ttl", value, 60, 7 * 86400, &cfg->turn_ttl_s);
    }
    return -1;
}

/* TURN URIs and their secret come together. */
static int config_check_workspaces(const struct config *cfg)
{
    if ((cfg->turn_uris != NULL) != (cfg->turn_secret != NULL)) {
        config_fail("[turn] uris and [turn] secret must be set together\n");
        return -1;
    }
    return 0;
}

/* The [s3] settings and the upload timings.  Secrets are never echoed. */
static int config_apply_s3(struct config *cfg, int opt, const char *value)
{
    switch (opt) {
    case OPT_S3_BUCKET:
        config_set_str(&cfg->s3_bucket, value);
        return 0;
    case OPT_S3_REGION:
        config_set_str(&cfg->s3_region, value);
        return 0;
    case OPT_S3_ENDPOINT:
        config_set_str(&cfg->s3_endpoint, value);
        return 0;
    case OPT_S3_PREFIX:
        config_set_str(&cfg->s3_prefix, value);
        return 0;
    case OPT_S3_PATH_STYLE:
        return config_parse_bool("s3 path-style", value, &cfg->s3_path_style);
    case OPT_S3_ACCESS_KEY:
        config_set_str(&cfg->s3_access_key, value);
        return 0;
    case OPT_S3_SECRET_KEY:
        config_set_str(&cfg->s3_secret_key, value);
        return 0;
    case OPT_S3_SESSION_TOKEN:
        config_set_str(&cfg->s3_session_token, value);
        return 0;
    case OPT_S3_PART_SIZE:
        return config_parse_int("s3 part-size (MiB; S3's minimum is 5)", value, 5, 5120,
                                &cfg->s3_part_size_mib);
    case OPT_UPLOAD_TIMEOUT:
        return config_parse_int("upload-timeout", value, 1, 86400, &cfg->upload_timeout_s);
    case OPT_UPLOAD_RETRY_MIN:
        return config_parse_int("upload-retry-min", value, 1, 86400, &cfg->upload_retry_min_s);
    case OPT_UPLOAD_RETRY_MAX:
        return config_parse_int("upload-retry-max", value, 1, 86400, &cfg->upload_retry_max_s);
    }
    return -1;
}

/* Apply one option, from the command line or the file. */
static int config_apply(struct config *cfg, int opt, const char *value)
{
    switch (opt) {
    case OPT_LISTEN:
        return config_parse_listen(cfg, value);
    case OPT_PUBLIC_URL:
        config_set_str(&cfg->public_url, value);
        return 0;
    case OPT_STORAGE_DIR:
        config_set_str(&cfg->storage_dir, value);
        return 0;
    case OPT_SPOOL_DIR:
        config_set_str(&cfg->spool_dir, value);
        return 0;
    case OPT_ICE_ADDRESS:
        return config_add_ice_address(cfg, value);
    case OPT_WORKERS:
        return config_parse_int("workers", value, 1, 1024, &cfg->max_workers);
    case OPT_MIN_SPARE:
        return config_parse_int("min-spare", value, 0, 64, &cfg->min_spare);
    case OPT_MAX_SPARE:
        return config_parse_int("max-spare", value, 0, 64, &cfg->max_spare);
    case OPT_WORKER_PATH:
        config_set_str(&cfg->worker_path, value);
        return 0;
    case OPT_ROOM_SIZE:
        return config_parse_int("room-size", value, 2, 100000, &cfg->room_size);
    case OPT_SIGNALING_CONNECTIONS:
        return config_parse_int("signaling-connections", value, 1, 1000000,
                                &cfg->signaling_max_connections);
    case OPT_CONTROL_SOCKET:
        config_set_str(&cfg->control_socket, value);
        return 0;
    case OPT_DRAIN_TIMEOUT:
        return config_parse_int("drain-timeout", value, 0, 86400, &cfg->drain_timeout_s);
    case OPT_WS_SECRET ... OPT_TURN_TTL:
        return config_apply_workspaces(cfg, opt, value);
    case OPT_STATIC_DIR:
        config_set_str(&cfg->static_dir, value);
        return 0;
    case OPT_ADMIN_AUTH:
        return config_parse_admin_auth(cfg, value);
    case OPT_S3_BUCKET:
    case OPT_S3_REGION:
    case OPT_S3_ENDPOINT:
    case OPT_S3_PREFIX:
    case OPT_S3_PATH_STYLE:
    case OPT_S3_ACCESS_KEY:
    case OPT_S3_SECRET_KEY:
    case OPT_S3_SESSION_TOKEN:
    case OPT_S3_PART_SIZE:
    case OPT_UPLOAD_TIMEOUT:
    case OPT_UPLOAD_RETRY_MIN:
    case OPT_UPLOAD_RETRY_MAX:
        return config_apply_s3(cfg, opt, value);
    case OPT_LOG_LEVEL:
        if (log_level_parse(value, &cfg->log_level) != 0) {
            config_fail("unknown log level '%s'\n", value);
            return -1;
        }
        return 0;
    }
    return -1;
}

/* Where each file key lives: [group] key -> option. */
static const struct {
    const char *group;
    const char *key;
    int opt;
} config_keys[] = {
    {"server", "listen", OPT_LISTEN},
    {"server", "public-url", OPT_PUBLIC_URL},
    {"server", "log-level", OPT_LOG_LEVEL},
    {"server", "control-socket", OPT_CONTROL_SOCKET},
    {"server", "drain-timeout", OPT_DRAIN_TIMEOUT},
    {"storage", "dir", OPT_STORAGE_DIR},
    {"storage", "spool-dir", OPT_SPOOL_DIR},
    {"workers", "max", OPT_WORKERS},
    {"workers", "min-spare", OPT_MIN_SPARE},
    {"workers", "max-spare", OPT_MAX_SPARE},
    {"workers", "path", OPT_WORKER_PATH},
    {"ice", "addresses", OPT_ICE_ADDRESS},
    {"signaling", "room-size", OPT_ROOM_SIZE},
    {"signaling", "max-connections", OPT_SIGNALING_CONNECTIONS},
    {"workspaces", "secret", OPT_WS_SECRET},
    {"workspaces", "token-ttl", OPT_WS_TOKEN_TTL},
    {"workspaces", "id-length", OPT_WS_ID_LENGTH},
    {"workspaces", "max-capacity", OPT_WS_MAX_CAPACITY},
    {"workspaces", "pin-iterations", OPT_WS_PIN_ITERATIONS},
    {"workspaces", "storage-file", OPT_WS_STORAGE_FILE},
    {"workspaces", "development", OPT_WS_DEVELOPMENT},
    {"ice", "stun-uris", OPT_STUN_URIS},
    {"turn", "uris", OPT_TURN_URIS},
    {"turn", "secret", OPT_TURN_SECRET},
    {"turn", "ttl", OPT_TURN_TTL},
    {"http", "static-dir", OPT_STATIC_DIR},
    {"admin", "auth", OPT_ADMIN_AUTH},
    {"s3", "bucket", OPT_S3_BUCKET},
    {"s3", "region", OPT_S3_REGION},
    {"s3", "endpoint", OPT_S3_ENDPOINT},
    {"s3", "prefix", OPT_S3_PREFIX},
    {"s3", "path-style", OPT_S3_PATH_STYLE},
    {"s3", "access-key-id", OPT_S3_ACCESS_KEY},
    {"s3", "secret-access-key", OPT_S3_SECRET_KEY},
    {"s3", "session-token", OPT_S3_SESSION_TOKEN},
    {"s3", "part-size", OPT_S3_PART_SIZE},
    {"s3", "upload-timeout", OPT_UPLOAD_TIMEOUT},
    {"s3", "retry-min", OPT_UPLOAD_RETRY_MIN},
    {"s3", "retry-max", OPT_UPLOAD_RETRY_MAX},
};

static int config_opt_is_list(int opt)
{
    return opt == OPT_ICE_ADDRESS || opt == OPT_STUN_URIS || opt == OPT_TURN_URIS;
}

static int config_key_known(const char *group, const char *key)
{
    for (size_t i = 0; i < G_N_ELEMENTS(config_keys); i++)
        if (strcmp(config_keys[i].group, group) == 0 && strcmp(config_keys[i].key, key) == 0)
            return 1;
    return 0;
}

/* Unknown groups and keys are errors: a typo must not silently do nothing. */
static int config_check_unknown(GKeyFile *kf, const char *path)
{
    gchar **groups = g_key_file_get_groups(kf, NULL);
    int rc = 0;
    for (gchar **g = groups; *g && rc == 0; g++) {
        gchar **keys = g_key_file_get_keys(kf, *g, NULL, NULL);
        for (gchar **k = keys; k && *k; k++) {
            if (!config_key_known(*g, *k)) {
                config_fail("%s: unknown setting [%s] %s\n", path, *g, *k);
                rc = -1;
                break;
            }
        }
        g_strfreev(keys);
    }
    g_strfreev(groups);
    return rc;
}

/* Values that are read whole: a ';' may be part of them. */
static int config_opt_is_secret(int opt)
{
    return opt == OPT_WS_SECRET || opt == OPT_TURN_SECRET || opt == OPT_ADMIN_AUTH ||
           opt == OPT_S3_ACCESS_KEY || opt == OPT_S3_SECRET_KEY || opt == OPT_S3_SESSION_TOKEN;
}

/* A key's values: a list split at ';', except secrets, read whole.  An
 * empty signing secret is an error, not "unset"; the other empty secrets
 * are unset, as an empty list is. */
static gchar **config_read_values(GKeyFile *kf, const char *group, const char *key, int opt,
                                  gsize *n)
{
    if (!config_opt_is_secret(opt))
        return g_key_file_get_string_list(kf, group, key, n, NULL);
    gchar **one = g_new0(gchar *, 2);
    one[0] = g_key_file_get_value(kf, group, key, NULL);
    *n = 1;
    if (one[0] && !*g_strstrip(one[0]) && opt != OPT_WS_SECRET && opt != OPT_TURN_SECRET)
        *n = 0; /* config_secret_ok refuses the signing secrets' "" */
    return one;
}

static int config_read_file(struct config *cfg, const char *path)
{
    GKeyFile *kf = g_key_file_new();
    GError *gerr = NULL;
    int rc = -1;

    if (!g_key_file_load_from_file(kf, path, G_KEY_FILE_NONE, &gerr)) {
        config_fail("cannot read config %s: %s\n", path, gerr->message);
        goto out;
    }
    if (config_check_unknown(kf, path) != 0)
        goto out;
    for (size_t i = 0; i < G_N_ELEMENTS(config_keys); i++) {
        if (!g_key_file_has_key(kf, config_keys[i].group, config_keys[i].key, NULL))
            continue;
        gsize n = 0;
        gchar **values = config_read_values(kf, config_keys[i].group, config_keys[i].key,
                                            config_keys[i].opt, &n);
        int bad = 0;
        if (n == 0 && config_keys[i].opt == OPT_CONTROL_SOCKET)
            config_set_str(&cfg->control_socket, ""); /* "control-socket =": none */
        if (!config_opt_is_list(config_keys[i].opt) && n > 1) {
            config_fail("%s: [%s] %s takes one value\n", path,
                    config_keys[i].group, config_keys[i].key);
            bad = 1;
        }
        for (gsize j = 0; j < n && !bad; j++)
            bad = config_apply(cfg, config_keys[i].opt, g_strstrip(values[j])) != 0;
        g_strfreev(values);
        if (bad)
            goto out;
    }
    rc = 0;
out:
    g_clear_error(&gerr);
    g_key_file_free(kf);
    return rc;
}

static void config_defaults(struct config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->listen_host = g_strdup("0.0.0.0");
    cfg->listen_port = 8080;
    cfg->max_workers = 16;
    cfg->min_spare = 2;
    cfg->max_spare = 4;
    cfg->start_timeout_s = 10;
    cfg->heartbeat_timeout_s = 2.0;
    cfg->stop_timeout_s = 15;
    cfg->room_size = 16;
    cfg->signaling_max_connections = 10000;
    cfg->log_level = LOG_LEVEL_INFO;
    cfg->control_socket = g_strdup(CONFIG_DEFAULT_CONTROL_SOCKET);
    cfg->drain_timeout_s = 300;
    cfg->workspaces_token_ttl_s = 86400;
    cfg->workspaces_id_length = 10;
    cfg->workspaces_max_capacity = 5;
    cfg->workspaces_pin_iterations = 20000;
    cfg->turn_ttl_s = 86400;
    cfg->s3_part_size_mib = 8;
    cfg->upload_timeout_s = 30;
    cfg->upload_retry_min_s = 5;
    cfg->upload_retry_max_s = 600;
}

int config_s3_enabled(const struct config *cfg)
{
    return cfg->s3_bucket && cfg->s3_bucket[0];
}

int config_store_timeout_s(const struct config *cfg)
{
    return cfg->stop_timeout_s + (config_s3_enabled(cfg) ? cfg->upload_timeout_s + 5 : 0);
}

/* The S3 credentials the standard environment may carry: read into the
 * configuration (config_s3_env) and kept from every child (config_child_environ). */
static const struct {
    const char *env;
    size_t off;
} config_aws_env[] = {
    {"AWS_ACCESS_KEY_ID", offsetof(struct config, s3_access_key)},
    {"AWS_SECRET_ACCESS_KEY", offsetof(struct config, s3_secret_key)},
    {"AWS_SESSION_TOKEN", offsetof(struct config, s3_session_token)},
};

static int config_is_aws_env(const char *entry)
{
    for (size_t i = 0; i < G_N_ELEMENTS(config_aws_env); i++) {
        size_t n = strlen(config_aws_env[i].env);
        if (strncmp(entry, config_aws_env[i].env, n) == 0 && entry[n] == '=')
            return 1;
    }
    return 0;
}

extern char **environ;

char **config_child_environ(void)
{
    static GPtrArray *env;
    if (!env) {
        env = g_ptr_array_new();
        for (char **e = environ; *e; e++)
            if (!config_is_aws_env(*e))
                g_ptr_array_add(env, *e);
        g_ptr_array_add(env, NULL);
    }
    return (char **)env->pdata;
}

/* Credentials the file did not give come from the standard environment. */
static void config_s3_env(struct config *cfg)
{
    for (size_t i = 0; i < G_N_ELEMENTS(config_aws_env); i++) {
        char **slot = (char **)((char *)cfg + config_aws_env[i].off);
        const char *v = getenv(config_aws_env[i].env);
        if ((!*slot || !**slot) && v && *v)
            config_set_str(slot, v);
    }
}

/* A bucket name S3 accepts: 3-63 of [a-z0-9.-], starting and ending alnum. */
static int config_s3_bucket_valid(const char *b)
{
    size_t n = strlen(b);
    if (n < 3 || n > 63 || !g_ascii_isalnum(b[0]) || !g_ascii_isalnum(b[n - 1]))
        return 0;
    for (const char *p = b; *p; p++)
        if (!(g_ascii_islower(*p) || g_ascii_isdigit(*p) || *p == '.' || *p == '-'))
            return 0;
    return 1;
}

/* The S3 settings as a whole: workable, or a start-up error naming why. */
static int config_check_s3(struct config *cfg)
{
    const char *e = cfg->s3_endpoint;
    if (!config_s3_enabled(cfg)) {
        if ((cfg->s3_region && *cfg->s3_region) || (e && *e) ||
            (cfg->s3_prefix && *cfg->s3_prefix)) {
            config_fail("S3 settings (region, endpoint or prefix) are given but no bucket: "
                        "set --s3-bucket (or [s3] bucket), or remove them\n");
            return -1;
        }
        return 0;
    }
    config_s3_env(cfg);
    if (!config_s3_bucket_valid(cfg->s3_bucket)) {
        config_fail("s3 bucket '%s' is not a valid bucket name (3-63 characters: a-z 0-9 . -)\n",
                    cfg->s3_bucket);
        return -1;
    }
    if (!cfg->s3_region || !*cfg->s3_region) {
        config_fail("s3 bucket '%s' needs a region: set --s3-region (or [s3] region)\n",
                    cfg->s3_bucket);
        return -1;
    }
    if (e && strchr(e, '@')) { /* not echoed: user:secret@host would put a secret in the log */
        config_fail("s3 endpoint must not carry credentials (an '@' in it): they come from "
                    "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or [s3] access-key-id / "
                    "secret-access-key\n");
        return -1;
    }
    if (e && *e && !g_str_has_prefix(e, "http://") && !g_str_has_prefix(e, "https://")) {
        config_fail("s3 endpoint '%s' must be an http:// or https:// URL\n", e);
        return -1;
    }
    if (cfg->s3_prefix && cfg->s3_prefix[0] == '/') {
        config_fail("s3 prefix '%s' must not start with '/'\n", cfg->s3_prefix);
        return -1;
    }
    if (!cfg->s3_access_key || !*cfg->s3_access_key || !cfg->s3_secret_key ||
        !*cfg->s3_secret_key) {
        config_fail("s3 bucket '%s' needs credentials: set AWS_ACCESS_KEY_ID and "
                    "AWS_SECRET_ACCESS_KEY (or [s3] access-key-id and secret-access-key)\n",
                    cfg->s3_bucket);
        return -1;
    }
    if (cfg->upload_retry_min_s > cfg->upload_retry_max_s) {
        config_fail("upload-retry-min (%d) exceeds upload-retry-max (%d)\n",
                    cfg->upload_retry_min_s, cfg->upload_retry_max_s);
        return -1;
    }
    if (e && *e)
        cfg->s3_path_style = 1;
    return 0;
}

int config_load(struct config *cfg, int argc, char **argv)
{
    int opt;
    int ice_on_cli = 0;

    config_defaults(cfg);
    cfg->argc = argc;
    cfg->argv = argv;
    opterr = 1;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "c:l:hV", config_options, NULL)) != -1) {
        switch (opt) {
        case OPT_HELP:
            fputs(config_usage, stdout);
            return 1;
        case OPT_VERSION:
            printf("webrtc-video %s\n", WV_VERSION);
            return 1;
        case OPT_CONFIG:
            config_set_str(&cfg->config_file, optarg);
            break;
        case OPT_ICE_ADDRESS:
            ice_on_cli = 1;
            break;
        case '?':
            fprintf(stderr, "Try 'webrtc-video --help'.\n");
            return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "webrtc-video: unexpected argument '%s'\nTry 'webrtc-video --help'.\n",
                argv[optind]);
        return -1;
    }
    if (cfg->config_file && config_read_file(cfg, cfg->config_file) != 0)
        return -1;
    if (ice_on_cli)
        config_clear_ice_addresses(cfg); /* the command line replaces the file's list */

    optind = 1;
    while ((opt = getopt_long(argc, argv, "c:l:hV", config_options, NULL)) != -1) {
        if (opt == OPT_CONFIG)
            continue;
        if (config_apply(cfg, opt, optarg) != 0)
            return -1;
    }
    if (config_check_workspaces(cfg) != 0)
        return -1;
    if (cfg->min_spare > cfg->max_spare) {
        config_fail("min-spare (%d) exceeds max-spare (%d)\n", cfg->min_spare,
                cfg->max_spare);
        return -1;
    }
    return config_check_s3(cfg);
}

int config_reload(const struct config *live, struct config *next, char *err, size_t errlen)
{
    int rc;

    config_errbuf = err;
    config_errlen = errlen;
    snprintf(err, errlen, "invalid configuration");
    rc = config_load(next, live->argc, live->argv);
    config_errbuf = NULL;
    if (rc != 0)
        return -1;
    return config_prepare(next, err, errlen);
}

/* The worker next to us in the build tree, else the installed one. */
static char *config_default_worker_path(void)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n > 0) {
        self[n] = '\0';
        gchar *dir = g_path_get_dirname(self);
        gchar *candidate = g_build_filename(dir, "..", "worker", "webrtc-video-worker", NULL);
        g_free(dir);
        if (access(candidate, X_OK) == 0)
            return candidate;
        g_free(candidate);
    }
    return g_strdup(WV_WORKER_PATH);
}

/* The www/ copy next to the daemon in a build tree, else the installed one. */
static char *config_default_static_dir(void)
{
    char self[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n > 0) {
        self[n] = '\0';
        gchar *dir = g_path_get_dirname(self);
        gchar *candidate = g_build_filename(dir, "www", NULL);
        g_free(dir);
        if (g_file_test(candidate, G_FILE_TEST_IS_DIR))
            return candidate;
        g_free(candidate);
    }
    return g_strdup(WV_STATIC_DIR);
}

static int config_make_dir(const char *what, char **dir, char *err, size_t errlen)
{
    if (!g_path_is_absolute(*dir)) {
        gchar *cwd = g_get_current_dir();
        gchar *abs = g_build_filename(cwd, *dir, NULL);
        g_free(cwd);
        g_free(*dir);
        *dir = abs;
    }
    if (g_mkdir_with_parents(*dir, 0750) != 0) {
        snprintf(err, errlen, "cannot create %s directory %s: %s", what, *dir, strerror(errno));
        return -1;
    }
    if (access(*dir, W_OK) != 0) {
        snprintf(err, errlen, "%s directory %s is not writable: %s", what, *dir, strerror(errno));
        return -1;
    }
    return 0;
}

int config_prepare(struct config *cfg, char *err, size_t errlen)
{
    if (!cfg->storage_dir) {
        const char *state = getenv("STATE_DIRECTORY");
        cfg->storage_dir = state ? g_build_filename(state, "recordings", NULL)
                                 : g_strdup("recordings");
    }
    if (config_make_dir("storage", &cfg->storage_dir, err, errlen) != 0)
        return -1;
    if (!cfg->spool_dir)
        cfg->spool_dir = g_build_filename(cfg->storage_dir, ".spool", NULL);
    if (config_make_dir("spool", &cfg->spool_dir, err, errlen) != 0)
        return -1;
    if (config_s3_enabled(cfg) && strcmp(cfg->spool_dir, cfg->storage_dir) == 0) {
        snprintf(err, errlen, "with S3 storage the spool directory (%s) must not be the storage "
                 "directory: recordings waiting for their upload live there", cfg->spool_dir);
        return -1;
    }
    if (!cfg->worker_path)
        cfg->worker_path = config_default_worker_path();
    if (access(cfg->worker_path, X_OK) != 0) {
        snprintf(err, errlen, "worker executable %s: %s", cfg->worker_path, strerror(errno));
        return -1;
    }
    /* A directory that was asked for must exist; the default may not (the
     * pages then answer 404 and the log says why). */
    if (!cfg->static_dir)
        cfg->static_dir = config_default_static_dir();
    else if (!g_file_test(cfg->static_dir, G_FILE_TEST_IS_DIR)) {
        snprintf(err, errlen, "static directory %s does not exist", cfg->static_dir);
        return -1;
    }
    return 0;
}

void config_free(struct config *cfg)
{
    g_free(cfg->config_file);
    g_free(cfg->listen_host);
    g_free(cfg->public_url);
    g_free(cfg->storage_dir);
    g_free(cfg->spool_dir);
    g_free(cfg->worker_path);
    g_free(cfg->control_socket);
    g_free(cfg->static_dir);
    g_free(cfg->admin_user);
    if (cfg->admin_password)
        memset(cfg->admin_password, 0, strlen(cfg->admin_password));
    g_free(cfg->admin_password);
    config_clear_ice_addresses(cfg);
    if (cfg->workspaces_secret)
        memset(cfg->workspaces_secret, 0, strlen(cfg->workspaces_secret));
    if (cfg->turn_secret)
        memset(cfg->turn_secret, 0, strlen(cfg->turn_secret));
    g_free(cfg->workspaces_secret);
    g_free(cfg->workspaces_storage_file);
    g_strfreev(cfg->stun_uris);
    g_strfreev(cfg->turn_uris);
    g_free(cfg->turn_secret);
    g_free(cfg->s3_bucket);
    g_free(cfg->s3_region);
    g_free(cfg->s3_endpoint);
    g_free(cfg->s3_prefix);
    g_free(cfg->s3_access_key);
    if (cfg->s3_secret_key)
        memset(cfg->s3_secret_key, 0, strlen(cfg->s3_secret_key));
    g_free(cfg->s3_secret_key);
    g_free(cfg->s3_session_token);
    memset(cfg, 0, sizeof(*cfg));
}
