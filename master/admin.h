/*
 * master/admin.h - the admin pages the core answers: /admin/sessions
 * (the static admin page and the credentials are the transport's, www.h).
 */
#ifndef WV_MASTER_ADMIN_H
#define WV_MASTER_ADMIN_H

struct core;

/* Every session connected, as JSON when `accept` asks for
 * application/json, else as an HTML table; g_free() the result. */
char *admin_sessions(struct core *core, const char *accept, const char **content_type);

#endif
