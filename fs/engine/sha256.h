/* sha256.h - SHA-256 (FIPS 180-4), one-shot over a buffer.
 *
 * The shop stores sessions as the SHA-256 of their tokens, so that neither
 * the state file nor a snapshot holds a token that works.  One call per
 * digest is all it needs: no streaming interface.  Both functions are pure
 * (no state, no locks) and never fail.
 */
#ifndef RWFS_SHA256_H
#define RWFS_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_BYTES 32

/* The digest of len bytes at data into out.  data may be NULL when len is 0. */
void sha256(const void *data, size_t len, uint8_t out[SHA256_BYTES]);

/* The digest as 64 lowercase hex digits and a NUL. */
void sha256_hex(const void *data, size_t len, char out[2 * SHA256_BYTES + 1]);

#endif
