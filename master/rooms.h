/*
 * master/rooms.h - the rooms signaling service at /videre (seed 001).
 *
 * Peers join a room under a user id and exchange packets through it; no
 * media, no worker.  Wire format: proto/rooms_msg.h; semantics:
 * docs/signaling.md.
 */
#ifndef WV_MASTER_ROOMS_H
#define WV_MASTER_ROOMS_H

#include <stddef.h>

#include "service.h"

struct core;
struct rooms;

struct rooms *rooms_new(struct core *core);
void rooms_free(struct rooms *rooms);

extern const struct service rooms_service;

/* Rooms with someone in them, and the peers in them (GET /signaling). */
void rooms_counts(const struct rooms *rooms, size_t *n_rooms, size_t *n_peers);

#endif
