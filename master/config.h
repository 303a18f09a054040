/*
 * master/config.h - the daemon's settings: built-in defaults, then the config
 * file (GKeyFile "key = value" groups), then the command line, later winning.
 * docs/configuration.md is the reference for every key.
 */
#ifndef WV_MASTER_CONFIG_H
#define WV_MASTER_CONFIG_H

#include <stddef.h>

#include "log.h"
#include "proto/control.h"

#define CONFIG_MAX_ICE_ADDRESSES 16

struct config {
    char *config_file;        /* NULL: none read */
    char *listen_host;        /* "0.0.0.0" */
    int listen_port;          /* 8080 */
    char *public_url;         /* base of videoUrl, NULL: from the Host header */
    char *storage_dir;        /* finished recordings */
    char *spool_dir;          /* recordings in progress */
    char *worker_path;        /* the webrtc-video-worker executable */
    char *ice_addresses[CONFIG_MAX_ICE_ADDRESSES];
    size_t n_ice_addresses;
    int max_workers;          /* cap: sessions recording at once */
    int min_spare;            /* idle workers kept ready */
    int max_spare;            /* idle workers above this are retired */
    int start_timeout_s;      /* start -> answer */
    double heartbeat_timeout_s; /* a worker silent this long is killed */
    int stop_timeout_s;       /* stop -> stored */
    int room_size;            /* most peers in one /videre room */
    int signaling_max_connections; /* /videre + /webrtc + /workspaces websockets at once */
    enum log_level log_level;
    char *control_socket;     /* operator control socket, NULL or "": none */
    int drain_timeout_s;      /* SIGTERM: sessions may run on this long */
    /* /workspaces (seed 004): [workspaces], [ice] stun-uris, [turn]; file only */
    char *workspaces_secret;  /* token signing key; NULL: /workspaces disabled */
    int workspaces_token_ttl_s;
    int workspaces_id_length;
    int workspaces_max_capacity; /* attendees in one workspace, owner included */
    int workspaces_pin_iterations; /* PBKDF2-HMAC-SHA256 iterations of new PIN hashes */
    char *workspaces_storage_file; /* NULL: memory only */
    int workspaces_development; /* seed DEVELOPMENT: iceservers hands out STUN only */
    char **stun_uris;         /* NULL-terminated, may be NULL */
    char **turn_uris;
    char *turn_secret;        /* coturn static-auth-secret */
    int turn_ttl_s;           /* TURN credentials' lifetime */
    /* HTTP: static files and the admin pages (master/www.h) */
    char *static_dir;         /* client.js, admin page; NULL: the default */
    char *admin_user;         /* NULL: no admin pages (they answer 404) */
    char *admin_password;     /* plain, or a "pbkdf2:sha256:..." hash */
    /* S3 storage (docs/configuration.md, "[s3]"); used when s3_bucket is set */
    char *s3_bucket;
    char *s3_region;
    char *s3_endpoint;        /* NULL: AWS */
    char *s3_prefix;          /* prepended to every object key, "" none */
    int s3_path_style;        /* forced on with an endpoint */
    char *s3_access_key;      /* from the file, else AWS_ACCESS_KEY_ID; never logged */
    char *s3_secret_key;      /* likewise AWS_SECRET_ACCESS_KEY */
    char *s3_session_token;   /* likewise AWS_SESSION_TOKEN, NULL: none */
    int s3_part_size_mib;     /* multipart part size, >= 5 */
    int upload_timeout_s;     /* stop -> uploadSuccess, else the client hears "pending" */
    int upload_retry_min_s;   /* spool retries: first delay ... */
    int upload_retry_max_s;   /* ... doubling up to this */
    int argc;                 /* the command line, kept for reloads */
    char **argv;
};

#define CONFIG_DEFAULT_CONTROL_SOCKET CONTROL_DEFAULT_SOCKET

/*
 * Fill *cfg from defaults, the config file (--config FILE, or none) and argv.
 * Returns 0; 1 if --help/--version was handled (exit 0); -1 on error, with a
 * message already printed to stderr (exit 2).
 */
int config_load(struct config *cfg, int argc, char **argv);
void config_free(struct config *cfg);
/*
 * Reload: read the same config file and command line again into *next,
 * fully validated and prepared.  Returns 0, or -1 with the reason in err
 * (nothing printed).  config_free(next) either way.
 */
int config_reload(const struct config *live, struct config *next, char *err, size_t errlen);
/* Resolve relative directories, create them, check the worker exists. */
int config_prepare(struct config *cfg, char *err, size_t errlen);
/* S3 is the storage backend (a bucket is configured). */
int config_s3_enabled(const struct config *cfg);
/* stop -> stored: stop-timeout, and with S3 the workers' upload budget
 * (upload-timeout) and a margin.  A stopped session's deadline, and what a
 * stopping master waits. */
int config_store_timeout_s(const struct config *cfg);
/* The environment children get: ours without the AWS credentials (workers
 * receive them over their IPC socket only).  Built on first use, core
 * thread only. */
char **config_child_environ(void);

#endif
