/*
 * master/main.c - webrtc-video, the daemon: configuration, then two threads.
 *
 * The transport thread (transport.c, libwebsockets) and the core thread
 * (core.c, libevent; this thread) are joined by one socketpair carrying
 * proto/ipc.h frames.  Workers are started by the core's pool.
 */
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config.h"
#include "config_build.h"
#include "core.h"
#include "log.h"
#include "service.h"
#include "transport.h"

int main(int argc, char **argv)
{
    struct config cfg;
    char err[512];
    int sv[2];
    int status = 1;

    int rc = config_load(&cfg, argc, argv);
    if (rc != 0) {
        config_free(&cfg);
        return rc > 0 ? 0 : 2;
    }
    log_init("master", cfg.log_level);
    signal(SIGPIPE, SIG_IGN);
    if (config_prepare(&cfg, err, sizeof(err)) != 0) {
        log_error("%s", err);
        config_free(&cfg);
        return 2;
    }
    log_info("webrtc-video %s: storage %s, worker %s", WV_VERSION, cfg.storage_dir,
             cfg.worker_path);

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) != 0) {
        log_error("socketpair failed");
        goto out;
    }
    struct transport_endpoint endpoints[16];
    size_t n = 0;
    for (; services[n] && n + 1 < sizeof(endpoints) / sizeof(endpoints[0]); n++)
        endpoints[n] = (struct transport_endpoint){services[n]->path, services[n]->max_message,
                                                   services[n]->max_queued};
    endpoints[n] = (struct transport_endpoint){NULL, 0, 0};
    struct transport_config tc = {
        .listen_host = cfg.listen_host,
        .listen_port = cfg.listen_port,
        .storage_dir = cfg.storage_dir,
        .endpoints = endpoints,
        .core_fd = sv[1],
        .static_dir = cfg.static_dir,
        .admin_user = cfg.admin_user,
        .admin_password = cfg.admin_password,
    };
    struct transport *t = transport_start(&tc);
    if (!t) {
        close(sv[0]);
        goto out;
    }
    status = core_run(&cfg, sv[0]);
    transport_join(t);
out:
    config_free(&cfg);
    return status;
}
