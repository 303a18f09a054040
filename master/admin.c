/*
 * master/admin.c - GET /admin/sessions, answered on the core thread.
 *
 * The transport has already checked the credentials (www.c).  The data is
 * the control socket's `sessions` answer (control_sessions_json), so that the
 * page and `webrtc-videoctl sessions` cannot disagree: JSON as it is when
 * the client asks for application/json, else an HTML table of the same
 * rows that reloads itself every 5 s.
 */
#include "admin.h"

#include <glib.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"
#include "core.h"

static void admin_cell(GString *out, const char *text)
{
    gchar *escaped = g_markup_escape_text(text, -1);
    g_string_append_printf(out, "<td>%s</td>", escaped);
    g_free(escaped);
}

static void admin_row(GString *out, json_t *s)
{
    char buf[64];
    g_string_append(out, "<tr>");
    snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, json_integer_value(json_object_get(s, "id")));
    admin_cell(out, buf);
    admin_cell(out, json_string_value(json_object_get(s, "client")));
    admin_cell(out, json_string_value(json_object_get(s, "state")));
    snprintf(buf, sizeof(buf), "%.1f s", json_real_value(json_object_get(s, "duration_s")));
    admin_cell(out, buf);
    snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT,
             json_integer_value(json_object_get(s, "bytes")));
    admin_cell(out, buf);
    json_int_t pid = json_integer_value(json_object_get(s, "worker_pid"));
    snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, pid);
    admin_cell(out, pid ? buf : "-");
    admin_cell(out, json_string_value(json_object_get(s, "key")));
    g_string_append(out, "</tr>\n");
}

static char *admin_sessions_html(json_t *data)
{
    json_t *list = json_object_get(data, "sessions");
    GString *out = g_string_new(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\">"
        "<meta http-equiv=\"refresh\" content=\"5\">"
        "<title>webrtc-video sessions</title>"
        "<link rel=\"stylesheet\" href=\"admin.css\"></head>\n<body>\n"
        "<h1>Sessions</h1>\n");
    g_string_append_printf(out, "<p id=\"count\">%zu session(s) connected. "
                                "<a href=\"../admin\">Smoke test</a></p>\n",
                           json_array_size(list));
    g_string_append(out, "<table id=\"sessions\">\n<tr><th>id</th><th>client</th><th>state</th>"
                         "<th>duration</th><th>bytes</th><th>worker</th><th>key</th></tr>\n");
    size_t i;
    json_t *s;
    json_array_foreach(list, i, s)
        admin_row(out, s);
    g_string_append(out, "</table>\n</body></html>\n");
    return g_string_free(out, FALSE);
}

char *admin_sessions(struct core *core, const char *accept, const char **content_type)
{
    json_t *data = control_sessions_json(core);
    char *body;
    if (accept && strstr(accept, "application/json")) {
        char *text = json_dumps(data, JSON_COMPACT);
        body = g_strdup(text ? text : "{}");
        free(text);
        *content_type = "application/json";
    } else {
        body = admin_sessions_html(data);
        *content_type = "text/html; charset=utf-8";
    }
    json_decref(data);
    return body;
}
