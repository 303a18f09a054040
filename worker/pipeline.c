/*
 * worker/pipeline.c - the GStreamer side of a recording session.
 *
 * Owns the pipeline: webrtcbin (pre-warmed at start-up), one recording
 * branch per received stream (depayloader [+ parser] -> queue -> muxer pad),
 * and the muxer -> filesink writing the spool file.  Nothing is transcoded.
 *
 * Loopback (seed 002): the transceivers are send-receive and each received
 * stream is teed before its depayloader into webrtcbin's sink pad of the
 * same m-line (tee -> queue -> capssetter -> sink_N): the client gets its own
 * RTP back, same payload type, under a new SSRC (the browser must not see its
 * own).  A keyframe request from the client for that SSRC leaves webrtcbin's
 * sink pad as an upstream GstForceKeyUnit and travels up the tee to the
 * receiving side, which turns it into a PLI to the client.
 *
 * Threads: signals from webrtcbin arrive on its own threads (promises,
 * candidates) or on streaming threads (pad-added, probes).  Branches are
 * linked right there; everything the rest of the worker must know is posted
 * to the main loop as an event, in order.  `lock` guards the m-line table
 * and the timestamps the probes collect.
 *
 * Platform facts (GStreamer 1.22.0, see design.md) shape this file: RECVONLY
 * transceivers with payload-less codec-preferences before the offer, aiortc's
 * inconsistent BUNDLE group dropped, one muxer pad per medium requested before
 * media flows, Opus rate set after the depayloader, EOS sent into each branch
 * rather than the whole pipeline, and its arrival at the sink seen through
 * message-forward.
 */
#define GST_USE_UNSTABLE_API 1
#include "pipeline.h"

#include <gst/gst.h>
#include <gst/rtp/gstrtpbuffer.h>
#include <gst/sdp/sdp.h>
#include <gst/webrtc/webrtc.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#define PIPELINE_MAX_MLINES 16
#define PIPELINE_QUEUE_TIME (30 * GST_SECOND)

struct pipeline_codec {
    const char *name; /* RTP encoding-name, upper case as GStreamer has it */
    const char *media;
    int clock_rate;
    const char *depay;
    int needs_matroska; /* not allowed in WebM */
};

static const struct pipeline_codec pipeline_codecs[] = {
    {"VP8", "video", 90000, "rtpvp8depay", 0},
    {"VP9", "video", 90000, "rtpvp9depay", 0},
    {"H264", "video", 90000, "rtph264depay", 1},
    {"OPUS", "audio", 48000, "rtpopusdepay", 0},
};

/* What we link, then what webrtcbin creates on an offer: making each once
 * loads its plugin and DTLS certificate now rather than on the first START. */
static const char *const pipeline_elements[] = {
    "webrtcbin", "rtpvp8depay", "rtpvp9depay", "rtph264depay", "h264parse", "rtpopusdepay",
    "matroskamux", "webmmux", "filesink", "queue", "capssetter", "capsfilter", "fakesink",
    "dtlssrtpenc", "dtlssrtpdec", "dtlsenc", "dtlsdec", "srtpenc", "srtpdec", "nicesrc",
    "nicesink", "rtpbin", "rtpsession", "rtpssrcdemux", "rtpstorage", "rtpjitterbuffer",
    "rtpptdemux", "rtprtxreceive", "rtprtxsend", "rtpfunnel", "funnel", "clocksync", "tee",
};

#define PIPELINE_MAX_CLUSTER_NS (5 * GST_SECOND)

struct pipeline;

struct pipeline_mline {
    struct pipeline *p;
    int index;
    char *offer_mid;
    char *answer_mid;    /* NULL if the answer rejected it */
    const char *media;   /* "audio", "video", or NULL for anything else */
    const struct pipeline_codec *codec; /* NULL: not recorded */
    GstCaps *decline_caps; /* the offer's first codec, to answer it inactive */
    int twcc_ext_id;       /* the offer's transport-wide-cc extension id, 0: none */
    GstPad *mux_pad;
    GstElement *head;    /* first element of the linked branch */
    gboolean ended;      /* the track got its EOS: nothing links to it any more */
    gboolean got_data;
    atomic_int dropping;   /* the branch was ended: drop what webrtcbin still sends */
    GstClockTime last_pts; /* the branch's streaming thread only */
    gboolean keyframe_seen; /* likewise: video is recorded from its first keyframe */
    GstPad *send_pad;      /* loopback: webrtcbin's sink pad for this m-line */
    GstElement *loop_queue; /* loopback: the branch feeding send_pad (the bin's) */
    guint32 send_ssrc;     /* loopback: the SSRC it is sent back under */
};

struct pipeline_candidate {
    char *candidate;
    int mline;
};

enum pipeline_event_type {
    PIPELINE_EVENT_ANSWER,
    PIPELINE_EVENT_CANDIDATE,
    PIPELINE_EVENT_GATHERED,
    PIPELINE_EVENT_ICE_STATE,
    PIPELINE_EVENT_MEDIA,
    PIPELINE_EVENT_ERROR,
    PIPELINE_EVENT_FINISHED,
    PIPELINE_EVENT_SPOOL,
};

struct pipeline_event {
    struct pipeline *p;
    enum pipeline_event_type type;
    char *text;
    int mline;
    int state;
    guint64 stable, seek_back; /* PIPELINE_EVENT_SPOOL */
};

struct pipeline {
    const struct pipeline_callbacks *cb;
    void *user;
    GstElement *pipe;
    GstElement *webrtc;
    GstElement *mux;
    GstElement *sink;
    GstSDPMessage *offer;
    gboolean matroska;
    gboolean loopback;
    guint bus_watch;
    guint finish_timer;
    gboolean playing;
    gboolean finish_started;
    gboolean finished;

    GMutex lock;
    struct pipeline_mline mlines[PIPELINE_MAX_MLINES];
    guint n_mlines;
    gboolean remote_set;
    GQueue pending; /* struct pipeline_candidate *, until remote_set */
    GstClockTime first_ts;
    GstClockTime last_ts;

    atomic_llong last_rx_us; /* monotonic time of the last received media */
    atomic_int media_seen;
    atomic_llong bytes;
    /* The spool file as the filesink writes it (its streaming thread only):
     * where the next byte goes, the end of the file, and whether the muxer
     * has gone back to rewrite something (see pipeline_on_sink_event). */
    guint64 file_pos, file_end;
    gboolean rewriting;
    guint64 stable_due; /* a stable mark to report once filesink has flushed */
};

/* ---- events to the main loop ---- */

static void pipeline_event_free(gpointer data)
{
    struct pipeline_event *ev = data;
    g_free(ev->text);
    g_free(ev);
}

/* The answer's mid of an m-line: set before the answer event is posted,
 * so every candidate event, dispatched after it, finds it. */
static char *pipeline_answer_mid(struct pipeline *p, int mline)
{
    char *mid = NULL;
    g_mutex_lock(&p->lock);
    if (mline >= 0 && (guint)mline < p->n_mlines)
        mid = g_strdup(p->mlines[mline].answer_mid);
    g_mutex_unlock(&p->lock);
    return mid;
}

static void pipeline_dispatch_candidate(struct pipeline *p, int mline, const char *candidate)
{
    struct ice_candidate c = {candidate, pipeline_answer_mid(p, mline), mline};
    if (c.sdp_mid)
        p->cb->candidate(p->user, &c);
    g_free((char *)c.sdp_mid);
}

/* webrtcbin never ends its candidates: end them for every answered m-line. */
static void pipeline_dispatch_gathered(struct pipeline *p)
{
    for (guint i = 0; i < p->n_mlines; i++)
        pipeline_dispatch_candidate(p, (int)i, "");
}

static gboolean pipeline_event_dispatch(gpointer data)
{
    struct pipeline_event *ev = data;
    const struct pipeline_callbacks *cb = ev->p->cb;
    void *user = ev->p->user;

    switch (ev->type) {
    case PIPELINE_EVENT_ANSWER:
        cb->answer(user, ev->text);
        break;
    case PIPELINE_EVENT_CANDIDATE:
        pipeline_dispatch_candidate(ev->p, ev->mline, ev->text);
        break;
    case PIPELINE_EVENT_GATHERED:
        pipeline_dispatch_gathered(ev->p);
        break;
    case PIPELINE_EVENT_ICE_STATE:
        cb->ice_state(user, (enum pipeline_ice_state)ev->state);
        break;
    case PIPELINE_EVENT_MEDIA:
        cb->media(user);
        break;
    case PIPELINE_EVENT_ERROR:
        cb->error(user, ev->text);
        break;
    case PIPELINE_EVENT_FINISHED:
        cb->finished(user);
        break;
    case PIPELINE_EVENT_SPOOL:
        if (cb->spool)
            cb->spool(user, ev->stable, ev->seek_back);
        break;
    }
    return G_SOURCE_REMOVE;
}

/* Hands ev (taken) to the main loop, from any thread. */
static void pipeline_post_event(struct pipeline_event *ev)
{
    GSource *src = g_idle_source_new();
    g_source_set_priority(src, G_PRIORITY_DEFAULT);
    g_source_set_callback(src, pipeline_event_dispatch, ev, pipeline_event_free);
    g_source_attach(src, NULL);
    g_source_unref(src);
}

/* Takes ownership of text. */
static void pipeline_post(struct pipeline *p, enum pipeline_event_type type, char *text,
                          int mline, int state)
{
    struct pipeline_event *ev = g_new0(struct pipeline_event, 1);
    ev->p = p;
    ev->type = type;
    ev->text = text;
    ev->mline = mline;
    ev->state = state;
    pipeline_post_event(ev);
}

static void pipeline_post_error(struct pipeline *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void pipeline_post_error(struct pipeline *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *text = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    pipeline_post(p, PIPELINE_EVENT_ERROR, text, -1, 0);
}

/* ---- element helpers ---- */

int pipeline_check_elements(char *err, size_t errlen)
{
    for (size_t i = 0; i < G_N_ELEMENTS(pipeline_elements); i++) {
        GstElement *e = gst_element_factory_make(pipeline_elements[i], NULL);
        if (!e) {
            snprintf(err, errlen, "GStreamer element '%s' is not installed", pipeline_elements[i]);
            return -1;
        }
        gst_object_unref(e);
    }
    return 0;
}

static int pipeline_has_property(GstElement *e, const char *name)
{
    return g_object_class_find_property(G_OBJECT_GET_CLASS(e), name) != NULL;
}

static GstPadProbeReturn pipeline_on_sink_data(GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
    struct pipeline *p = data;
    long long n = 0;
    if (info->type & GST_PAD_PROBE_TYPE_BUFFER)
        n = (long long)gst_buffer_get_size(GST_PAD_PROBE_INFO_BUFFER(info));
    else if (info->type & GST_PAD_PROBE_TYPE_BUFFER_LIST)
        n = (long long)gst_buffer_list_calculate_size(GST_PAD_PROBE_INFO_BUFFER_LIST(info));
    atomic_fetch_add(&p->bytes, n);
    p->file_pos += (guint64)n;
    if (p->file_pos > p->file_end)
        p->file_end = p->file_pos;
    return GST_PAD_PROBE_OK;
}

static void pipeline_post_spool(struct pipeline *p, guint64 stable, guint64 seek_back)
{
    struct pipeline_event *ev = g_new0(struct pipeline_event, 1);
    ev->p = p;
    ev->type = PIPELINE_EVENT_SPOOL;
    ev->stable = stable;
    ev->seek_back = seek_back;
    pipeline_post_event(ev);
}

/*
 * The muxer seeks by sending a byte-format SEGMENT event, which filesink
 * turns into a flush and a seek.  matroskamux goes back only to rewrite the
 * size of the cluster it just closed (its start) and, when it finishes, the
 * header (the first bytes); each time it then returns to the end of the file,
 * where the next cluster starts.  So on such a return every byte before the
 * end is final, the header excepted: that is the stable mark reported to
 * the storage.  Each backward seek is reported too, so that the storage can
 * check the promise (storage_s3.c re-sends a part that changed anyway).
 * The mark is reported with the next item after the return: by then
 * filesink has handled the return seek, which flushes what it buffered (the
 * rewritten cluster size included) to the file.
 */
static void pipeline_on_sink_event(struct pipeline *p, GstEvent *event)
{
    const GstSegment *seg;
    if (GST_EVENT_TYPE(event) != GST_EVENT_SEGMENT)
        return;
    gst_event_parse_segment(event, &seg);
    if (seg->format != GST_FORMAT_BYTES)
        return;
    guint64 to = seg->start;
    if (to < p->file_end) {
        p->rewriting = TRUE;
        pipeline_post_spool(p, 0, to);
    } else if (p->rewriting && to == p->file_end) {
        p->rewriting = FALSE;
        p->stable_due = to; /* reported with the next item (pipeline_on_sink_item) */
    }
    p->file_pos = to;
}

static GstPadProbeReturn pipeline_on_sink_item(GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
    struct pipeline *p = data;
    if (p->stable_due) {
        pipeline_post_spool(p, p->stable_due, G_MAXUINT64);
        p->stable_due = 0;
    }
    if (info->type & GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM) {
        pipeline_on_sink_event(data, GST_PAD_PROBE_INFO_EVENT(info));
        return GST_PAD_PROBE_OK;
    }
    return pipeline_on_sink_data(pad, info, data);
}

static void pipeline_note_buffer(struct pipeline_mline *m, GstBuffer *buf)
{
    struct pipeline *p = m->p;
    GstClockTime ts = GST_BUFFER_PTS_IS_VALID(buf) ? GST_BUFFER_PTS(buf) : GST_BUFFER_DTS(buf);
    if (!GST_CLOCK_TIME_IS_VALID(ts))
        return;
    GstClockTime end = ts + (GST_BUFFER_DURATION_IS_VALID(buf) ? GST_BUFFER_DURATION(buf) : 0);
    g_mutex_lock(&p->lock);
    m->got_data = TRUE;
    if (!GST_CLOCK_TIME_IS_VALID(p->first_ts) || ts < p->first_ts)
        p->first_ts = ts;
    if (!GST_CLOCK_TIME_IS_VALID(p->last_ts) || end > p->last_ts)
        p->last_ts = end;
    g_mutex_unlock(&p->lock);
}

static GstPadProbeReturn pipeline_on_mux_data(GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
    struct pipeline_mline *m = data;
    struct pipeline *p = m->p;
    if (info->type & GST_PAD_PROBE_TYPE_BUFFER) {
        pipeline_note_buffer(m, GST_PAD_PROBE_INFO_BUFFER(info));
    } else {
        GstBufferList *list = GST_PAD_PROBE_INFO_BUFFER_LIST(info);
        for (guint i = 0; i < gst_buffer_list_length(list); i++)
            pipeline_note_buffer(m, gst_buffer_list_get(list, i));
    }
    int expected = 0;
    if (atomic_compare_exchange_strong(&p->media_seen, &expected, 1))
        pipeline_post(p, PIPELINE_EVENT_MEDIA, NULL, m->index, 0);
    return GST_PAD_PROBE_OK;
}

/*
 * What leaves a depayloader, before it is recorded:
 *  - video starts at its first keyframe, so that the file opens decodable.
 *    After that every frame is kept: a lost packet costs artifacts until the
 *    next keyframe (which the depayloader asks for), not the frames
 *    themselves.  The depayloaders' own wait-for-keyframe would drop a whole
 *    GOP after any loss, seconds of video from a sender that ignores PLI
 *    (aiortc's H.264 encoder does).
 *  - the jitterbuffer gives frames of a burst the same PTS; h264parse then
 *    strips the PTS of all but the first, and matroskamux turns a missing PTS
 *    into a negative duration.  Keep each branch's PTS strictly increasing.
 */
static GstPadProbeReturn pipeline_on_depay_data(GstPad *pad, GstPadProbeInfo *info,
                                                gpointer data)
{
    struct pipeline_mline *m = data;
    GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER(info);
    GstClockTime pts = GST_BUFFER_PTS(buf);
    if (!m->keyframe_seen && strcmp(m->media, "video") == 0) {
        if (GST_BUFFER_FLAG_IS_SET(buf, GST_BUFFER_FLAG_DELTA_UNIT))
            return GST_PAD_PROBE_DROP;
        m->keyframe_seen = TRUE;
    }
    if (GST_CLOCK_TIME_IS_VALID(m->last_pts) &&
        (!GST_CLOCK_TIME_IS_VALID(pts) || pts <= m->last_pts)) {
        buf = gst_buffer_make_writable(buf);
        GST_BUFFER_PTS(buf) = GST_BUFFER_DTS(buf) = m->last_pts + GST_USECOND;
        GST_PAD_PROBE_INFO_DATA(info) = buf;
    }
    if (GST_BUFFER_PTS_IS_VALID(buf))
        m->last_pts = GST_BUFFER_PTS(buf);
    return GST_PAD_PROBE_OK;
}

static GstPadProbeReturn pipeline_on_src_data(GstPad *pad, GstPadProbeInfo *info, gpointer data)
{
    struct pipeline_mline *m = data;
    atomic_store(&m->p->last_rx_us, g_get_monotonic_time());
    return atomic_load(&m->dropping) ? GST_PAD_PROBE_DROP : GST_PAD_PROBE_OK;
}

/* ---- the offer ---- */

static const struct pipeline_codec *pipeline_codec_find(const char *media, const char *name,
                                                        int clock_rate)
{
    for (size_t i = 0; i < G_N_ELEMENTS(pipeline_codecs); i++) {
        const struct pipeline_codec *c = &pipeline_codecs[i];
        if (strcmp(c->media, media) == 0 && g_ascii_strcasecmp(c->name, name) == 0 &&
            c->clock_rate == clock_rate)
            return c;
    }
    return NULL;
}

static gboolean pipeline_media_sends(const GstSDPMessage *msg, const GstSDPMedia *media)
{
    static const char *const dirs[] = {"sendrecv", "sendonly", "recvonly", "inactive"};
    for (size_t i = 0; i < G_N_ELEMENTS(dirs); i++) {
        if (gst_sdp_media_get_attribute_val(media, dirs[i]) ||
            gst_sdp_message_get_attribute_val(msg, dirs[i]))
            return i < 2;
    }
    return TRUE;
}

/* Port 0 rejects an m-line, unless it is bundle-only (RFC 8843). */
static gboolean pipeline_media_active(const GstSDPMedia *media)
{
    return gst_sdp_media_get_port(media) != 0 ||
           gst_sdp_media_get_attribute_val(media, "bundle-only") != NULL;
}

/* Choose the first codec in the offer's order that we can record. */
static void pipeline_plan_codec(struct pipeline_mline *m, const GstSDPMedia *media,
                                GString *offered)
{
    for (guint f = 0; f < gst_sdp_media_formats_len(media); f++) {
        int pt = atoi(gst_sdp_media_get_format(media, f));
        GstCaps *caps = gst_sdp_media_get_caps_from_media(media, pt);
        if (!caps)
            continue;
        const GstStructure *s = gst_caps_get_structure(caps, 0);
        const char *name = gst_structure_get_string(s, "encoding-name");
        int rate = 0;
        gst_structure_get_int(s, "clock-rate", &rate);
        if (name && !m->decline_caps)
            m->decline_caps = gst_caps_new_simple("application/x-rtp", "media", G_TYPE_STRING,
                                                  m->media, "encoding-name", G_TYPE_STRING, name,
                                                  "clock-rate", G_TYPE_INT, rate, NULL);
        if (name && !m->codec)
            m->codec = pipeline_codec_find(m->media, name, rate);
        if (name && offered->len < 200)
            g_string_append_printf(offered, "%s%s %s/%d", offered->len ? ", " : "", m->media,
                                   name, rate);
        gst_caps_unref(caps);
    }
}

#define PIPELINE_TWCC_URI "http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01"

/* The id the offer gives transport-wide congestion control, if any. */
static int pipeline_twcc_ext_id(const GstSDPMedia *media)
{
    for (guint i = 0; i < gst_sdp_media_attributes_len(media); i++) {
        const GstSDPAttribute *a = gst_sdp_media_get_attribute(media, i);
        int id = 0;
        char uri[128];
        if (g_strcmp0(a->key, "extmap") == 0 && a->value &&
            sscanf(a->value, "%d %127s", &id, uri) == 2 && strcmp(uri, PIPELINE_TWCC_URI) == 0 &&
            id > 0 && id < 256)
            return id;
    }
    return 0;
}

static void pipeline_plan_mline(struct pipeline *p, const GstSDPMessage *msg, guint i,
                                GString *offered, guint *sending)
{
    const GstSDPMedia *media = gst_sdp_message_get_media(msg, i);
    struct pipeline_mline *m = &p->mlines[i];
    const char *kind = gst_sdp_media_get_media(media);

    m->p = p;
    m->index = (int)i;
    m->last_pts = GST_CLOCK_TIME_NONE;
    m->offer_mid = g_strdup(gst_sdp_media_get_attribute_val(media, "mid"));
    if (g_strcmp0(kind, "audio") == 0)
        m->media = "audio";
    else if (g_strcmp0(kind, "video") == 0)
        m->media = "video";
    if (!m->media)
        return;
    pipeline_plan_codec(m, media, offered);
    m->twcc_ext_id = pipeline_twcc_ext_id(media);
    if (!pipeline_media_active(media) || !pipeline_media_sends(msg, media)) {
        m->codec = NULL;
        return;
    }
    (*sending)++;
    if (!m->codec)
        log_warn("media section %u (%s) has no codec we can record: answering it inactive",
                 i, m->media);
    else if (m->codec->needs_matroska)
        p->matroska = TRUE;
}

static const char *pipeline_media_ufrag(const GstSDPMessage *msg, const GstSDPMedia *media)
{
    const char *ufrag = gst_sdp_media_get_attribute_val(media, "ice-ufrag");
    return ufrag ? ufrag : gst_sdp_message_get_attribute_val(msg, "ice-ufrag");
}

static gboolean pipeline_ufrags_differ(const GstSDPMessage *msg)
{
    const char *first = NULL;
    for (guint i = 0; i < gst_sdp_message_medias_len(msg); i++) {
        const GstSDPMedia *media = gst_sdp_message_get_media(msg, i);
        const char *ufrag = pipeline_media_ufrag(msg, media);
        if (!pipeline_media_active(media) || !ufrag)
            continue;
        if (first && strcmp(first, ufrag) != 0)
            return TRUE;
        first = ufrag;
    }
    return FALSE;
}

/* aiortc 1.4 bundles m-lines with different ufrags, which webrtcbin refuses. */
static void pipeline_fix_bundle(GstSDPMessage *msg)
{
    if (!pipeline_ufrags_differ(msg))
        return;
    for (guint i = 0; i < gst_sdp_message_attributes_len(msg); i++) {
        const GstSDPAttribute *a = gst_sdp_message_get_attribute(msg, i);
        if (g_strcmp0(a->key, "group") == 0 && a->value && g_str_has_prefix(a->value, "BUNDLE")) {
            log_info("offer bundles m-lines with different ice-ufrags: answering unbundled");
            gst_sdp_message_remove_attribute(msg, i);
            return;
        }
    }
}

int pipeline_set_offer(struct pipeline *p, const char *sdp, char *err, size_t errlen)
{
    GstSDPMessage *msg = NULL;
    GString *offered = g_string_new(NULL);
    guint sending = 0, recordable = 0;

    if (strncmp(sdp, "v=0", 3) != 0 || gst_sdp_message_new_from_text(sdp, &msg) != GST_SDP_OK) {
        snprintf(err, errlen, "the offer is not a valid SDP description");
        goto error;
    }
    p->n_mlines = gst_sdp_message_medias_len(msg);
    if (p->n_mlines == 0 || p->n_mlines > PIPELINE_MAX_MLINES) {
        snprintf(err, errlen, "the offer has %u media sections (1 to %d expected)", p->n_mlines,
                 PIPELINE_MAX_MLINES);
        p->n_mlines = 0;
        goto error;
    }
    for (guint i = 0; i < p->n_mlines; i++)
        pipeline_plan_mline(p, msg, i, offered, &sending);
    for (guint i = 0; i < p->n_mlines; i++)
        recordable += p->mlines[i].codec != NULL;
    if (sending == 0) {
        snprintf(err, errlen, "the offer sends no audio or video");
        goto error;
    }
    if (recordable == 0) {
        snprintf(err, errlen,
                 "the offer has no codec we can record (offered: %s; supported: VP8, VP9, H264, "
                 "Opus)", offered->str);
        goto error;
    }
    pipeline_fix_bundle(msg);
    p->offer = msg;
    g_string_free(offered, TRUE);
    return 0;
error:
    if (msg)
        gst_sdp_message_free(msg);
    g_string_free(offered, TRUE);
    return -1;
}

const char *pipeline_extension(const struct pipeline *p)
{
    return p->matroska ? ".mkv" : ".webm";
}

/* ---- recording branches (streaming threads) ---- */

static void pipeline_request_keyframe(GstElement *depay, gpointer data)
{
    GstPad *sinkpad = gst_element_get_static_pad(depay, "sink");
    GstStructure *s = gst_structure_new("GstForceKeyUnit", "running-time", G_TYPE_UINT64,
                                        GST_CLOCK_TIME_NONE, "all-headers", G_TYPE_BOOLEAN, TRUE,
                                        "count", G_TYPE_UINT, 0, NULL);
    gst_pad_push_event(sinkpad, gst_event_new_custom(GST_EVENT_CUSTOM_UPSTREAM, s));
    gst_object_unref(sinkpad);
}

static void pipeline_send_eos(GstElement *head, gpointer data)
{
    GstPad *sinkpad = gst_element_get_static_pad(head, "sink");
    gst_pad_send_event(sinkpad, gst_event_new_eos());
    gst_object_unref(sinkpad);
}

static int pipeline_make_branch(const struct pipeline_codec *codec, GstElement **els)
{
    int n = 0;
    els[n++] = gst_element_factory_make(codec->depay, NULL);
    if (strcmp(codec->name, "H264") == 0) {
        els[n++] = gst_element_factory_make("h264parse", NULL);
        els[n++] = gst_element_factory_make("capsfilter", NULL);
    } else if (strcmp(codec->name, "OPUS") == 0) {
        els[n++] = gst_element_factory_make("capssetter", NULL);
    }
    els[n++] = gst_element_factory_make("queue", NULL);
    for (int i = 0; i < n; i++) {
        if (els[i])
            continue;
        for (int j = 0; j < n; j++)
            if (els[j])
                gst_object_unref(els[j]);
        return -1;
    }
    return n;
}

static void pipeline_configure_branch(const struct pipeline_codec *codec, GstElement **els, int n)
{
    if (pipeline_has_property(els[0], "request-keyframe"))
        g_object_set(els[0], "request-keyframe", TRUE, NULL);
    if (pipeline_has_property(els[0], "wait-for-keyframe"))
        g_object_set(els[0], "wait-for-keyframe", FALSE, NULL); /* see pipeline_on_depay_data */
    if (strcmp(codec->name, "H264") == 0) {
        GstCaps *caps = gst_caps_from_string("video/x-h264,stream-format=avc3,alignment=au");
        g_object_set(els[1], "config-interval", -1, NULL);
        g_object_set(els[2], "caps", caps, NULL);
        gst_caps_unref(caps);
    } else if (strcmp(codec->name, "OPUS") == 0) {
        GstCaps *caps = gst_caps_from_string("audio/x-opus,rate=48000");
        g_object_set(els[1], "caps", caps, NULL);
        gst_caps_unref(caps);
    }
    g_object_set(els[n - 1], "max-size-buffers", 0, "max-size-bytes", 0, "max-size-time",
                 (guint64)PIPELINE_QUEUE_TIME, NULL);
}

/* ---- loopback (streaming threads) ---- */

static void pipeline_rewrite_ssrc(GstBuffer **buf, guint32 ssrc)
{
    GstRTPBuffer rtp = GST_RTP_BUFFER_INIT;
    *buf = gst_buffer_make_writable(*buf);
    if (gst_rtp_buffer_map(*buf, GST_MAP_READWRITE, &rtp)) {
        gst_rtp_buffer_set_ssrc(&rtp, ssrc);
        gst_rtp_buffer_unmap(&rtp);
    }
}

/* What goes back to the client leaves under our own SSRC. */
static GstPadProbeReturn pipeline_on_loopback_data(GstPad *pad, GstPadProbeInfo *info,
                                                   gpointer data)
{
    struct pipeline_mline *m = data;
    if (info->type & GST_PAD_PROBE_TYPE_BUFFER) {
        GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER(info);
        pipeline_rewrite_ssrc(&buf, m->send_ssrc);
        GST_PAD_PROBE_INFO_DATA(info) = buf;
    } else {
        GstBufferList *list = gst_buffer_list_make_writable(GST_PAD_PROBE_INFO_BUFFER_LIST(info));
        for (guint i = 0; i < gst_buffer_list_length(list); i++) {
            GstBuffer *buf = gst_buffer_list_get_writable(list, i);
            pipeline_rewrite_ssrc(&buf, m->send_ssrc);
        }
        GST_PAD_PROBE_INFO_DATA(info) = list;
    }
    return GST_PAD_PROBE_OK;
}

/* A keyframe request from the client's receiver, on its way from
 * webrtcbin's send side up the tee to the receive side: drop the SSRC the
 * sender put in it (ours), so that the receive side fills in the client's
 * and sends the PLI to the right stream. */
static GstPadProbeReturn pipeline_on_loopback_event(GstPad *pad, GstPadProbeInfo *info,
                                                    gpointer data)
{
    struct pipeline_mline *m = data;
    GstEvent *event = GST_PAD_PROBE_INFO_EVENT(info);
    if (GST_EVENT_TYPE(event) != GST_EVENT_CUSTOM_UPSTREAM ||
        !gst_event_has_name(event, "GstForceKeyUnit"))
        return GST_PAD_PROBE_OK;
    event = gst_event_make_writable(event);
    gst_structure_remove_field(gst_event_writable_structure(event), "ssrc");
    GST_PAD_PROBE_INFO_DATA(info) = event;
    log_info("m-line %d: the client asks for a keyframe of what it gets back: relaying it",
             m->index);
    return GST_PAD_PROBE_OK;
}

/* Before the answer: a sink pad on each recorded m-line's (send-receive)
 * transceiver, so that the answer sends on it. */
static void pipeline_request_send_pads(struct pipeline *p)
{
    for (guint i = 0; p->loopback && i < p->n_mlines; i++) {
        struct pipeline_mline *m = &p->mlines[i];
        char name[16];
        if (!m->codec)
            continue;
        snprintf(name, sizeof(name), "sink_%u", i);
        GstPad *pad = gst_element_request_pad_simple(p->webrtc, name);
        g_mutex_lock(&p->lock);
        m->send_pad = pad;
        g_mutex_unlock(&p->lock);
        if (!pad)
            log_warn("m-line %u: no send pad: its media is not looped back", i);
    }
}

/* src -> tee -> (recording branch at `head`) and -> queue -> capssetter ->
 * the m-line's send pad.  Called with the lock held. */
static GstPad *pipeline_link_loopback(struct pipeline *p, struct pipeline_mline *m, GstPad *src)
{
    GstElement *tee = gst_element_factory_make("tee", NULL);
    GstElement *queue = gst_element_factory_make("queue", NULL);
    GstElement *setter = gst_element_factory_make("capssetter", NULL);
    GstPad *out = NULL, *teesink = NULL;
    if (!tee || !queue || !setter) {
        g_clear_object(&tee);
        g_clear_object(&queue);
        g_clear_object(&setter);
        return NULL;
    }
    GstCaps *caps = gst_caps_new_simple("application/x-rtp", "ssrc", G_TYPE_UINT, m->send_ssrc,
                                        NULL);
    g_object_set(setter, "caps", caps, NULL);
    gst_caps_unref(caps);
    g_object_set(tee, "allow-not-linked", TRUE, NULL);
    /* never hold the recording up: drop the oldest if sending stalls */
    g_object_set(queue, "leaky", 2, "max-size-buffers", 0, "max-size-bytes", 0, "max-size-time",
                 (guint64)GST_SECOND, NULL);
    gst_bin_add_many(GST_BIN(p->pipe), tee, queue, setter, NULL);
    GstPad *setter_src = gst_element_get_static_pad(setter, "src");
    gst_pad_add_probe(setter_src, GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST,
                      pipeline_on_loopback_data, m, NULL);
    gst_pad_add_probe(setter_src, GST_PAD_PROBE_TYPE_EVENT_UPSTREAM, pipeline_on_loopback_event,
                      m, NULL);
    if (!gst_element_link_many(tee, queue, setter, NULL) ||
        gst_pad_link(setter_src, m->send_pad) != GST_PAD_LINK_OK) {
        log_warn("m-line %d: cannot link the loopback branch", m->index);
        gst_object_unref(setter_src);
        return NULL;
    }
    gst_object_unref(setter_src);
    gst_element_sync_state_with_parent(setter);
    gst_element_sync_state_with_parent(queue);
    gst_element_sync_state_with_parent(tee);
    m->loop_queue = queue;
    teesink = gst_element_get_static_pad(tee, "sink");
    if (gst_pad_link(src, teesink) == GST_PAD_LINK_OK)
        out = gst_element_request_pad_simple(tee, "src_%u");
    gst_object_unref(teesink);
    if (out)
        log_info("m-line %d: looping %s back under SSRC %u", m->index, m->media, m->send_ssrc);
    return out;
}

static int pipeline_link_branch(struct pipeline *p, struct pipeline_mline *m, GstPad *src)
{
    GstElement *els[4];
    GstPad *sinkpad = NULL, *qsrc = NULL, *teesrc = NULL;
    int n = pipeline_make_branch(m->codec, els);
    if (n < 0)
        return -1;
    pipeline_configure_branch(m->codec, els, n);
    for (int i = 0; i < n; i++)
        gst_bin_add(GST_BIN(p->pipe), els[i]);
    for (int i = 0; i + 1 < n; i++)
        if (!gst_element_link(els[i], els[i + 1]))
            goto error;
    qsrc = gst_element_get_static_pad(els[n - 1], "src");
    if (gst_pad_link(qsrc, m->mux_pad) != GST_PAD_LINK_OK)
        goto error;
    for (int i = n - 1; i >= 0; i--)
        gst_element_sync_state_with_parent(els[i]);
    GstPad *depay_src = gst_element_get_static_pad(els[0], "src");
    gst_pad_add_probe(depay_src, GST_PAD_PROBE_TYPE_BUFFER, pipeline_on_depay_data, m, NULL);
    gst_object_unref(depay_src);
    sinkpad = gst_element_get_static_pad(els[0], "sink");
    gst_pad_add_probe(src, GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST,
                      pipeline_on_src_data, m, NULL);
    if (m->send_pad && (teesrc = pipeline_link_loopback(p, m, src)))
        src = teesrc;
    if (gst_pad_link(src, sinkpad) != GST_PAD_LINK_OK)
        goto error;
    if (teesrc)
        gst_object_unref(teesrc);
    teesrc = NULL;
    m->head = els[0];
    if (strcmp(m->media, "video") == 0)
        gst_element_call_async(els[0], pipeline_request_keyframe, NULL, NULL);
    gst_object_unref(qsrc);
    gst_object_unref(sinkpad);
    return 0;
error:
    if (teesrc)
        gst_object_unref(teesrc);
    if (qsrc)
        gst_object_unref(qsrc);
    if (sinkpad)
        gst_object_unref(sinkpad);
    for (int i = 0; i < n; i++) {
        gst_element_set_state(els[i], GST_STATE_NULL);
        gst_bin_remove(GST_BIN(p->pipe), els[i]);
    }
    return -1;
}

static void pipeline_link_discard(struct pipeline *p, GstPad *src)
{
    GstElement *sink = gst_element_factory_make("fakesink", NULL);
    g_object_set(sink, "sync", FALSE, "async", FALSE, NULL);
    gst_bin_add(GST_BIN(p->pipe), sink);
    gst_element_sync_state_with_parent(sink);
    GstPad *sinkpad = gst_element_get_static_pad(sink, "sink");
    if (gst_pad_link(src, sinkpad) != GST_PAD_LINK_OK)
        log_warn("cannot link %s to a fakesink", GST_PAD_NAME(src));
    gst_object_unref(sinkpad);
}

static int pipeline_pad_mline(GstPad *pad)
{
    GstWebRTCRTPTransceiver *trans = NULL;
    guint mline = G_MAXUINT;
    g_object_get(pad, "transceiver", &trans, NULL);
    if (!trans)
        return -1;
    g_object_get(trans, "mlineindex", &mline, NULL);
    gst_object_unref(trans);
    return mline < PIPELINE_MAX_MLINES ? (int)mline : -1;
}

static void pipeline_on_pad_added(GstElement *webrtc, GstPad *pad, gpointer data)
{
    struct pipeline *p = data;
    if (GST_PAD_DIRECTION(pad) != GST_PAD_SRC)
        return;
    int idx = pipeline_pad_mline(pad);
    g_mutex_lock(&p->lock);
    struct pipeline_mline *m = idx >= 0 && (guint)idx < p->n_mlines ? &p->mlines[idx] : NULL;
    gboolean record = m && m->mux_pad && !m->head && !m->ended;
    if (record && pipeline_link_branch(p, m, pad) == 0) {
        log_info("m-line %d: recording %s %s from %s", idx, m->media, m->codec->name,
                 GST_PAD_NAME(pad));
    } else {
        log_info("m-line %d: discarding %s", idx, GST_PAD_NAME(pad));
        pipeline_link_discard(p, pad);
    }
    g_mutex_unlock(&p->lock);
}

/* ---- negotiation (webrtcbin's threads) ---- */

static int pipeline_promise_failed(GstPromise *promise, char *err, size_t errlen)
{
    if (gst_promise_wait(promise) != GST_PROMISE_RESULT_REPLIED) {
        snprintf(err, errlen, "interrupted");
        return 1;
    }
    const GstStructure *reply = gst_promise_get_reply(promise);
    GError *gerr = NULL;
    if (!reply || !gst_structure_has_field(reply, "error"))
        return 0;
    gst_structure_get(reply, "error", G_TYPE_ERROR, &gerr, NULL);
    snprintf(err, errlen, "%s", gerr ? gerr->message : "unknown error");
    g_clear_error(&gerr);
    return 1;
}

static void pipeline_note_answer(struct pipeline *p, const GstSDPMessage *answer)
{
    g_mutex_lock(&p->lock);
    for (guint i = 0; i < p->n_mlines && i < gst_sdp_message_medias_len(answer); i++) {
        const GstSDPMedia *media = gst_sdp_message_get_media(answer, i);
        if (pipeline_media_active(media))
            p->mlines[i].answer_mid = g_strdup(gst_sdp_media_get_attribute_val(media, "mid"));
    }
    g_mutex_unlock(&p->lock);
}

static void pipeline_on_local_set(GstPromise *promise, gpointer data)
{
    struct pipeline *p = data;
    char err[256];
    if (pipeline_promise_failed(promise, err, sizeof(err)))
        pipeline_post_error(p, "cannot apply the answer: %s", err);
    gst_promise_unref(promise);
}

static void pipeline_on_answer_created(GstPromise *promise, gpointer data)
{
    struct pipeline *p = data;
    GstWebRTCSessionDescription *answer = NULL;
    char err[256];

    if (pipeline_promise_failed(promise, err, sizeof(err))) {
        pipeline_post_error(p, "cannot create an answer: %s", err);
        gst_promise_unref(promise);
        return;
    }
    gst_structure_get(gst_promise_get_reply(promise), "answer",
                      GST_TYPE_WEBRTC_SESSION_DESCRIPTION, &answer, NULL);
    gst_promise_unref(promise);
    if (!answer) {
        pipeline_post_error(p, "cannot create an answer");
        return;
    }
    pipeline_note_answer(p, answer->sdp);
    pipeline_post(p, PIPELINE_EVENT_ANSWER, gst_sdp_message_as_text(answer->sdp), -1, 0);
    GstPromise *next = gst_promise_new_with_change_func(pipeline_on_local_set, p, NULL);
    g_signal_emit_by_name(p->webrtc, "set-local-description", answer, next);
    gst_webrtc_session_description_free(answer);
}

static void pipeline_emit_candidate(struct pipeline *p, int mline, const char *candidate)
{
    g_signal_emit_by_name(p->webrtc, "add-ice-candidate", (guint)mline, candidate);
}

static void pipeline_flush_candidates(struct pipeline *p)
{
    struct pipeline_candidate *c;
    GQueue pending = G_QUEUE_INIT;
    g_mutex_lock(&p->lock);
    p->remote_set = TRUE;
    pending = p->pending;
    g_queue_init(&p->pending);
    g_mutex_unlock(&p->lock);
    while ((c = g_queue_pop_head(&pending))) {
        pipeline_emit_candidate(p, c->mline, c->candidate);
        g_free(c->candidate);
        g_free(c);
    }
}

static void pipeline_on_remote_set(GstPromise *promise, gpointer data)
{
    struct pipeline *p = data;
    char err[256];
    if (pipeline_promise_failed(promise, err, sizeof(err))) {
        pipeline_post_error(p, "cannot apply the offer: %s", err);
        gst_promise_unref(promise);
        return;
    }
    gst_promise_unref(promise);
    pipeline_flush_candidates(p);
    pipeline_request_send_pads(p);
    GstPromise *next = gst_promise_new_with_change_func(pipeline_on_answer_created, p, NULL);
    g_signal_emit_by_name(p->webrtc, "create-answer", NULL, next);
}

static void pipeline_on_ice_candidate(GstElement *webrtc, guint mline, gchar *candidate,
                                      gpointer data)
{
    pipeline_post(data, PIPELINE_EVENT_CANDIDATE, g_strdup(candidate), (int)mline, 0);
}

static void pipeline_on_gathering_state(GObject *obj, GParamSpec *pspec, gpointer data)
{
    struct pipeline *p = data;
    GstWebRTCICEGatheringState state;
    g_object_get(obj, "ice-gathering-state", &state, NULL);
    if (state == GST_WEBRTC_ICE_GATHERING_STATE_COMPLETE)
        pipeline_post(p, PIPELINE_EVENT_GATHERED, NULL, -1, 0);
}

static void pipeline_on_connection_state(GObject *obj, GParamSpec *pspec, gpointer data)
{
    static const enum pipeline_ice_state map[] = {
        [GST_WEBRTC_ICE_CONNECTION_STATE_NEW] = PIPELINE_ICE_NEW,
        [GST_WEBRTC_ICE_CONNECTION_STATE_CHECKING] = PIPELINE_ICE_CHECKING,
        [GST_WEBRTC_ICE_CONNECTION_STATE_CONNECTED] = PIPELINE_ICE_CONNECTED,
        [GST_WEBRTC_ICE_CONNECTION_STATE_COMPLETED] = PIPELINE_ICE_COMPLETED,
        [GST_WEBRTC_ICE_CONNECTION_STATE_FAILED] = PIPELINE_ICE_FAILED,
        [GST_WEBRTC_ICE_CONNECTION_STATE_DISCONNECTED] = PIPELINE_ICE_DISCONNECTED,
        [GST_WEBRTC_ICE_CONNECTION_STATE_CLOSED] = PIPELINE_ICE_CLOSED,
    };
    GstWebRTCICEConnectionState state;
    g_object_get(obj, "ice-connection-state", &state, NULL);
    if ((size_t)state < G_N_ELEMENTS(map))
        pipeline_post(data, PIPELINE_EVENT_ICE_STATE, NULL, -1, (int)map[state]);
}

/* ---- bus (main loop) ---- */

static void pipeline_finished(struct pipeline *p)
{
    if (p->finished)
        return;
    p->finished = TRUE;
    if (p->finish_timer)
        g_source_remove(p->finish_timer);
    p->finish_timer = 0;
    pipeline_post(p, PIPELINE_EVENT_FINISHED, NULL, -1, 0);
}

static void pipeline_on_forwarded(struct pipeline *p, GstMessage *msg)
{
    const GstStructure *s = gst_message_get_structure(msg);
    GstMessage *inner = NULL;
    if (!s || !gst_structure_has_name(s, "GstBinForwarded"))
        return;
    gst_structure_get(s, "message", GST_TYPE_MESSAGE, &inner, NULL);
    if (!inner)
        return;
    if (GST_MESSAGE_TYPE(inner) == GST_MESSAGE_EOS && p->sink &&
        GST_MESSAGE_SRC(inner) == GST_OBJECT(p->sink)) {
        log_info("recording complete");
        pipeline_finished(p);
    }
    gst_message_unref(inner);
}

static void pipeline_on_error(struct pipeline *p, GstMessage *msg, int warning)
{
    GError *gerr = NULL;
    gchar *debug = NULL;
    if (warning)
        gst_message_parse_warning(msg, &gerr, &debug);
    else
        gst_message_parse_error(msg, &gerr, &debug);
    log_write(warning ? LOG_LEVEL_WARN : LOG_LEVEL_ERROR, "%s: %s (%s)",
              GST_OBJECT_NAME(GST_MESSAGE_SRC(msg)), gerr->message, debug ? debug : "");
    if (!warning && !p->finish_started)
        pipeline_post_error(p, "media pipeline error: %s", gerr->message);
    g_clear_error(&gerr);
    g_free(debug);
}

static gboolean pipeline_on_bus(GstBus *bus, GstMessage *msg, gpointer data)
{
    struct pipeline *p = data;
    switch (GST_MESSAGE_TYPE(msg)) {
    case GST_MESSAGE_ERROR:
        pipeline_on_error(p, msg, 0);
        break;
    case GST_MESSAGE_WARNING:
        pipeline_on_error(p, msg, 1);
        break;
    case GST_MESSAGE_ELEMENT:
        pipeline_on_forwarded(p, msg);
        break;
    default:
        break;
    }
    return G_SOURCE_CONTINUE;
}

/* ---- lifecycle ---- */

static void pipeline_configure_ice(struct pipeline *p)
{
    GstObject *ice = NULL;
    GObject *agent = NULL;
    g_object_get(p->webrtc, "ice-agent", &ice, NULL);
    if (!ice)
        return;
    if (g_object_class_find_property(G_OBJECT_GET_CLASS(ice), "agent"))
        g_object_get(ice, "agent", &agent, NULL);
    if (agent) {
        g_object_set(agent, "upnp", FALSE, NULL);
        g_object_unref(agent);
    } else {
        log_warn("no NiceAgent behind webrtcbin: UPnP stays on");
    }
    gst_object_unref(ice);
}

static void pipeline_connect_signals(struct pipeline *p)
{
    g_signal_connect(p->webrtc, "pad-added", G_CALLBACK(pipeline_on_pad_added), p);
    g_signal_connect(p->webrtc, "on-ice-candidate", G_CALLBACK(pipeline_on_ice_candidate), p);
    g_signal_connect(p->webrtc, "notify::ice-gathering-state",
                     G_CALLBACK(pipeline_on_gathering_state), p);
    g_signal_connect(p->webrtc, "notify::ice-connection-state",
                     G_CALLBACK(pipeline_on_connection_state), p);
}

struct pipeline *pipeline_new(const struct pipeline_callbacks *cb, void *user, char *err,
                              size_t errlen)
{
    struct pipeline *p = g_new0(struct pipeline, 1);
    p->cb = cb;
    p->user = user;
    g_mutex_init(&p->lock);
    g_queue_init(&p->pending);
    p->first_ts = p->last_ts = GST_CLOCK_TIME_NONE;
    p->pipe = gst_pipeline_new("session");
    p->webrtc = gst_element_factory_make("webrtcbin", "webrtc");
    if (!p->pipe || !p->webrtc) {
        snprintf(err, errlen, "cannot create webrtcbin");
        goto error;
    }
    g_object_set(p->pipe, "message-forward", TRUE, NULL);
    g_object_set(p->webrtc, "bundle-policy", GST_WEBRTC_BUNDLE_POLICY_MAX_BUNDLE, NULL);
    gst_bin_add(GST_BIN(p->pipe), p->webrtc);
    pipeline_configure_ice(p);
    pipeline_connect_signals(p);
    GstBus *bus = gst_pipeline_get_bus(GST_PIPELINE(p->pipe));
    p->bus_watch = gst_bus_add_watch(bus, pipeline_on_bus, p);
    gst_object_unref(bus);
    if (gst_element_set_state(p->pipe, GST_STATE_READY) == GST_STATE_CHANGE_FAILURE) {
        snprintf(err, errlen, "cannot bring webrtcbin to READY");
        goto error;
    }
    return p;
error:
    if (!p->pipe && p->webrtc)
        gst_object_unref(p->webrtc);
    pipeline_free(p);
    return NULL;
}

static int pipeline_add_addresses(struct pipeline *p, const struct pipeline_start_params *params,
                                  char *err, size_t errlen)
{
    GstObject *ice = NULL;
    int rc = 0;
    g_object_get(p->webrtc, "ice-agent", &ice, NULL);
    for (size_t i = 0; ice && i < params->n_ice_addresses && rc == 0; i++) {
        gboolean ok = FALSE;
        g_signal_emit_by_name(ice, "add-local-ip-address", params->ice_addresses[i], &ok);
        if (!ok) {
            snprintf(err, errlen, "invalid ICE address '%s'", params->ice_addresses[i]);
            rc = -1;
        }
    }
    if (ice)
        gst_object_unref(ice);
    return rc;
}

/*
 * What we accept on an m-line.
 *  - Accepting the offer's transport-wide-cc extension makes webrtcbin answer
 *    it and send TWCC feedback, without which a browser ramps its bitrate up
 *    from receiver reports alone, slowly: the first seconds of a recording
 *    would be blurred.
 *  - webrtcbin matches offer m-lines to transceivers by intersecting codecs,
 *    and accepts recvonly what matches none: an m-line we do not record gets
 *    an INACTIVE transceiver with its own first codec, so it is answered
 *    inactive.
 */
static GstCaps *pipeline_mline_caps(const struct pipeline_mline *m)
{
    if (m->codec) {
        GstCaps *caps = gst_caps_new_simple("application/x-rtp", "media", G_TYPE_STRING, m->media,
                                            "encoding-name", G_TYPE_STRING, m->codec->name,
                                            "clock-rate", G_TYPE_INT, m->codec->clock_rate, NULL);
        if (m->twcc_ext_id) {
            char field[16];
            snprintf(field, sizeof(field), "extmap-%d", m->twcc_ext_id);
            gst_caps_set_simple(caps, field, G_TYPE_STRING, PIPELINE_TWCC_URI, NULL);
        }
        return caps;
    }
    if (m->decline_caps)
        return gst_caps_ref(m->decline_caps);
    return gst_caps_new_simple("application/x-rtp", "media", G_TYPE_STRING, m->media, NULL);
}

static int pipeline_add_transceivers(struct pipeline *p, char *err, size_t errlen)
{
    for (guint i = 0; i < p->n_mlines; i++) {
        struct pipeline_mline *m = &p->mlines[i];
        GstWebRTCRTPTransceiver *trans = NULL;
        if (!m->media)
            continue;
        GstCaps *caps = pipeline_mline_caps(m);
        if (p->loopback && m->codec) {
            /* our send SSRC in the codec preferences: webrtcbin then answers
             * it (a=ssrc, msid), which the browser needs to tie the stream
             * to its track */
            do
                m->send_ssrc = g_random_int();
            while (m->send_ssrc == 0);
            gst_caps_set_simple(caps, "ssrc", G_TYPE_UINT, m->send_ssrc, NULL);
        }
        GstWebRTCRTPTransceiverDirection dir =
            !m->codec     ? GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_INACTIVE
            : p->loopback ? GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_SENDRECV
                          : GST_WEBRTC_RTP_TRANSCEIVER_DIRECTION_RECVONLY;
        g_signal_emit_by_name(p->webrtc, "add-transceiver", dir, caps, &trans);
        gst_caps_unref(caps);
        if (!trans) {
            snprintf(err, errlen, "cannot add a transceiver for m-line %u", i);
            return -1;
        }
        g_object_set(trans, "do-nack", TRUE, NULL);
        gst_object_unref(trans);
    }
    return 0;
}

static int pipeline_add_recording(struct pipeline *p, const char *location, char *err,
                                  size_t errlen)
{
    p->mux = gst_element_factory_make(p->matroska ? "matroskamux" : "webmmux", "mux");
    p->sink = gst_element_factory_make("filesink", "sink");
    if (!p->mux || !p->sink) {
        snprintf(err, errlen, "cannot create the muxer");
        return -1;
    }
    /* A cluster closes at least every few seconds even when the sender
     * sends keyframes rarely (aiortc: only when asked): only closed clusters
     * are final, so this bounds what an upload while recording (storage_s3.c)
     * leaves for the end of the session. */
    g_object_set(p->mux, "offset-to-zero", TRUE, "max-cluster-duration",
                 (gint64)PIPELINE_MAX_CLUSTER_NS, NULL);
    g_object_set(p->sink, "location", location, "sync", FALSE, "async", FALSE, NULL);
    gst_bin_add_many(GST_BIN(p->pipe), p->mux, p->sink, NULL);
    if (!gst_element_link(p->mux, p->sink)) {
        snprintf(err, errlen, "cannot link the muxer to the file");
        return -1;
    }
    for (guint i = 0; i < p->n_mlines; i++) {
        struct pipeline_mline *m = &p->mlines[i];
        if (!m->codec)
            continue;
        m->mux_pad = gst_element_request_pad_simple(p->mux, strcmp(m->media, "video") == 0
                                                                ? "video_%u"
                                                                : "audio_%u");
        if (!m->mux_pad) {
            snprintf(err, errlen, "the muxer refused a %s track", m->codec->name);
            return -1;
        }
        gst_pad_add_probe(m->mux_pad, GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST,
                          pipeline_on_mux_data, m, NULL);
    }
    GstPad *sinkpad = gst_element_get_static_pad(p->sink, "sink");
    gst_pad_add_probe(sinkpad,
                      GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_BUFFER_LIST |
                          GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM,
                      pipeline_on_sink_item, p, NULL);
    gst_object_unref(sinkpad);
    return 0;
}

int pipeline_start(struct pipeline *p, const struct pipeline_start_params *params, char *err,
                   size_t errlen)
{
    p->loopback = params->loopback != 0;
    if (pipeline_add_addresses(p, params, err, errlen) != 0 ||
        pipeline_add_transceivers(p, err, errlen) != 0 ||
        pipeline_add_recording(p, params->location, err, errlen) != 0)
        return -1;
    if (gst_element_set_state(p->pipe, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
        snprintf(err, errlen, "cannot start the pipeline (spool file %s)", params->location);
        return -1;
    }
    p->playing = TRUE;
    GstWebRTCSessionDescription *offer =
        gst_webrtc_session_description_new(GST_WEBRTC_SDP_TYPE_OFFER, p->offer);
    p->offer = NULL;
    GstPromise *promise = gst_promise_new_with_change_func(pipeline_on_remote_set, p, NULL);
    g_signal_emit_by_name(p->webrtc, "set-remote-description", offer, promise);
    gst_webrtc_session_description_free(offer);
    return 0;
}

static int pipeline_mline_for_mid(struct pipeline *p, const char *mid)
{
    for (guint i = 0; mid && i < p->n_mlines; i++)
        if (g_strcmp0(p->mlines[i].offer_mid, mid) == 0)
            return (int)i;
    return -1;
}

int pipeline_add_candidate(struct pipeline *p, const struct ice_candidate *c, char *err,
                           size_t errlen)
{
    int mline = c->sdp_mline_index >= 0 ? c->sdp_mline_index : pipeline_mline_for_mid(p, c->sdp_mid);
    if (mline < 0 || (guint)mline >= p->n_mlines) {
        snprintf(err, errlen, "candidate for an unknown media section (sdpMid %s)",
                 c->sdp_mid ? c->sdp_mid : "none");
        return -1;
    }
    g_mutex_lock(&p->lock);
    gboolean now = p->remote_set;
    if (!now) {
        struct pipeline_candidate *pc = g_new0(struct pipeline_candidate, 1);
        pc->candidate = g_strdup(c->candidate);
        pc->mline = mline;
        g_queue_push_tail(&p->pending, pc);
    }
    g_mutex_unlock(&p->lock);
    if (now)
        pipeline_emit_candidate(p, mline, c->candidate);
    return 0;
}

/* ---- finishing ---- */

static void pipeline_end_track(GstPad *mux_pad)
{
    GstSegment segment;
    gst_segment_init(&segment, GST_FORMAT_TIME);
    gst_pad_send_event(mux_pad, gst_event_new_stream_start("webrtc-video-empty"));
    gst_pad_send_event(mux_pad, gst_event_new_segment(&segment));
    gst_pad_send_event(mux_pad, gst_event_new_eos());
}

/* End every track (`all`, finishing) or those that had no media so far:
 * EOS into a track's branch, or straight to its muxer pad when it has none
 * (returned, to be sent outside the lock). */
static GPtrArray *pipeline_collect_ends(struct pipeline *p, gboolean all)
{
    GPtrArray *pads = g_ptr_array_new_with_free_func(gst_object_unref);
    g_mutex_lock(&p->lock);
    for (guint i = 0; i < p->n_mlines; i++) {
        struct pipeline_mline *m = &p->mlines[i];
        if (!m->mux_pad || m->ended || (!all && m->got_data))
            continue;
        if (!m->got_data)
            log_info("m-line %u: no %s media, ending the track", i, m->media);
        m->ended = TRUE;
        atomic_store(&m->dropping, 1);
        if (m->head)
            gst_element_call_async(m->head, pipeline_send_eos, NULL, NULL);
        else
            g_ptr_array_add(pads, gst_object_ref(m->mux_pad));
    }
    g_mutex_unlock(&p->lock);
    return pads;
}

static void pipeline_end_tracks(struct pipeline *p, gboolean all)
{
    GPtrArray *pads = pipeline_collect_ends(p, all);
    for (guint i = 0; i < pads->len; i++)
        pipeline_end_track(g_ptr_array_index(pads, i));
    g_ptr_array_unref(pads);
}

void pipeline_end_silent_tracks(struct pipeline *p)
{
    if (p->mux && !p->finish_started)
        pipeline_end_tracks(p, FALSE);
}

static gboolean pipeline_on_finish_timeout(gpointer data)
{
    struct pipeline *p = data;
    p->finish_timer = 0;
    log_warn("the recording did not finish in time; closing it as it is");
    pipeline_finished(p);
    return G_SOURCE_REMOVE;
}

void pipeline_finish(struct pipeline *p, unsigned timeout_ms)
{
    if (p->finish_started)
        return;
    p->finish_started = TRUE;
    if (!p->playing) {
        pipeline_finished(p);
        return;
    }
    pipeline_end_tracks(p, TRUE);
    p->finish_timer = g_timeout_add(timeout_ms, pipeline_on_finish_timeout, p);
}

/* Loopback makes webrtcbin both the start and the end of a branch.  Before
 * the pipeline's state change, stop the loopback queue's thread while
 * webrtcbin still plays (so that its push returns: caught in a sink that
 * went to PAUSED it would wait for preroll, holding the stream lock the
 * state change needs, a deadlock), then unlink the branch (or the bin warns
 * that its graph loops). */
static void pipeline_unlink_loopback(struct pipeline *p)
{
    for (guint i = 0; i < p->n_mlines; i++) {
        struct pipeline_mline *m = &p->mlines[i];
        g_mutex_lock(&p->lock); /* pad-added may be linking it */
        GstElement *queue = m->loop_queue ? gst_object_ref(m->loop_queue) : NULL;
        GstPad *send = m->send_pad ? gst_object_ref(m->send_pad) : NULL;
        g_mutex_unlock(&p->lock);
        if (queue) {
            gst_element_set_state(queue, GST_STATE_NULL);
            gst_object_unref(queue);
        }
        GstPad *peer = send ? gst_pad_get_peer(send) : NULL;
        if (peer) {
            gst_pad_unlink(peer, send);
            gst_object_unref(peer);
        }
        if (send)
            gst_object_unref(send);
    }
}

void pipeline_stop(struct pipeline *p)
{
    if (p->bus_watch)
        g_source_remove(p->bus_watch);
    p->bus_watch = 0;
    if (p->finish_timer)
        g_source_remove(p->finish_timer);
    p->finish_timer = 0;
    pipeline_unlink_loopback(p);
    if (p->pipe)
        gst_element_set_state(p->pipe, GST_STATE_NULL);
}

void pipeline_free(struct pipeline *p)
{
    struct pipeline_candidate *c;
    if (!p)
        return;
    pipeline_stop(p);
    for (guint i = 0; i < PIPELINE_MAX_MLINES; i++) {
        g_free(p->mlines[i].offer_mid);
        g_free(p->mlines[i].answer_mid);
        if (p->mlines[i].mux_pad)
            gst_object_unref(p->mlines[i].mux_pad);
        if (p->mlines[i].send_pad)
            gst_object_unref(p->mlines[i].send_pad);
        if (p->mlines[i].decline_caps)
            gst_caps_unref(p->mlines[i].decline_caps);
    }
    while ((c = g_queue_pop_head(&p->pending))) {
        g_free(c->candidate);
        g_free(c);
    }
    if (p->offer)
        gst_sdp_message_free(p->offer);
    if (p->pipe)
        gst_object_unref(p->pipe);
    g_mutex_clear(&p->lock);
    g_free(p);
}

int pipeline_has_media(const struct pipeline *p)
{
    return atomic_load(&((struct pipeline *)p)->media_seen);
}

long long pipeline_bytes(const struct pipeline *p)
{
    return atomic_load(&((struct pipeline *)p)->bytes);
}

long long pipeline_idle_ms(const struct pipeline *p)
{
    long long last = atomic_load(&((struct pipeline *)p)->last_rx_us);
    return last ? (g_get_monotonic_time() - last) / 1000 : 0;
}

long long pipeline_duration_ms(const struct pipeline *p)
{
    struct pipeline *mp = (struct pipeline *)p;
    long long ms = 0;
    g_mutex_lock(&mp->lock);
    if (GST_CLOCK_TIME_IS_VALID(mp->first_ts) && GST_CLOCK_TIME_IS_VALID(mp->last_ts))
        ms = (long long)((mp->last_ts - mp->first_ts) / GST_MSECOND);
    g_mutex_unlock(&mp->lock);
    return ms;
}
