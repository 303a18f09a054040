/*
 * tests/unit/test_common.c - common/hex.c, common/random.c, common/log.c and
 * common/secret.c.
 */
#include <glib.h>
#include <glib/gstdio.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hex.h"
#include "log.h"
#include "random.h"
#include "secret.h"

/* ---- hex_encode --------------------------------------------------------- */

static void test_hex_encode(void)
{
    const unsigned char bytes[] = {0x00, 0x01, 0x7f, 0x80, 0xa5, 0xff};
    char out[2 * sizeof(bytes) + 1];

    memset(out, 'Z', sizeof(out));
    hex_encode(bytes, sizeof(bytes), out);
    g_assert_cmpstr(out, ==, "00017f80a5ff");
    hex_encode(bytes, 0, out);
    g_assert_cmpstr(out, ==, "");
}

/* ---- random_hex -------------------------------------------------------- */

static void test_random_length_charset(void)
{
    const size_t sizes[] = {0, 1, 2, 8, 16, 32, 63, 64};
    for (size_t i = 0; i < G_N_ELEMENTS(sizes); i++) {
        size_t n = sizes[i];
        /* exact-size heap buffer: ASan catches a write past 2n+1 */
        char *out = g_malloc(2 * n + 1);
        memset(out, 'Z', 2 * n + 1);
        g_assert_cmpint(random_hex(out, n), ==, 0);
        g_assert_cmpuint(strlen(out), ==, 2 * n);
        g_assert_cmpuint(strspn(out, "0123456789abcdef"), ==, 2 * n);
        g_free(out);
    }
}

static void test_random_too_long(void)
{
    char out[2 * 65 + 1];
    memset(out, 'Z', sizeof(out));
    g_assert_cmpint(random_hex(out, 65), ==, -1);
    g_assert_cmpint(random_hex(out, SIZE_MAX / 4), ==, -1);
    g_assert_cmpint(out[0], ==, 'Z'); /* nothing written */
}

static void test_random_differs(void)
{
    char a[33], b[33];
    g_assert_cmpint(random_hex(a, 16), ==, 0);
    g_assert_cmpint(random_hex(b, 16), ==, 0);
    g_assert_cmpstr(a, !=, b);

    /* Over many draws every hex digit shows up, in both nibble positions. */
    gboolean seen_hi[16] = {0}, seen_lo[16] = {0};
    for (int i = 0; i < 200; i++) {
        char c[129];
        g_assert_cmpint(random_hex(c, 64), ==, 0);
        for (int j = 0; j < 128; j++) {
            int d = g_ascii_xdigit_value(c[j]);
            g_assert_cmpint(d, >=, 0);
            if (j % 2)
                seen_lo[d] = TRUE;
            else
                seen_hi[d] = TRUE;
        }
    }
    for (int d = 0; d < 16; d++) {
        g_assert_true(seen_hi[d]);
        g_assert_true(seen_lo[d]);
    }

    /* No repeats among many 128-bit keys. */
    GHashTable *keys = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    for (int i = 0; i < 1000; i++) {
        char k[33];
        g_assert_cmpint(random_hex(k, 16), ==, 0);
        g_assert_true(g_hash_table_add(keys, g_strdup(k)));
    }
    g_hash_table_unref(keys);
}

/* ---- log --------------------------------------------------------------- */

static void test_log_level_parse(void)
{
    const struct {
        const char *name;
        enum log_level level;
    } ok[] = {
        {"debug", LOG_LEVEL_DEBUG}, {"DEBUG", LOG_LEVEL_DEBUG}, {"Debug", LOG_LEVEL_DEBUG},
        {"info", LOG_LEVEL_INFO},   {"INFO", LOG_LEVEL_INFO},   {"warn", LOG_LEVEL_WARN},
        {"WARN", LOG_LEVEL_WARN},   {"warning", LOG_LEVEL_WARN}, {"WARNING", LOG_LEVEL_WARN},
        {"error", LOG_LEVEL_ERROR}, {"ERROR", LOG_LEVEL_ERROR}, {"eRRoR", LOG_LEVEL_ERROR},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(ok); i++) {
        enum log_level l = (enum log_level)99;
        g_assert_cmpint(log_level_parse(ok[i].name, &l), ==, 0);
        g_assert_cmpint(l, ==, ok[i].level);
    }
    const char *bad[] = {"", "verbose", "trace", "fatal", "err", "warnings", "info ", " info",
                         "debug\n", "0", "1", "inf", "INFOx"};
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        enum log_level l = LOG_LEVEL_ERROR;
        g_assert_cmpint(log_level_parse(bad[i], &l), ==, -1);
        g_assert_cmpint(l, ==, LOG_LEVEL_ERROR); /* untouched */
    }
    g_assert_true(LOG_LEVEL_DEBUG < LOG_LEVEL_INFO && LOG_LEVEL_INFO < LOG_LEVEL_WARN &&
                  LOG_LEVEL_WARN < LOG_LEVEL_ERROR);
}

/* Run fn with stderr redirected to a file; return what it wrote. */
static gchar *capture_stderr(void (*fn)(void))
{
    gchar *path = NULL;
    int fd = g_file_open_tmp("wv-log-XXXXXX", &path, NULL);
    g_assert_cmpint(fd, >=, 0);
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    g_assert_cmpint(dup2(fd, STDERR_FILENO), ==, STDERR_FILENO);
    fn();
    g_assert_cmpint(dup2(saved, STDERR_FILENO), ==, STDERR_FILENO);
    close(saved);
    close(fd);
    gchar *text = NULL;
    g_assert_true(g_file_get_contents(path, &text, NULL, NULL));
    g_unlink(path);
    g_free(path);
    return text;
}

static void log_some(void)
{
    log_init("unit", LOG_LEVEL_INFO);
    log_debug("hidden %d", 1);
    log_info("session %d: started", 42);
    log_warn("careful");
    log_set_level(LOG_LEVEL_ERROR);
    log_warn("hidden too");
    log_error("boom: %s", "x");
    log_set_level(LOG_LEVEL_DEBUG);
    log_debug("now shown");
    log_init("webrtc-video", LOG_LEVEL_INFO);
}

static void test_log_format(void)
{
    gchar *text = capture_stderr(log_some);
    gchar **lines = g_strsplit(text, "\n", -1);
    g_assert_cmpuint(g_strv_length(lines), ==, 5); /* 4 lines + "" after the last \n */
    g_assert_cmpstr(lines[4], ==, "");
    const char *want[] = {"INFO  [unit:%d] session 42: started", "WARN  [unit:%d] careful",
                          "ERROR [unit:%d] boom: x", "DEBUG [unit:%d] now shown"};
    GRegex *ts = g_regex_new("^\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z ", 0, 0, NULL);
    for (int i = 0; i < 4; i++) {
        g_assert_true(g_regex_match(ts, lines[i], 0, NULL));
        gchar *w = g_strdup_printf(want[i], (int)getpid());
        g_assert_cmpstr(lines[i] + 25, ==, w);
        g_free(w);
    }
    g_regex_unref(ts);
    g_strfreev(lines);
    g_free(text);
}

/* stderr is the journal's stream: a syslog priority, no timestamp. */
static void log_journal_some(void)
{
    struct stat st;
    g_assert_cmpint(fstat(STDERR_FILENO, &st), ==, 0);
    gchar *stream = g_strdup_printf("%llu:%llu", (unsigned long long)st.st_dev,
                                    (unsigned long long)st.st_ino);
    g_setenv("JOURNAL_STREAM", stream, TRUE);
    log_init("unit", LOG_LEVEL_DEBUG);
    log_debug("d");
    log_info("i");
    log_warn("w");
    log_error("e");
    g_setenv("JOURNAL_STREAM", "1:2", TRUE); /* another stream: plain lines */
    log_init("unit", LOG_LEVEL_INFO);
    log_info("plain");
    g_unsetenv("JOURNAL_STREAM");
    log_init("webrtc-video", LOG_LEVEL_INFO);
    g_free(stream);
}

static void test_log_journal(void)
{
    gchar *text = capture_stderr(log_journal_some);
    gchar *want = g_strdup_printf("<7>DEBUG [unit:%d] d\n<6>INFO  [unit:%d] i\n"
                                  "<4>WARN  [unit:%d] w\n<3>ERROR [unit:%d] e\n",
                                  (int)getpid(), (int)getpid(), (int)getpid(), (int)getpid());
    g_assert_true(g_str_has_prefix(text, want));
    g_assert_true(g_str_has_suffix(text, "] plain\n"));
    g_assert_false(g_str_has_prefix(text + strlen(want), "<"));
    g_free(want);
    g_free(text);
}

static void log_long(void)
{
    char *big = g_malloc(10000);
    memset(big, 'm', 9999);
    big[9999] = '\0';
    log_init("unit", LOG_LEVEL_INFO);
    log_info("%s", big);
    /* A role longer than the line buffer must not overflow it either. */
    char *role = g_malloc(5000);
    memset(role, 'r', 4999);
    role[4999] = '\0';
    log_init(role, LOG_LEVEL_INFO);
    log_info("after a long role");
    log_init("webrtc-video", LOG_LEVEL_INFO);
    g_free(role);
    g_free(big);
}

static void test_log_truncation(void)
{
    gchar *text = capture_stderr(log_long);
    gchar **lines = g_strsplit(text, "\n", -1);
    g_assert_cmpuint(g_strv_length(lines), ==, 3);
    /* Cut to the 2 KiB line buffer, still one line ending in '\n'. */
    g_assert_cmpuint(strlen(lines[0]) + 1, <=, 2048);
    g_assert_true(g_str_has_suffix(lines[0], "mmmm"));
    g_assert_cmpuint(strlen(lines[1]) + 1, <=, 2048);
    g_assert_true(g_str_has_suffix(lines[1], "rrrr"));
    g_strfreev(lines);
    g_free(text);
}

/* ---- secret ------------------------------------------------------------ */

static void test_secret_equal(void)
{
    g_assert_true(secret_equal("abc", 3, "abc", 3));
    g_assert_false(secret_equal("abc", 3, "abd", 3));
    g_assert_false(secret_equal("abc", 3, "abcd", 4));
    g_assert_false(secret_equal("abc", 3, "", 0));
    g_assert_true(secret_equal("", 0, "", 0));
}

/* The vector comes from Python's hashlib.pbkdf2_hmac("sha256", b"hunter2",
 * b"0123456789abcdef", 1000), an independent implementation. */
static void test_secret_verify_known(void)
{
    const char *stored = "pbkdf2:sha256:1000$0123456789abcdef$"
                         "a63e13df90f6bf8b58982d6c4c9d72e6d70c00339db67406bee1e6c980d08768";
    g_assert_true(secret_is_password_hash(stored));
    g_assert_cmpint(secret_verify_password("hunter2", stored), ==, 1);
    g_assert_cmpint(secret_verify_password("hunter3", stored), ==, 0);
    g_assert_cmpint(secret_verify_password("", stored), ==, 0);
}

static void test_secret_roundtrip(void)
{
    char *a = secret_hash_password("correct horse", 2000);
    char *b = secret_hash_password("correct horse", 2000);
    g_assert_nonnull(a);
    g_assert_nonnull(b);
    g_assert_true(g_str_has_prefix(a, "pbkdf2:sha256:2000$"));
    g_assert_cmpstr(a, !=, b); /* fresh salt each time */
    g_assert_cmpint(secret_verify_password("correct horse", a), ==, 1);
    g_assert_cmpint(secret_verify_password("correct horse", b), ==, 1);
    g_assert_cmpint(secret_verify_password("correct horsE", a), ==, 0);
    free(a);
    free(b);
}

static void test_secret_malformed(void)
{
    const char *bad[] = {
        "",
        "hunter2",
        "pbkdf2:sha1:1000$salt$a63e13df90f6bf8b58982d6c4c9d72e6d70c00339db67406bee1e6c980d08768",
        "pbkdf2:sha256:0$salt$a63e13df90f6bf8b58982d6c4c9d72e6d70c00339db67406bee1e6c980d08768",
        "pbkdf2:sha256:-5$salt$a63e13df90f6bf8b58982d6c4c9d72e6d70c00339db67406bee1e6c980d08768",
        "pbkdf2:sha256:1000$$a63e13df90f6bf8b58982d6c4c9d72e6d70c00339db67406bee1e6c980d08768",
        "pbkdf2:sha256:1000$salt$a63e13df",
        "pbkdf2:sha256:1000$salt$A63E13DF90F6BF8B58982D6C4C9D72E6D70C00339DB67406BEE1E6C980D08768",
        "pbkdf2:sha256:1000salt$a63e13df90f6bf8b58982d6c4c9d72e6d70c00339db67406bee1e6c980d08768",
        "pbkdf2:sha256:999999999999$s$a63e13df90f6bf8b58982d6c4c9d72e6d70c00339db67406bee1e6c980d08768",
    };
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_assert_false(secret_is_password_hash(bad[i]));
        g_assert_cmpint(secret_verify_password("hunter2", bad[i]), ==, -1);
    }
    g_assert_false(secret_is_password_hash(NULL));
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/hex/encode", test_hex_encode);
    g_test_add_func("/random/length-charset", test_random_length_charset);
    g_test_add_func("/random/too-long", test_random_too_long);
    g_test_add_func("/random/differs", test_random_differs);
    g_test_add_func("/log/level-parse", test_log_level_parse);
    g_test_add_func("/log/format", test_log_format);
    g_test_add_func("/log/truncation", test_log_truncation);
    g_test_add_func("/secret/equal", test_secret_equal);
    g_test_add_func("/secret/verify-known", test_secret_verify_known);
    g_test_add_func("/secret/roundtrip", test_secret_roundtrip);
    g_test_add_func("/secret/malformed", test_secret_malformed);
    g_test_add_func("/log/journal", test_log_journal);
    return g_test_run();
}
