/*
 * proto/jwt.h - the workspaces' access tokens: JSON Web Tokens (RFC 7519)
 * signed with HMAC-SHA256 (JWS "HS256", RFC 7515) under the server's secret.
 *
 *   BASE64URL(header) "." BASE64URL(claims) "." BASE64URL(HMAC-SHA256(secret, first two))
 *
 * The header is exactly {"alg":"HS256","typ":"JWT"} when we sign; when we
 * verify, it must be an object whose "alg" is "HS256", with at most a "typ"
 * of "JWT" besides: "none", "HS512", "RS256" and every other algorithm, and
 * any other header field ("kid", "crit", "jku", ...), are refused, so the
 * token alone can never choose how it is checked.  base64url is without
 * padding and must be canonical.  The signature is compared in constant time
 * (common/secret.h), before the claims are even parsed.
 *
 * Claims (all ours; docs/signaling.md, "Tokens"):
 *   workspace  the workspace id
 *   attendee   the attendee id (absent in a "share" token)
 *   role       "owner", "attendee", or "share" (the access token to hand out)
 *   iat, exp   NumericDate seconds; a token is valid while now < exp
 */
#ifndef WV_PROTO_JWT_H
#define WV_PROTO_JWT_H

#include <stddef.h>
#include <stdint.h>

#define JWT_MAX_TOKEN 2048 /* longer tokens are refused unparsed */
#define JWT_MAX_ID 64      /* workspace and attendee ids */
#define JWT_CLOCK_SKEW 60  /* an iat this far in the future is still accepted */

enum jwt_role { JWT_ROLE_OWNER, JWT_ROLE_ATTENDEE, JWT_ROLE_SHARE };

struct jwt_claims {
    char workspace[JWT_MAX_ID + 1];
    char attendee[JWT_MAX_ID + 1]; /* "" in a share token */
    enum jwt_role role;
    int64_t iat;
    int64_t exp;
};

/* A signed token for `claims` (malloc'd; free()), or NULL if the claims are
 * invalid (an id empty or too long, no attendee where one is needed). */
char *jwt_sign(const struct jwt_claims *claims, const void *key, size_t keylen);

/* Verify `token` at time `now`: 0 with *claims filled, or -1 with the reason
 * in err ("token expired", "token signature mismatch", ...). */
int jwt_verify(const char *token, const void *key, size_t keylen, int64_t now,
               struct jwt_claims *claims, char *err, size_t errlen);

/* base64url without padding (RFC 4648 section 5) of n bytes, malloc'd. */
char *jwt_b64url_encode(const void *data, size_t n);
/* Decode canonical unpadded base64url: malloc'd bytes and *n, or NULL. */
unsigned char *jwt_b64url_decode(const char *text, size_t len, size_t *n);

#endif
