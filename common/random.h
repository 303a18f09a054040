/*
 * common/random.h - unguessable identifiers (recording keys, ids) from
 * OpenSSL's CSPRNG.  Never derived from client input.
 */
#ifndef WV_RANDOM_H
#define WV_RANDOM_H

#include <stddef.h>

/* Write 2*nbytes lowercase hex characters and a NUL into out (size >= 2*nbytes+1).
 * Returns 0, or -1 if the CSPRNG failed. */
int random_hex(char *out, size_t nbytes);

#endif
