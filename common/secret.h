/*
 * common/secret.h - comparing and storing secrets: constant-time equality and
 * PBKDF2-HMAC-SHA256 password hashes (OpenSSL), shared by the admin pages'
 * basic auth and the workspaces' PINs.
 *
 * A stored hash reads "pbkdf2:sha256:ITERATIONS$SALT$HEX", the format of
 * Werkzeug's generate_password_hash(), so an operator can make one with
 * Python's hashlib (docs/configuration.md, "[admin] auth", has the command).
 * The salt is used as the ASCII text it is written as.  PBKDF2 is slow on
 * purpose (tens to hundreds of milliseconds): callers on an event loop cache
 * a verified result or run it off the loop.
 */
#ifndef WV_SECRET_H
#define WV_SECRET_H

#include <stddef.h>

#define SECRET_PBKDF2_ITERATIONS 600000u /* OWASP's figure for PBKDF2-HMAC-SHA256 */

/* 1 if the two byte strings are equal, else 0, in time that depends on
 * neither their contents nor where they differ (both are hashed with
 * SHA-256 first, so not on their lengths either). */
int secret_equal(const void *a, size_t alen, const void *b, size_t blen);

/* A new stored hash of `password` with a fresh random salt; free() it.
 * NULL if the CSPRNG or PBKDF2 failed.  iterations 0 means the default. */
char *secret_hash_password(const char *password, unsigned iterations);

/* 1: `password` matches `stored`; 0: it does not; -1: `stored` is not a
 * hash in the format above (a configuration error, to report). */
int secret_verify_password(const char *password, const char *stored);

/* 1 if `stored` is a well-formed hash (for validating configuration). */
int secret_is_password_hash(const char *stored);

#endif
