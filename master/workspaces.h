/*
 * master/workspaces.h - workspaces at /workspaces (seed 004, webRTCWorkspaces).
 *
 * An owner creates a workspace and hands out its access token; others attend
 * with it (and the PIN, if one is set); the owner rings attendees one by one
 * and the service relays offers, answers, candidates and renegotiations
 * between them.  Every event carries a JWT (proto/jwt.h) verified before
 * anything else.  No media, no worker.  Wire format: proto/workspaces_msg.h;
 * records and storage file: workspaces_store.h; semantics: docs/signaling.md.
 * Enabled only when [workspaces] secret is set.
 */
#ifndef WV_MASTER_WORKSPACES_H
#define WV_MASTER_WORKSPACES_H

#include <stddef.h>

#include "service.h"

struct core;
struct workspaces;

/* NULL if the storage file cannot be loaded (the reason is logged). */
struct workspaces *workspaces_new(struct core *core);
/* Writes the storage file if a change is pending. */
void workspaces_free(struct workspaces *wss);

extern const struct service workspaces_service;

/* Workspaces, and attendees in them (connected or not): GET /signaling, status. */
void workspaces_counts(const struct workspaces *wss, size_t *n_workspaces, size_t *n_attendees);

#endif
