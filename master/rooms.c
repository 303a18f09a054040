/*
 * master/rooms.c - rooms of peers exchanging packets (seed 001, /videre).
 *
 * A websocket at /videre is a `member`.  It joins one room at a time, under
 * the user id of its `connect`, and owns that id until it leaves: every later
 * packet must carry the same UserId and RoomId, or it is answered with an
 * error packet and forwarded nowhere.
 *
 *   peer                          this file                      other peers
 *   connect{U,R}          ->      join R (create it if new)      -> connect (as sent)
 *                         <-      connect{initiator:first?}
 *   broadcast{U,R}        ->                                     -> broadcast (as sent)
 *   ping{U,R}             <-      ping["U1","U2",...]
 *   disconnect / close    ->      leave R (free it if empty)     -> disconnect{U,R}
 *                         <-      disconnect (acknowledged; not on close)
 *   anything invalid      <-      error{message}
 *
 * A room holds at most cfg->room_size peers; ids are bounded by
 * ROOMS_MAX_ID.  Rate, size, queue and connection limits: sigconn.h.
 */
#include "rooms.h"

#include <glib.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>

#include "core.h"
#include "log.h"
#include "rooms_msg.h"
#include "sigconn.h"

struct room;

struct member {
    TAILQ_ENTRY(member) entry;
    struct rooms *rooms;
    struct sigconn sc;
    uint64_t conn_id;
    struct room *room; /* NULL: in no room */
    char *user_id;     /* while in a room */
};

struct room {
    char *id;
    TAILQ_HEAD(, member) members;
    size_t n;
};

struct rooms {
    struct core *core;
    GHashTable *by_id; /* room id -> struct room */
    size_t peers;
};

static void member_send(struct member *m, char *text)
{
    core_ws_send(m->rooms->core, m->conn_id, text);
}

/* Send the same text to every member of the room but `except`. */
static void room_send_others(struct room *room, const struct member *except, const char *text,
                             size_t len)
{
    struct member *m;
    TAILQ_FOREACH(m, &room->members, entry) {
        if (m != except)
            core_ws_send(m->rooms->core, m->conn_id, strndup(text, len));
    }
}

static struct member *room_find(struct room *room, const char *user_id)
{
    struct member *m;
    TAILQ_FOREACH(m, &room->members, entry) {
        if (strcmp(m->user_id, user_id) == 0)
            return m;
    }
    return NULL;
}

static void room_free(gpointer data)
{
    struct room *room = data;
    g_free(room->id);
    g_free(room);
}

/* Take the member out of its room, tell the others, drop the room if empty. */
static void member_leave(struct member *m)
{
    struct rooms *rooms = m->rooms;
    struct room *room = m->room;

    TAILQ_REMOVE(&room->members, m, entry);
    room->n--;
    rooms->peers--;
    m->room = NULL;
    char *notice = rooms_packet_build("disconnect", m->user_id, room->id, "{}");
    if (notice)
        room_send_others(room, NULL, notice, strlen(notice));
    free(notice);
    log_info("rooms: %s left %s (%zu left)", m->user_id, room->id, room->n);
    if (room->n == 0)
        g_hash_table_remove(rooms->by_id, room->id);
    g_free(m->user_id);
    m->user_id = NULL;
}

static void rooms_on_connect(struct member *m, const struct rooms_packet *p, const char *text,
                             size_t len)
{
    struct rooms *rooms = m->rooms;

    if (m->room) {
        member_send(m, rooms_error(p->user_id, p->room_id,
                                   "already in room '%s' as '%s': disconnect first", m->room->id,
                                   m->user_id));
        return;
    }
    struct room *room = g_hash_table_lookup(rooms->by_id, p->room_id);
    if (room && room->n >= (size_t)rooms->core->cfg->room_size) {
        member_send(m, rooms_error(p->user_id, p->room_id, "room is full (%d peers)",
                                   rooms->core->cfg->room_size));
        return;
    }
    if (room && room_find(room, p->user_id)) {
        member_send(m, rooms_error(p->user_id, p->room_id, "user id is taken in this room"));
        return;
    }
    if (!room) {
        room = g_new0(struct room, 1);
        room->id = g_strdup(p->room_id);
        TAILQ_INIT(&room->members);
        g_hash_table_insert(rooms->by_id, room->id, room);
    }
    int initiator = room->n == 0;
    m->room = room;
    m->user_id = g_strdup(p->user_id);
    TAILQ_INSERT_TAIL(&room->members, m, entry);
    room->n++;
    rooms->peers++;
    log_info("rooms: %s joined %s (%zu in it)%s", m->user_id, room->id, room->n,
             initiator ? ", initiator" : "");
    member_send(m, rooms_connect_reply(p->user_id, p->room_id, initiator));
    room_send_others(room, m, text, len);
}

static void rooms_on_ping(struct member *m)
{
    const char **users = g_new(const char *, m->room->n);
    size_t n = 0;
    struct member *o;
    TAILQ_FOREACH(o, &m->room->members, entry)
        users[n++] = o->user_id;
    member_send(m, rooms_ping_reply(m->user_id, m->room->id, users, n));
    g_free(users);
}

/* Packets other than connect: only for the room and id this connection holds. */
static int rooms_check_owner(struct member *m, const struct rooms_packet *p)
{
    const char *why = NULL;
    if (!m->room)
        why = "not in a room: send connect first";
    else if (strcmp(p->user_id, m->user_id) != 0)
        why = "UserId is not the one this connection connected with";
    else if (strcmp(p->room_id, m->room->id) != 0)
        why = "not in this room";
    if (!why)
        return 0;
    member_send(m, rooms_error(p->user_id, p->room_id, "%s", why));
    return -1;
}

static void rooms_text(void *conn, const char *text, size_t len)
{
    struct member *m = conn;
    struct rooms_packet p;
    char err[512];
    int refuse;

    if (sigconn_charge(&m->sc, &refuse) != 0) {
        if (refuse) {
            member_send(m, rooms_error(m->user_id, m->room ? m->room->id : NULL,
                                       "rate limit exceeded; closing"));
            sigconn_kick(&m->sc);
        }
        return;
    }
    if (rooms_packet_parse(text, len, &p, err, sizeof(err)) != 0) {
        member_send(m, rooms_error(p.user_id, p.room_id, "%s", err));
        goto out;
    }
    if (p.event == ROOMS_CONNECT) {
        rooms_on_connect(m, &p, text, len);
        goto out;
    }
    if (rooms_check_owner(m, &p) != 0)
        goto out;
    switch (p.event) {
    case ROOMS_BROADCAST:
        room_send_others(m->room, m, text, len);
        break;
    case ROOMS_PING:
        rooms_on_ping(m);
        break;
    case ROOMS_DISCONNECT:
        member_send(m, rooms_packet_build("disconnect", p.user_id, p.room_id, "{}"));
        member_leave(m);
        break;
    case ROOMS_CONNECT:
        break;
    }
out:
    rooms_packet_clear(&p);
}

static void *rooms_open(struct core *core, uint64_t conn_id, const char *peer, const char *host)
{
    struct member *m = g_new0(struct member, 1);
    (void)host;
    if (sigconn_open(&m->sc, core, conn_id, "rooms") != 0) {
        g_free(m);
        return NULL;
    }
    m->rooms = core->rooms;
    m->conn_id = conn_id;
    log_debug("rooms: connection %llu from %s", (unsigned long long)conn_id, peer);
    return m;
}

static void rooms_close(void *conn)
{
    struct member *m = conn;
    if (m->room)
        member_leave(m);
    sigconn_close(&m->sc);
    g_free(m);
}

const struct service rooms_service = {
    .path = "/videre",
    .max_message = SIGCONN_MAX_MESSAGE,
    .max_queued = SIGCONN_MAX_QUEUED,
    .open = rooms_open,
    .text = rooms_text,
    .close = rooms_close,
};

void rooms_counts(const struct rooms *rooms, size_t *n_rooms, size_t *n_peers)
{
    *n_rooms = g_hash_table_size(rooms->by_id);
    *n_peers = rooms->peers;
}

struct rooms *rooms_new(struct core *core)
{
    struct rooms *rooms = g_new0(struct rooms, 1);
    rooms->core = core;
    rooms->by_id = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, room_free);
    return rooms;
}

/* Called after every connection has been closed, so every room is empty. */
void rooms_free(struct rooms *rooms)
{
    if (!rooms)
        return;
    g_hash_table_destroy(rooms->by_id);
    g_free(rooms);
}
