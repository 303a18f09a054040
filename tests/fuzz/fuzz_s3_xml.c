/*
 * tests/fuzz/fuzz_s3_xml.c - libFuzzer target for S3's XML answers
 * (proto/s3_xml.c, read by worker/s3.c).
 *
 * Beyond "no crash, no leak, no UB", it checks what worker/s3.c relies on:
 * a document that parses has a root element, the fields kept are trimmed,
 * and s3_xml_clear() leaves nothing behind (worker/s3.c reads the fields of
 * a half-parsed answer too).
 */
#include <stdint.h>
#include <string.h>

#include "fuzz_common.h"
#include "s3_xml.h"

static void fuzz_check_field(const char *v)
{
    if (!v)
        return;
    size_t n = strlen(v);
    FUZZ_CHECK(n == 0 || (!g_ascii_isspace(v[0]) && !g_ascii_isspace(v[n - 1])));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct s3_xml x;
    if (s3_xml_parse((const char *)data, size, &x))
        FUZZ_CHECK(x.root != NULL && x.root[0] != '\0');
    fuzz_check_field(x.code);
    fuzz_check_field(x.message);
    fuzz_check_field(x.upload_id);
    s3_xml_clear(&x);
    FUZZ_CHECK(x.root == NULL && x.code == NULL && x.message == NULL && x.upload_id == NULL);
    return 0;
}
