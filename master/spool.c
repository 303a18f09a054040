/*
 * master/spool.c - salvaging part files (see spool.h).
 */
#include "spool.h"

#include <errno.h>
#include <glib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"

#define SPOOL_PART_SUFFIX ".part"

/* Move SPOOL/NAME.part to STORAGE/NAME; returns NAME or NULL. */
static char *spool_move(const struct config *cfg, const char *part_name)
{
    struct stat st;
    char *name = g_strndup(part_name, strlen(part_name) - strlen(SPOOL_PART_SUFFIX));
    char *from = g_build_filename(cfg->spool_dir, part_name, NULL);
    char *to = g_build_filename(cfg->storage_dir, name, NULL);

    if (stat(from, &st) != 0 || st.st_size == 0) {
        unlink(from); /* nothing was written: nothing to keep */
        goto error;
    }
    if (rename(from, to) != 0) {
        log_error("cannot move %s to %s: %s", from, to, strerror(errno));
        goto error;
    }
    log_info("kept the partial recording %s (%lld bytes)", name, (long long)st.st_size);
    g_free(from);
    g_free(to);
    return name;
error:
    g_free(name);
    g_free(from);
    g_free(to);
    return NULL;
}

char *spool_salvage(const struct config *cfg, const char *key)
{
    static const char *const extensions[] = {".webm", ".mkv"};
    for (size_t i = 0; i < G_N_ELEMENTS(extensions); i++) {
        char *part = g_strconcat(key, extensions[i], SPOOL_PART_SUFFIX, NULL);
        char *path = g_build_filename(cfg->spool_dir, part, NULL);
        char *name = g_file_test(path, G_FILE_TEST_EXISTS) ? spool_move(cfg, part) : NULL;
        g_free(path);
        g_free(part);
        if (name)
            return name;
    }
    return NULL;
}

int spool_salvage_all(const struct config *cfg)
{
    GDir *dir = g_dir_open(cfg->spool_dir, 0, NULL);
    const char *entry;
    int n = 0;

    if (!dir)
        return 0;
    while ((entry = g_dir_read_name(dir))) {
        if (!g_str_has_suffix(entry, SPOOL_PART_SUFFIX))
            continue;
        char *name = spool_move(cfg, entry);
        n += name != NULL;
        g_free(name);
    }
    g_dir_close(dir);
    return n;
}
