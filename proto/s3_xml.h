/*
 * proto/s3_xml.h - the XML documents S3 answers with, as far as the worker's
 * S3 client (worker/s3.c) reads them.
 *
 * Only the root element's name and three direct children of the root are
 * kept: <Error><Code> and <Message>, and
 * <InitiateMultipartUploadResult><UploadId> (the first of each; text
 * trimmed).  Everything else (namespaces, other elements, deeper nesting)
 * is passed over.  Parsed with GMarkup; fuzzed by tests/fuzz/fuzz_s3_xml.c.
 */
#ifndef WV_PROTO_S3_XML_H
#define WV_PROTO_S3_XML_H

#include <glib.h>

struct s3_xml {
    char *root;      /* the root element's name */
    char *code;      /* <Error><Code> */
    char *message;   /* <Error><Message> */
    char *upload_id; /* <InitiateMultipartUploadResult><UploadId> */
};

/* Parses len bytes (leading whitespace allowed: S3 may send some before the
 * document of a long-running CompleteMultipartUpload) into x; FALSE when it
 * is not an XML document (x->root NULL then).  s3_xml_clear() x either way. */
gboolean s3_xml_parse(const char *data, gsize len, struct s3_xml *x);

void s3_xml_clear(struct s3_xml *x);

#endif
