/*
 * master/relay.h - the caller/answerer relay at /webrtc (seed 003).
 *
 * A caller gets a join id and a watch id; one answerer joins with the first,
 * any number of watchers with the second, and offers, answers, candidates
 * and configure messages are relayed between the caller and each of them.
 * No media, no worker.  Wire format: proto/relay_msg.h; semantics and
 * addressing: docs/signaling.md.
 */
#ifndef WV_MASTER_RELAY_H
#define WV_MASTER_RELAY_H

#include <stddef.h>

#include "service.h"

struct core;
struct relay;

struct relay *relay_new(struct core *core);
void relay_free(struct relay *relay);

extern const struct service relay_service;

/* Calls (callers), and the connections taking part in one (GET /signaling). */
void relay_counts(const struct relay *relay, size_t *n_calls, size_t *n_peers);

#endif
