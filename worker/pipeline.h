/*
 * worker/pipeline.h - one recording session's media pipeline: webrtcbin
 * answering a browser's offer recvonly (send-receive with loopback, which
 * sends each received stream back as it came), and a Matroska/WebM
 * recording of what it receives, without transcoding.  The only GStreamer
 * user.
 *
 * Lifecycle: pipeline_new (pre-warmed, before HELLO) -> pipeline_set_offer
 * (parse and plan; tells the file extension) -> pipeline_start (negotiate,
 * open the spool file) -> pipeline_add_candidate* -> pipeline_finish (EOS
 * into the recording) -> finished callback -> pipeline_stop -> pipeline_free.
 *
 * Every callback runs on the GLib main loop (default context), in the order
 * the events happened; the answer always comes before the first candidate.
 */
#ifndef WV_WORKER_PIPELINE_H
#define WV_WORKER_PIPELINE_H

#include <stddef.h>
#include <stdint.h>

#include "client.h"

enum pipeline_ice_state {
    PIPELINE_ICE_NEW,
    PIPELINE_ICE_CHECKING,
    PIPELINE_ICE_CONNECTED,
    PIPELINE_ICE_COMPLETED,
    PIPELINE_ICE_FAILED,
    PIPELINE_ICE_DISCONNECTED,
    PIPELINE_ICE_CLOSED,
};

struct pipeline_callbacks {
    void (*answer)(void *user, const char *sdp);
    /* A local candidate; candidate "" is an end-of-candidates for that m-line. */
    void (*candidate)(void *user, const struct ice_candidate *c);
    void (*ice_state)(void *user, enum pipeline_ice_state state);
    /* The first media buffer reached the recording. */
    void (*media)(void *user);
    /* Negotiation or the pipeline failed; the recording should be finished. */
    void (*error)(void *user, const char *message);
    /* pipeline_finish completed (or gave up waiting); the file is complete. */
    void (*finished)(void *user);
    /* Optional, while recording: bytes of the spool file below `stable` are
     * final except the header (stable 0: no news); `seek_back` (not
     * UINT64_MAX) is an offset the muxer went back to rewrite. */
    void (*spool)(void *user, uint64_t stable, uint64_t seek_back);
};

struct pipeline_start_params {
    const char *location; /* the spool file to write */
    const char *const *ice_addresses;
    size_t n_ice_addresses;
    int loopback; /* answer send-receive and send the media back as received */
};

struct pipeline;

/* Are all the GStreamer elements we need installed?  gst_init first. */
int pipeline_check_elements(char *err, size_t errlen);

struct pipeline *pipeline_new(const struct pipeline_callbacks *cb, void *user, char *err,
                              size_t errlen);
void pipeline_free(struct pipeline *p);

/* Parse the offer and choose what to record.  -1 with a reason a user can
 * read: not SDP, no media, no codec we can record without transcoding. */
int pipeline_set_offer(struct pipeline *p, const char *sdp, char *err, size_t errlen);
/* ".webm" or ".mkv", valid after pipeline_set_offer. */
const char *pipeline_extension(const struct pipeline *p);

int pipeline_start(struct pipeline *p, const struct pipeline_start_params *params, char *err,
                   size_t errlen);
/* A remote candidate; queued until the offer is applied.  "" ends them. */
int pipeline_add_candidate(struct pipeline *p, const struct ice_candidate *c, char *err,
                           size_t errlen);

/* Stop recording: EOS into every branch; `finished` follows within timeout_ms. */
void pipeline_finish(struct pipeline *p, unsigned timeout_ms);
/* End the tracks that have had no media so far, so the muxer stops waiting for them. */
void pipeline_end_silent_tracks(struct pipeline *p);
/* Bring everything to NULL: the file is closed. */
void pipeline_stop(struct pipeline *p);

int pipeline_has_media(const struct pipeline *p);
long long pipeline_bytes(const struct pipeline *p);
long long pipeline_duration_ms(const struct pipeline *p);
/* Milliseconds since the last media packet arrived (0 before the first). */
long long pipeline_idle_ms(const struct pipeline *p);

#endif
