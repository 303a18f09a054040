/*
 * common/secret.c - constant-time comparison and PBKDF2 password hashes.
 * See secret.h for the stored format.  All cryptography is OpenSSL's.
 */
#include "secret.h"

#include "hex.h"
#include "random.h"

#include <errno.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SECRET_PREFIX "pbkdf2:sha256:"
#define SECRET_HASH_LEN 32
#define SECRET_MAX_ITERATIONS 100000000u

int secret_equal(const void *a, size_t alen, const void *b, size_t blen)
{
    unsigned char da[SHA256_DIGEST_LENGTH], db[SHA256_DIGEST_LENGTH];

    SHA256(a, alen, da);
    SHA256(b, blen, db);
    return CRYPTO_memcmp(da, db, sizeof(da)) == 0;
}

static int secret_pbkdf2(const char *password, const char *salt, size_t salt_len,
                         unsigned iterations, unsigned char out[SECRET_HASH_LEN])
{
    return PKCS5_PBKDF2_HMAC(password, (int)strlen(password), (const unsigned char *)salt,
                             (int)salt_len, (int)iterations, EVP_sha256(), SECRET_HASH_LEN,
                             out) == 1
               ? 0
               : -1;
}

char *secret_hash_password(const char *password, unsigned iterations)
{
    char salt[17];
    unsigned char hash[SECRET_HASH_LEN];
    char hex[2 * SECRET_HASH_LEN + 1];
    char *out = NULL;

    if (iterations == 0)
        iterations = SECRET_PBKDF2_ITERATIONS;
    if (random_hex(salt, 8) != 0 || secret_pbkdf2(password, salt, 16, iterations, hash) != 0)
        return NULL;
    hex_encode(hash, sizeof(hash), hex);
    if (asprintf(&out, SECRET_PREFIX "%u$%s$%s", iterations, salt, hex) < 0)
        return NULL;
    return out;
}

/* Split a stored hash into its parts; 0 if well-formed. */
static int secret_parse(const char *stored, unsigned *iterations, const char **salt,
                        size_t *salt_len, const char **hex)
{
    const char *p, *dollar;
    char *end;
    unsigned long it;

    if (strncmp(stored, SECRET_PREFIX, strlen(SECRET_PREFIX)) != 0)
        return -1;
    p = stored + strlen(SECRET_PREFIX);
    if (*p < '1' || *p > '9')
        return -1;
    errno = 0;
    it = strtoul(p, &end, 10);
    if (errno || *end != '$' || it > SECRET_MAX_ITERATIONS)
        return -1;
    *salt = end + 1;
    dollar = strchr(*salt, '$');
    if (!dollar || dollar == *salt)
        return -1;
    *salt_len = (size_t)(dollar - *salt);
    *hex = dollar + 1;
    if (strlen(*hex) != 2 * SECRET_HASH_LEN || strspn(*hex, "0123456789abcdef") != 2 * SECRET_HASH_LEN)
        return -1;
    *iterations = (unsigned)it;
    return 0;
}

int secret_is_password_hash(const char *stored)
{
    unsigned iterations;
    const char *salt, *hex;
    size_t salt_len;

    return stored && secret_parse(stored, &iterations, &salt, &salt_len, &hex) == 0;
}

int secret_verify_password(const char *password, const char *stored)
{
    unsigned iterations;
    const char *salt, *hex;
    size_t salt_len;
    unsigned char hash[SECRET_HASH_LEN];
    char mine[2 * SECRET_HASH_LEN + 1];

    if (!stored || secret_parse(stored, &iterations, &salt, &salt_len, &hex) != 0)
        return -1;
    if (secret_pbkdf2(password, salt, salt_len, iterations, hash) != 0)
        return -1;
    hex_encode(hash, sizeof(hash), mine);
    return CRYPTO_memcmp(mine, hex, 2 * SECRET_HASH_LEN) == 0;
}
