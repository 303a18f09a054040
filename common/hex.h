/*
 * common/hex.h - lowercase hex encoding, the one place that spells it
 * (random ids, stored password hashes, SigV4 digests).
 */
#ifndef WV_HEX_H
#define WV_HEX_H

#include <stddef.h>

/* Write 2*n lowercase hex characters for the n bytes at in, and a NUL, into
 * out (size >= 2*n+1). */
void hex_encode(const void *in, size_t n, char *out);

#endif
