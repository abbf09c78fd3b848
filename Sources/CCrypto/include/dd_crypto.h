#ifndef DD_CRYPTO_H
#define DD_CRYPTO_H
#include <stddef.h>
#include <stdint.h>

/// Incremental SHA-256 through Nettle (hardware accelerated where the CPU allows).
typedef struct dd_sha256 dd_sha256;

/// Creates a hashing context, or NULL when out of memory.
dd_sha256 *dd_sha256_new(void);
/// Feeds bytes. Returns 0 on success.
int dd_sha256_update(dd_sha256 *ctx, const void *data, size_t count);
/// Writes the 32-byte digest and frees the context. Returns 0 on success.
int dd_sha256_finish(dd_sha256 *ctx, uint8_t digest[32]);
/// Frees a context without finishing it.
void dd_sha256_free(dd_sha256 *ctx);
#endif
