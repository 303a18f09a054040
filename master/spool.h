/*
 * master/spool.h - what the master does with recordings a worker left behind.
 *
 * Workers write SPOOL/KEY.EXT.part while recording and move it into storage
 * themselves when they finish.  When a worker dies first (crash, watchdog
 * kill) or the whole server did, the part file is still a valid Matroska
 * file up to its last cluster; the master moves it into storage as KEY.EXT
 * so that what was recorded is not lost.
 */
#ifndef WV_MASTER_SPOOL_H
#define WV_MASTER_SPOOL_H

#include "config.h"

/* Salvage the part file of `key` (the random stem); returns the stored name
 * (g_free it) or NULL if there was nothing to salvage. */
char *spool_salvage(const struct config *cfg, const char *key);
/* At start-up: salvage every part file a previous run left.  Returns how many. */
int spool_salvage_all(const struct config *cfg);

#endif
