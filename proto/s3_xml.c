/*
 * proto/s3_xml.c - S3's XML answers (see s3_xml.h), read with GMarkup.
 */
#include "s3_xml.h"

#include <string.h>

struct s3_xml_parse {
    struct s3_xml *x;
    int depth;
    GString *text;
};

static void s3_xml_start(GMarkupParseContext *ctx, const char *name, const char **attr_names,
                         const char **attr_values, gpointer data, GError **error)
{
    struct s3_xml_parse *p = data;
    /* GMarkup reports a second top-level element before it fails the
     * document: the first root stays (it used to be overwritten, leaked) */
    if (p->depth++ == 0 && !p->x->root)
        p->x->root = g_strdup(name);
    g_string_truncate(p->text, 0);
}

static void s3_xml_end(GMarkupParseContext *ctx, const char *name, gpointer data,
                       GError **error)
{
    struct s3_xml_parse *p = data;
    struct s3_xml *x = p->x;
    if (p->depth-- == 2) { /* a direct child of the root */
        char **slot = strcmp(name, "Code") == 0       ? &x->code
                      : strcmp(name, "Message") == 0  ? &x->message
                      : strcmp(name, "UploadId") == 0 ? &x->upload_id
                                                      : NULL;
        if (slot && !*slot)
            *slot = g_strdup(g_strstrip(p->text->str));
    }
    g_string_truncate(p->text, 0);
}

static void s3_xml_text(GMarkupParseContext *ctx, const char *text, gsize len, gpointer data,
                        GError **error)
{
    struct s3_xml_parse *p = data;
    g_string_append_len(p->text, text, (gssize)len);
}

gboolean s3_xml_parse(const char *data, gsize len, struct s3_xml *x)
{
    static const GMarkupParser parser = {s3_xml_start, s3_xml_end, s3_xml_text, NULL, NULL};
    memset(x, 0, sizeof(*x));
    /* the XML declaration is a processing instruction GMarkup passes over */
    while (len && g_ascii_isspace(*data)) {
        data++;
        len--;
    }
    if (!len)
        return FALSE;
    struct s3_xml_parse p = {.x = x, .text = g_string_new(NULL)};
    GMarkupParseContext *ctx = g_markup_parse_context_new(&parser, 0, &p, NULL);
    gboolean ok = g_markup_parse_context_parse(ctx, data, (gssize)len, NULL) &&
                  g_markup_parse_context_end_parse(ctx, NULL);
    g_markup_parse_context_free(ctx);
    g_string_free(p.text, TRUE);
    return ok && x->root;
}

void s3_xml_clear(struct s3_xml *x)
{
    g_free(x->root);
    g_free(x->code);
    g_free(x->message);
    g_free(x->upload_id);
    memset(x, 0, sizeof(*x));
}
