/*
 * master/workspaces.c - workspaces at /workspaces (seed 004; see workspaces.h).
 *
 * A websocket at /workspaces is a `wsconn`; once it creates, attends or
 * re-attends it is bound to one `attendee` of one `workspace`
 * (workspaces_store.h).  Every event but create carries a token; it is
 * verified (signature, algorithm, expiry) before anything else, and for a
 * bound connection it must name that connection's workspace and attendee.
 * Any failure is answered with an `alert` and nothing else happens.
 *
 *   owner                          this file                    attendee
 *   create{name,pin,host}   ->     new workspace, owner bound
 *                           <-     create + owner token, access token
 *                           <-     attend{attendee,name[,ring]}  <- attend(access token, pin, name)
 *                                  (ring: a call is on: ring the newcomer)  -> attend + own token
 *   ring{to,offer}          ->     to `to` only                  -> ring{from,offer}
 *                           <-     answer{from,answer}           <- answer / busy
 *   hangup[{to}]            ->     to `to`, or every attendee    -> hangup{from}
 *   icecandidate, negotiation{to}: between any two attendees, relayed with `from`
 *   destroy                 ->     everyone: destroy notice, then closed; records deleted
 *   leave (anyone)                 the attendee's record deleted; the workspace stays
 *   socket dropped                 the record stays: re-attend with the token restores it
 *   (a workspace nobody is in and no token of which is still valid is deleted)
 *
 * Limits, beyond sigconn.h's rate, size, queue and count: max-capacity
 * attendees per workspace (one more is alerted and closed); PIN guesses (a
 * connection is closed after WS_WRONG_PINS_PER_CONN wrong PINs, and a
 * workspace accepts WS_PIN_BURST wrong PINs, then one per WS_PIN_REFILL_S
 * seconds); the PBKDF2 work the core thread does for PINs (WS_KDF_RATE a
 * second over all connections), so that PIN guessing can neither succeed
 * fast nor stall the event loop.
 */
#include "workspaces.h"

#include <event2/event.h>
#include <glib.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core.h"
#include "jwt.h"
#include "log.h"
#include "random.h"
#include "secret.h"
#include "sigconn.h"
#include "workspaces_msg.h"
#include "workspaces_store.h"

#define WS_MAX_WORKSPACES 10000
#define WS_CREATES_PER_CONN 5 /* a client creates one; a loop of create+leave is refused */
#define WS_ATTENDEE_ID_BYTES 8 /* 16 hex characters */
#define WS_WRONG_PINS_PER_CONN 3
#define WS_PIN_BURST 5.0
#define WS_PIN_REFILL_S 12.0
#define WS_KDF_RATE 10.0
#define WS_KDF_BURST 20.0
#define WS_SAVE_DELAY_US 200000 /* changes within 0.2 s are written together */
#define WS_SWEEP_S 60           /* how often expired workspaces are looked for */
#define WS_DEFAULT_WORKSPACE "Anonymous Workspace" /* seed 004's untitled_workspace */
#define WS_DEFAULT_ATTENDEE "Anonymous"            /* seed 004's anonymous_attendee */

struct wsconn {
    struct workspaces *wss;
    struct sigconn sc;
    uint64_t conn_id;
    struct workspace *w; /* bound: w and a, or neither */
    struct attendee *a;
    int wrong_pins;
    int creates;
};

struct workspaces {
    struct core *core;
    GHashTable *by_id; /* workspace id -> struct workspace (owned) */
    double kdf_tokens, kdf_last;
    struct event *save_timer;
    struct event *sweep_timer;
    int dirty;
};

/* ---- helpers ------------------------------------------------------------- */

static void ws_send(struct wsconn *c, char *text)
{
    core_ws_send(c->wss->core, c->conn_id, text);
}

static void ws_alert(struct wsconn *c, const char *event, const char *message)
{
    ws_send(c, workspaces_msg_alert(event, "%s", message));
}

/* A token bucket: 0 and one token taken, or -1 if empty (take = 0: just look). */
static int ws_bucket(double *tokens, double *last, double rate, double burst, int take)
{
    double now = core_now();
    *tokens = *last == 0 ? burst : *tokens + (now - *last) * rate;
    if (*tokens > burst)
        *tokens = burst;
    *last = now;
    if (*tokens < 1.0)
        return -1;
    if (take)
        *tokens -= 1.0;
    return 0;
}

static void ws_changed(struct workspaces *wss);

/* A client's name, or seed 004's default for none. */
static const char *ws_name_or(const char *name, const char *dflt)
{
    return name && *name ? name : dflt;
}

static int64_t ws_time(void)
{
    return (int64_t)time(NULL);
}

static const char *ws_secret(const struct workspaces *wss)
{
    return wss->core->cfg->workspaces_secret;
}

/* A token for `a` (NULL: the access token); the workspace is active until it expires. */
static char *ws_token(struct workspaces *wss, struct workspace *w, const struct attendee *a,
                      enum jwt_role role)
{
    struct jwt_claims c = {.role = role, .iat = ws_time()};
    if (w->active != c.iat) {
        w->active = c.iat;
        ws_changed(wss);
    }
    const char *key = ws_secret(wss);
    c.exp = c.iat + wss->core->cfg->workspaces_token_ttl_s;
    g_strlcpy(c.workspace, w->id, sizeof(c.workspace));
    g_strlcpy(c.attendee, a ? a->id : "", sizeof(c.attendee));
    return jwt_sign(&c, key, strlen(key));
}

/* A new workspace id: id-length characters of [A-Za-z0-9] from the CSPRNG. */
static int ws_new_id(char *out, size_t len)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    size_t n = 0;
    unsigned char buf[64];

    while (n < len) {
        if (RAND_bytes(buf, sizeof(buf)) != 1)
            return -1;
        for (size_t i = 0; i < sizeof(buf) && n < len; i++)
            if (buf[i] < 248) /* 4 * 62: no modulo bias */
                out[n++] = alphabet[buf[i] % 62];
    }
    out[n] = '\0';
    return 0;
}

/* ---- persistence ------------------------------------------------------------ */

static void ws_save_now(struct workspaces *wss)
{
    const char *path = wss->core->cfg->workspaces_storage_file;
    char err[512];

    wss->dirty = 0;
    if (path && workspaces_store_save(path, wss->by_id, err, sizeof(err)) != 0)
        log_error("workspaces: %s", err);
}

static void ws_on_save(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    ws_save_now(arg);
}

/* Something stored changed: write the file soon (changes coalesce). */
static void ws_changed(struct workspaces *wss)
{
    struct timeval tv = {0, WS_SAVE_DELAY_US};
    if (!wss->core->cfg->workspaces_storage_file || wss->dirty)
        return;
    wss->dirty = 1;
    if (!wss->save_timer || evtimer_add(wss->save_timer, &tv) != 0)
        ws_save_now(wss);
}

/* A workspace nobody is in and for which every token has expired can never
 * be entered again: it is deleted (at start-up and every WS_SWEEP_S). */
static void ws_sweep(struct workspaces *wss)
{
    GHashTableIter it;
    gpointer value;
    int64_t now = ws_time();
    int64_t ttl = wss->core->cfg->workspaces_token_ttl_s;

    g_hash_table_iter_init(&it, wss->by_id);
    while (g_hash_table_iter_next(&it, NULL, &value)) {
        struct workspace *w = value;
        int connected = 0;
        for (guint i = 0; i < w->attendees->len && !connected; i++)
            connected = ((struct attendee *)g_ptr_array_index(w->attendees, i))->conn != NULL;
        if (connected || now < w->active + ttl)
            continue;
        log_info("workspaces: %s expired (no valid token left)", w->id);
        g_hash_table_iter_remove(&it);
        ws_changed(wss);
    }
}

static void ws_on_sweep(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    ws_sweep(arg);
}

/* ---- binding, notices ------------------------------------------------------- */

static void ws_bind(struct wsconn *c, struct workspace *w, struct attendee *a)
{
    c->w = w;
    c->a = a;
    a->conn = c;
}

static void ws_unbind(struct wsconn *c)
{
    if (c->a) {
        c->a->conn = NULL;
        c->a->in_call = 0;
    }
    c->w = NULL;
    c->a = NULL;
}

static int ws_call_on(const struct workspace *w)
{
    for (guint i = 0; i < w->attendees->len; i++)
        if (((struct attendee *)g_ptr_array_index(w->attendees, i))->in_call)
            return 1;
    return 0;
}

static struct attendee *ws_owner(const struct workspace *w)
{
    for (guint i = 0; i < w->attendees->len; i++) {
        struct attendee *a = g_ptr_array_index(w->attendees, i);
        if (a->owner)
            return a;
    }
    return NULL;
}

/* `event` {workspace, attendee, name} to every other connected attendee;
 * the owner's copy says "ring": true when a call is on. */
static void ws_notify(struct workspace *w, const struct attendee *about, const char *event,
                      int ring_owner)
{
    for (guint i = 0; i < w->attendees->len; i++) {
        struct attendee *a = g_ptr_array_index(w->attendees, i);
        if (a == about || !a->conn)
            continue;
        json_t *d = json_pack("{s:s, s:s, s:s}", "workspace", w->id, "attendee", about->id,
                              "name", about->name);
        if (d && a->owner && ring_owner)
            json_object_set_new(d, "ring", json_true());
        ws_send(a->conn, workspaces_msg_build(event, NULL, d));
    }
}

/* What an attendee learns on attend/re-attend: the workspace and who is in it. */
static json_t *ws_welcome(const struct workspace *w, const struct attendee *me)
{
    json_t *list = json_array();
    for (guint i = 0; i < w->attendees->len; i++) {
        struct attendee *a = g_ptr_array_index(w->attendees, i);
        json_array_append_new(list, json_pack("{s:s, s:s, s:b, s:b}", "attendee", a->id, "name",
                                              a->name, "owner", a->owner, "connected",
                                              a->conn != NULL));
    }
    return json_pack("{s:s, s:s, s:s, s:s, s:b, s:b, s:o}", "workspace", w->id, "workspace_name",
                     w->name, "attendee", me->id, "name", me->name, "owner", me->owner, "call",
                     ws_call_on(w), "attendees", list);
}

static void ws_remove_attendee(struct workspace *w, struct attendee *a)
{
    if (a->conn)
        ws_unbind(a->conn);
    g_ptr_array_remove(w->attendees, a);
    g_free(a->name);
    g_free(a);
}

/* ---- life cycle: create, attend, re-attend, leave, destroy -------------------- */

/* PBKDF2 runs on the core thread: bounded over every connection. */
static int ws_kdf_allowed(struct wsconn *c, const char *event)
{
    struct workspaces *wss = c->wss;
    if (ws_bucket(&wss->kdf_tokens, &wss->kdf_last, WS_KDF_RATE, WS_KDF_BURST, 1) == 0)
        return 1;
    ws_alert(c, event, "the server is busy checking PINs; try again in a second");
    return 0;
}

static void ws_on_create(struct wsconn *c, const struct workspaces_msg *m)
{
    struct workspaces *wss = c->wss;
    char id[JWT_MAX_ID + 1], aid[2 * WS_ATTENDEE_ID_BYTES + 1];
    char *pin_hash = NULL, *owner_token = NULL, *share_token = NULL;

    if (g_hash_table_size(wss->by_id) >= WS_MAX_WORKSPACES) {
        ws_alert(c, "create", "too many workspaces on this server");
        return;
    }
    if (c->creates >= WS_CREATES_PER_CONN) {
        ws_alert(c, "create", "this connection has created enough workspaces");
        return;
    }
    if (m->pin && !ws_kdf_allowed(c, "create"))
        return;
    if (m->pin && !(pin_hash = secret_hash_password(
                         m->pin, (unsigned)wss->core->cfg->workspaces_pin_iterations)))
        goto error;
    do {
        if (ws_new_id(id, (size_t)wss->core->cfg->workspaces_id_length) != 0)
            goto error;
    } while (g_hash_table_contains(wss->by_id, id));
    if (random_hex(aid, WS_ATTENDEE_ID_BYTES) != 0)
        goto error;
    struct workspace *w =
        workspace_new(id, ws_name_or(m->name, WS_DEFAULT_WORKSPACE), pin_hash, ws_time());
    struct attendee *a = workspace_add(w, aid, ws_name_or(m->host, WS_DEFAULT_ATTENDEE), 1);
    owner_token = ws_token(wss, w, a, JWT_ROLE_OWNER);
    share_token = ws_token(wss, w, NULL, JWT_ROLE_SHARE);
    if (!owner_token || !share_token) {
        workspace_free(w);
        goto error;
    }
    g_hash_table_insert(wss->by_id, w->id, w);
    c->creates++;
    ws_bind(c, w, a);
    json_t *d = ws_welcome(w, a);
    json_object_set_new(d, "access", json_string(share_token));
    json_object_set_new(d, "pin", json_boolean(pin_hash != NULL));
    ws_send(c, workspaces_msg_build("create", owner_token, d));
    log_info("workspaces: %s created%s", w->id, pin_hash ? " (with a PIN)" : "");
    ws_changed(wss);
    goto out;
error:
    ws_alert(c, "create", "internal error: cannot create a workspace");
out:
    free(pin_hash);
    free(owner_token);
    free(share_token);
}

/* 1 if the PIN (if any) is right; else alerted (and maybe closed). */
static int ws_check_pin(struct wsconn *c, struct workspace *w, const char *pin)
{
    if (!w->pin_hash)
        return 1;
    if (!pin) {
        ws_alert(c, "attend", "this workspace needs a PIN");
        return 0;
    }
    if (ws_bucket(&w->pin_tokens, &w->pin_last, 1.0 / WS_PIN_REFILL_S, WS_PIN_BURST, 0) != 0) {
        ws_alert(c, "attend", "too many wrong PINs for this workspace; try again in a minute");
        return 0;
    }
    if (!ws_kdf_allowed(c, "attend"))
        return 0;
    int ok = secret_verify_password(pin, w->pin_hash);
    if (ok == 1)
        return 1;
    if (ok < 0) {
        ws_alert(c, "attend", "internal error: cannot check the PIN");
        return 0;
    }
    ws_bucket(&w->pin_tokens, &w->pin_last, 1.0 / WS_PIN_REFILL_S, WS_PIN_BURST, 1);
    log_info("workspaces: wrong PIN for %s from connection %llu", w->id,
             (unsigned long long)c->conn_id);
    if (++c->wrong_pins >= WS_WRONG_PINS_PER_CONN) {
        ws_alert(c, "attend", "wrong PIN; too many wrong PINs, closing");
        core_ws_close(c->wss->core, c->conn_id, "too many wrong PINs");
    } else {
        ws_alert(c, "attend", "wrong PIN");
    }
    return 0;
}

static int ws_has_room(struct wsconn *c, struct workspace *w, const char *event)
{
    if (w->attendees->len < (guint)c->wss->core->cfg->workspaces_max_capacity)
        return 1;
    ws_alert(c, event, "this workspace is full");
    core_ws_close(c->wss->core, c->conn_id, "workspace full");
    log_info("workspaces: %s is full (%u); connection %llu closed", w->id, w->attendees->len,
             (unsigned long long)c->conn_id);
    return 0;
}

static void ws_on_attend(struct wsconn *c, const struct workspaces_msg *m,
                         const struct jwt_claims *tok, struct workspace *w)
{
    char aid[2 * WS_ATTENDEE_ID_BYTES + 1];

    if (tok->role != JWT_ROLE_SHARE) {
        ws_alert(c, "attend", "attend takes the workspace's access token (re-attend takes yours)");
        return;
    }
    if (!ws_has_room(c, w, "attend") || !ws_check_pin(c, w, m->pin))
        return;
    do {
        if (random_hex(aid, WS_ATTENDEE_ID_BYTES) != 0) {
            ws_alert(c, "attend", "internal error");
            return;
        }
    } while (workspace_find(w, aid));
    struct attendee *a = workspace_add(w, aid, ws_name_or(m->name, WS_DEFAULT_ATTENDEE), 0);
    char *token = ws_token(c->wss, w, a, JWT_ROLE_ATTENDEE);
    ws_bind(c, w, a);
    ws_send(c, workspaces_msg_build("attend", token, ws_welcome(w, a)));
    free(token);
    ws_notify(w, a, "attend", ws_call_on(w));
    log_info("workspaces: %s attended %s (%u in it)", a->id, w->id, w->attendees->len);
    ws_changed(c->wss);
}

static void ws_on_reattend(struct wsconn *c, const struct jwt_claims *tok, struct workspace *w)
{
    struct attendee *a = workspace_find(w, tok->attendee);

    if (tok->role == JWT_ROLE_SHARE) {
        ws_alert(c, "re-attend", "re-attend takes your own token (attend takes the access token)");
        return;
    }
    if (!a && tok->role == JWT_ROLE_OWNER) { /* the owner left and comes back */
        if (!ws_has_room(c, w, "re-attend"))
            return;
        a = workspace_add(w, tok->attendee, WS_DEFAULT_ATTENDEE, 1);
        ws_changed(c->wss);
    }
    if (!a) {
        ws_alert(c, "re-attend", "you are no longer in this workspace");
        return;
    }
    if (a->conn) { /* the old connection is stale: this one takes over */
        struct wsconn *old = a->conn;
        ws_alert(old, "re-attend", "re-attended from another connection; closing this one");
        ws_unbind(old);
        core_ws_close(c->wss->core, old->conn_id, "re-attended elsewhere");
    }
    char *token = ws_token(c->wss, w, a, tok->role);
    ws_bind(c, w, a);
    json_t *d = ws_welcome(w, a);
    if (a->owner) { /* a fresh access token to share: the old one may be near its expiry */
        char *share = ws_token(c->wss, w, NULL, JWT_ROLE_SHARE);
        json_object_set_new(d, "access", json_string(share ? share : ""));
        free(share);
    }
    ws_send(c, workspaces_msg_build("re-attend", token, d));
    free(token);
    ws_notify(w, a, "re-attend", a->owner ? 0 : ws_call_on(w));
    log_info("workspaces: %s re-attended %s", a->id, w->id);
}

static void ws_on_leave(struct wsconn *c)
{
    struct workspace *w = c->w;
    struct attendee *a = c->a;

    ws_notify(w, a, "leave", 0);
    ws_send(c, workspaces_msg_build("leave", NULL, json_pack("{s:s, s:s}", "workspace", w->id,
                                                             "attendee", a->id)));
    log_info("workspaces: %s left %s (%u left)", a->id, w->id, w->attendees->len - 1);
    ws_remove_attendee(w, a);
    ws_changed(c->wss);
}

static void ws_on_destroy(struct wsconn *c)
{
    struct workspace *w = c->w;

    for (guint i = 0; i < w->attendees->len; i++) {
        struct attendee *a = g_ptr_array_index(w->attendees, i);
        struct wsconn *to = a->conn;
        if (!to)
            continue;
        ws_send(to, workspaces_msg_build("destroy", NULL,
                                         json_pack("{s:s, s:s}", "workspace", w->id, "message",
                                                   "the owner destroyed this workspace")));
        ws_unbind(to);
        core_ws_close(c->wss->core, to->conn_id, "workspace destroyed");
    }
    log_info("workspaces: %s destroyed", w->id);
    g_hash_table_remove(c->wss->by_id, w->id);
    ws_changed(c->wss);
}

/* ---- calls and WebRTC: ring, answer, busy, hangup, icecandidate, negotiation ---- */

/* The connected attendee `to`, other than the sender; or alerted. */
static struct attendee *ws_target(struct wsconn *c, const struct workspaces_msg *m, const char *to)
{
    struct attendee *t = to ? workspace_find(c->w, to) : NULL;
    const char *ev = workspaces_event_name(m->event);
    char msg[160];

    if (!t || t == c->a) {
        snprintf(msg, sizeof(msg), "no attendee '%.64s' to send to in this workspace",
                 to ? to : "(owner)");
        ws_alert(c, ev, msg);
        return NULL;
    }
    if (!t->conn) {
        snprintf(msg, sizeof(msg), "attendee %s is not connected", t->id);
        ws_alert(c, ev, msg);
        return NULL;
    }
    return t;
}

static int ws_owner_only(struct wsconn *c, const struct workspaces_msg *m, int owner)
{
    if (c->a->owner == owner)
        return 1;
    ws_alert(c, workspaces_event_name(m->event),
             owner ? "only the workspace's owner may do that"
                   : "the owner rings, and the others answer");
    return 0;
}

static void ws_forward(struct wsconn *c, const struct workspaces_msg *m, struct attendee *t)
{
    ws_send(t->conn, workspaces_msg_forward(m, c->a->id));
}

static void ws_on_hangup(struct wsconn *c, const struct workspaces_msg *m)
{
    if (m->to) {
        struct attendee *t = ws_target(c, m, m->to);
        if (t) {
            t->in_call = 0;
            ws_forward(c, m, t);
        }
        return;
    }
    for (guint i = 0; i < c->w->attendees->len; i++) {
        struct attendee *t = g_ptr_array_index(c->w->attendees, i);
        t->in_call = 0;
        if (t != c->a && t->conn)
            ws_forward(c, m, t);
    }
}

static void ws_on_call(struct wsconn *c, const struct workspaces_msg *m)
{
    struct attendee *t;
    struct attendee *owner = ws_owner(c->w);

    switch (m->event) {
    case WSE_RING:
        if (ws_owner_only(c, m, 1) && (t = ws_target(c, m, m->to)))
            ws_forward(c, m, t);
        break;
    case WSE_ANSWER:
    case WSE_BUSY:
        if (!ws_owner_only(c, m, 0) || !(t = ws_target(c, m, owner ? owner->id : NULL)))
            break;
        c->a->in_call = m->event == WSE_ANSWER;
        ws_forward(c, m, t);
        break;
    case WSE_HANGUP:
        if (ws_owner_only(c, m, 1))
            ws_on_hangup(c, m);
        break;
    default: /* icecandidate, negotiation: any two attendees */
        if ((t = ws_target(c, m, m->to)))
            ws_forward(c, m, t);
        break;
    }
}

static void ws_on_iceservers(struct wsconn *c)
{
    const struct config *cfg = c->wss->core->cfg;
    int turn = !cfg->workspaces_development && cfg->turn_uris;
    json_t *d = workspaces_msg_iceservers(
        cfg->stun_uris, cfg->stun_uris ? g_strv_length(cfg->stun_uris) : 0,
        turn ? cfg->turn_uris : NULL, turn ? g_strv_length(cfg->turn_uris) : 0,
        turn ? cfg->turn_secret : NULL, cfg->turn_ttl_s, c->a->id, ws_time());
    ws_send(c, workspaces_msg_build("iceservers", NULL, d));
}

/* ---- dispatch -------------------------------------------------------------- */

/* The token, verified, and its workspace; or alerted. */
static struct workspace *ws_authenticate(struct wsconn *c, const struct workspaces_msg *m,
                                         struct jwt_claims *tok)
{
    const char *ev = workspaces_event_name(m->event);
    const char *key = ws_secret(c->wss);
    char err[256];

    if (jwt_verify(m->token, key, strlen(key), ws_time(), tok, err, sizeof(err)) != 0) {
        ws_alert(c, ev, err);
        return NULL;
    }
    struct workspace *w = g_hash_table_lookup(c->wss->by_id, tok->workspace);
    if (!w) {
        ws_alert(c, ev, "unknown workspace (destroyed?)");
        return NULL;
    }
    if (m->event == WSE_ATTEND || m->event == WSE_REATTEND) {
        if (c->a) {
            ws_alert(c, ev, "this connection already attends a workspace; leave it first");
            return NULL;
        }
        return w;
    }
    if (!c->a) {
        ws_alert(c, ev, "attend (or re-attend) first");
        return NULL;
    }
    if (w != c->w || strcmp(tok->attendee, c->a->id) != 0) {
        ws_alert(c, ev, "this token is not this connection's");
        return NULL;
    }
    return w;
}

static void ws_dispatch(struct wsconn *c, const struct workspaces_msg *m)
{
    struct jwt_claims tok;
    struct workspace *w;

    if (!ws_secret(c->wss)) { /* the secret was removed by a reload */
        ws_alert(c, workspaces_event_name(m->event), "workspaces are disabled on this server");
        return;
    }
    if (m->event == WSE_CREATE) {
        if (c->a)
            ws_alert(c, "create", "this connection already attends a workspace; leave it first");
        else
            ws_on_create(c, m);
        return;
    }
    if (!(w = ws_authenticate(c, m, &tok)))
        return;
    switch (m->event) {
    case WSE_ATTEND:
        ws_on_attend(c, m, &tok, w);
        break;
    case WSE_REATTEND:
        ws_on_reattend(c, &tok, w);
        break;
    case WSE_LEAVE:
        ws_on_leave(c);
        break;
    case WSE_DESTROY:
        if (ws_owner_only(c, m, 1))
            ws_on_destroy(c);
        break;
    case WSE_ICESERVERS:
        ws_on_iceservers(c);
        break;
    default:
        ws_on_call(c, m);
        break;
    }
}

static void workspaces_text(void *conn, const char *text, size_t len)
{
    struct wsconn *c = conn;
    struct workspaces_msg m;
    char err[512];
    int refuse;

    if (sigconn_charge(&c->sc, &refuse) != 0) {
        if (refuse) {
            ws_alert(c, NULL, "rate limit exceeded; closing");
            sigconn_kick(&c->sc);
        }
        return;
    }
    if (workspaces_msg_parse(text, len, &m, err, sizeof(err)) != 0) {
        ws_alert(c, (int)m.event >= 0 ? workspaces_event_name(m.event) : NULL, err);
        return;
    }
    ws_dispatch(c, &m);
    workspaces_msg_clear(&m);
}

static void *workspaces_open(struct core *core, uint64_t conn_id, const char *peer,
                             const char *host)
{
    (void)host;
    if (!core->cfg->workspaces_secret) {
        log_info("workspaces: connection from %s refused: no [workspaces] secret configured",
                 peer);
        return NULL;
    }
    struct wsconn *c = g_new0(struct wsconn, 1);
    if (sigconn_open(&c->sc, core, conn_id, "workspaces") != 0) {
        g_free(c);
        return NULL;
    }
    c->wss = core->workspaces;
    c->conn_id = conn_id;
    log_debug("workspaces: connection %llu from %s", (unsigned long long)conn_id, peer);
    return c;
}

/* A dropped connection keeps its attendee: re-attend restores it. */
static void workspaces_close(void *conn)
{
    struct wsconn *c = conn;
    ws_unbind(c);
    sigconn_close(&c->sc);
    g_free(c);
}

const struct service workspaces_service = {
    .path = "/workspaces",
    .max_message = SIGCONN_MAX_MESSAGE,
    .max_queued = SIGCONN_MAX_QUEUED,
    .open = workspaces_open,
    .text = workspaces_text,
    .close = workspaces_close,
};

void workspaces_counts(const struct workspaces *wss, size_t *n_workspaces, size_t *n_attendees)
{
    GHashTableIter it;
    gpointer value;

    *n_workspaces = g_hash_table_size(wss->by_id);
    *n_attendees = 0;
    g_hash_table_iter_init(&it, wss->by_id);
    while (g_hash_table_iter_next(&it, NULL, &value))
        *n_attendees += ((struct workspace *)value)->attendees->len;
}

struct workspaces *workspaces_new(struct core *core)
{
    struct workspaces *wss = g_new0(struct workspaces, 1);
    const char *path = core->cfg->workspaces_storage_file;
    struct timeval sweep = {WS_SWEEP_S, 0};
    char err[512];

    wss->core = core;
    wss->by_id = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, workspace_free);
    wss->save_timer = evtimer_new(core->base, ws_on_save, wss);
    wss->sweep_timer = event_new(core->base, -1, EV_PERSIST, ws_on_sweep, wss);
    if (path && workspaces_store_load(path, wss->by_id, err, sizeof(err)) != 0) {
        log_error("%s", err);
        workspaces_free(wss); /* nothing is dirty: the file is left as it is */
        return NULL;
    }
    ws_sweep(wss);
    if (wss->sweep_timer)
        evtimer_add(wss->sweep_timer, &sweep);
    /* Write it back at once: a file we could not save to later is a
     * start-up error now, not a lost change then. */
    if (path && workspaces_store_save(path, wss->by_id, err, sizeof(err)) != 0) {
        log_error("workspaces: %s", err);
        workspaces_free(wss);
        return NULL;
    }
    if (path)
        log_info("workspaces: %u loaded from %s", g_hash_table_size(wss->by_id), path);
    if (!core->cfg->workspaces_secret)
        log_info("workspaces: /workspaces disabled (no [workspaces] secret)");
    return wss;
}

void workspaces_free(struct workspaces *wss)
{
    if (!wss)
        return;
    if (wss->dirty)
        ws_save_now(wss);
    if (wss->save_timer)
        event_free(wss->save_timer);
    if (wss->sweep_timer)
        event_free(wss->sweep_timer);
    g_hash_table_destroy(wss->by_id);
    g_free(wss);
}
