/*
 * common/random.c - see random.h.
 */
#include "random.h"

#include "hex.h"

#include <openssl/rand.h>

int random_hex(char *out, size_t nbytes)
{
    unsigned char raw[64];

    if (nbytes > sizeof(raw) || RAND_bytes(raw, (int)nbytes) != 1)
        return -1;
    hex_encode(raw, nbytes, out);
    return 0;
}
