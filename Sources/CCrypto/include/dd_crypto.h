#ifndef DD_CRYPTO_H
#define DD_CRYPTO_H
#include <stddef.h>
#include <stdint.h>

/// Incremental SHA-256 through Nettle (hardware accelerated where the CPU allows).
typedef struct dd_sha256 dd_sha256;

/// Creates a hashing context, or NULL when out of memory.
dd_sha256 *dd_sha256_new(void);
/// Feeds bytes (cannot fail).
void dd_sha256_update(dd_sha256 *ctx, const void *data, size_t count);
/// Writes the 32-byte digest and frees the context (cannot fail).
void dd_sha256_finish(dd_sha256 *ctx, uint8_t digest[32]);
/// Frees a context without finishing it.
void dd_sha256_free(dd_sha256 *ctx);

/// Ed25519 (RFC 8032, SHA-512) through Nettle. Keys are 32 bytes, signatures 64.

/// Derives the public key of a 32-byte private key. The corresponding C function is
/// `ed25519_sha512_public_key`.
void dd_ed25519_public_key(const uint8_t private_key[32], uint8_t public_key[32]);

/// Signs `length` bytes. The corresponding C function is `ed25519_sha512_sign`.
void dd_ed25519_sign(const uint8_t public_key[32], const uint8_t private_key[32], const uint8_t *message,
                     size_t length, uint8_t signature[64]);

/// 1 if `signature` is a valid signature of the message by `public_key`, else 0 (also for keys that are not
/// points of the curve). The corresponding C function is `ed25519_sha512_verify`.
int dd_ed25519_verify(const uint8_t public_key[32], const uint8_t *message, size_t length, const uint8_t signature[64]);

/// Base64 (RFC 4648, with padding) through Nettle.

/// Writes the encoding of `length` bytes (exactly 4 * ceil(length / 3) characters, no terminator) to `out`.
void dd_base64_encode(const uint8_t *data, size_t length, char *out);

/// Decodes `length` characters into `out` (room for 3 * length / 4 + 1 bytes); returns the number of bytes,
/// or -1 if the text is not valid base64. Whitespace is not allowed.
long dd_base64_decode(const char *text, size_t length, uint8_t *out);

/// Fills `buffer` with bytes from the kernel's random number generator (`getrandom`, blocking until it is
/// seeded). Returns 0, or -errno.
int dd_random_bytes(uint8_t *buffer, size_t count);
#endif
