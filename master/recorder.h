/*
 * master/recorder.h - the recorder service at /api/recorder (seed 000).
 *
 * Turns client messages (proto/client.h) on a websocket into a recording
 * session served by one media worker, and the worker's frames back into
 * client messages.  This is where a websocket message becomes an IPC frame.
 */
#ifndef WV_MASTER_RECORDER_H
#define WV_MASTER_RECORDER_H

#include <stddef.h>
#include <stdint.h>

#include "service.h"

struct core;
struct recorder;
struct rconn;

struct recorder *recorder_new(struct core *core);
void recorder_free(struct recorder *rec);

/* The websocket side: the service at /api/recorder (see service.h). */
extern const struct service recorder_service;

/* Sessions recording or finishing (the /sessions number). */
size_t recorder_active(struct recorder *rec);
/* Ask every session to stop (shutdown); returns how many are still active. */
size_t recorder_stop_all(struct recorder *rec);
/* One session as the control socket shows it. */
struct session_info {
    uint64_t id;
    const char *peer;  /* the client's address */
    const char *state; /* "waiting", "starting", "recording", "stopping" */
    const char *key;   /* the recording's name */
    double duration_s; /* since start */
    long long bytes;   /* recorded so far (worker heartbeats) */
    int worker_pid;    /* 0: none yet */
};
void recorder_foreach(struct recorder *rec,
                      void (*fn)(const struct session_info *si, void *data), void *data);
/* End session `id` as if its client had sent stop (the recording is kept
 * and the client, if still there, gets uploadSuccess).  0, or -1 if there
 * is no such session. */
int recorder_kill(struct recorder *rec, uint64_t id);
/* Twice a second: start and stop deadlines. */
void recorder_tick(struct recorder *rec);

#endif
