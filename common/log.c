/*
 * common/log.c - timestamped, levelled log lines on stderr.
 *
 * Each line is formatted into one buffer and written with a single write(2),
 * so lines from the master's two threads and from the workers (which share
 * the master's stderr) never interleave mid-line.
 *
 * When stderr is systemd's journal (JOURNAL_STREAM names its device and
 * inode), a line starts with its syslog priority, "<6>", which journald
 * turns into the entry's PRIORITY (journalctl -p warning), and carries no
 * timestamp of its own: the journal keeps one.
 */
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static const char *log_role = "webrtc-video";
static enum log_level log_min = LOG_LEVEL_INFO;

static int log_journal; /* stderr is the journal: priority prefix, no time */

static const char *const log_names[] = {"DEBUG", "INFO", "WARN", "ERROR"};
static const int log_priorities[] = {7, 6, 4, 3}; /* LOG_DEBUG ... LOG_ERR */

/* JOURNAL_STREAM is "DEVICE:INODE" of the stream systemd connected. */
static int log_stderr_is_journal(void)
{
    const char *env = getenv("JOURNAL_STREAM");
    unsigned long long dev, ino;
    struct stat st;

    if (!env || sscanf(env, "%llu:%llu", &dev, &ino) != 2 || fstat(STDERR_FILENO, &st) != 0)
        return 0;
    return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void log_init(const char *role, enum log_level min_level)
{
    log_role = role;
    log_min = min_level;
    log_journal = log_stderr_is_journal();
}

void log_set_level(enum log_level min_level)
{
    log_min = min_level;
}

int log_level_parse(const char *name, enum log_level *out)
{
    for (unsigned i = 0; i < sizeof(log_names) / sizeof(log_names[0]); i++) {
        if (strcasecmp(name, log_names[i]) == 0) {
            *out = (enum log_level)i;
            return 0;
        }
    }
    if (strcasecmp(name, "warning") == 0) {
        *out = LOG_LEVEL_WARN;
        return 0;
    }
    return -1;
}

void log_vwrite(enum log_level level, const char *fmt, va_list ap)
{
    if (level < log_min)
        return;

    char line[2048];
    struct timespec ts;
    struct tm tm;
    int n;
    if (log_journal) {
        n = snprintf(line, sizeof(line), "<%d>%-5s [%s:%d] ", log_priorities[level],
                     log_names[level], log_role, (int)getpid());
    } else {
        clock_gettime(CLOCK_REALTIME, &ts);
        gmtime_r(&ts.tv_sec, &tm);
        n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s [%s:%d] ",
                     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
                     tm.tm_sec, ts.tv_nsec / 1000000, log_names[level], log_role,
                     (int)getpid());
    }
    if (n < 0)
        return;
    if ((size_t)n > sizeof(line) - 2)
        n = (int)sizeof(line) - 2; /* an absurdly long role: keep room for the '\n' */
    int m = vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
    if (m < 0)
        return;
    size_t len = (size_t)n + (size_t)m;
    if (len > sizeof(line) - 2)
        len = sizeof(line) - 2; /* truncated: still end the line */
    line[len++] = '\n';
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
}

void log_write(enum log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vwrite(level, fmt, ap);
    va_end(ap);
}
