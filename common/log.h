/*
 * common/log.h - one logging facility for every process of webrtc-video.
 *
 * Lines go to stderr (journald or the terminal) as
 *   "2026-11-22T10:00:00.123Z INFO  [master] session 42: started"
 * with the process role set once at start-up (under systemd's journal:
 * "<6>INFO  [master:97] ...", see log.c).  Secrets are never passed here.
 */
#ifndef WV_LOG_H
#define WV_LOG_H

#include <stdarg.h>

enum log_level { LOG_LEVEL_DEBUG, LOG_LEVEL_INFO, LOG_LEVEL_WARN, LOG_LEVEL_ERROR };

void log_init(const char *role, enum log_level min_level);
void log_set_level(enum log_level min_level);
int log_level_parse(const char *name, enum log_level *out);
void log_write(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_vwrite(enum log_level level, const char *fmt, va_list ap);

#define log_debug(...) log_write(LOG_LEVEL_DEBUG, __VA_ARGS__)
#define log_info(...) log_write(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_warn(...) log_write(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_error(...) log_write(LOG_LEVEL_ERROR, __VA_ARGS__)

#endif
