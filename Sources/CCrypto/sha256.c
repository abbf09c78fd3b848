#include "dd_crypto.h"

#include <stdlib.h>
#include <nettle/sha2.h>

// Nettle (Debian's libnettle8) rather than OpenSSL's libcrypto: the same SHA extensions where the CPU has
// them, at a fraction of the resident memory a daemon pays for loading the library.
struct dd_sha256 { struct sha256_ctx ctx; };

dd_sha256 *dd_sha256_new(void) {
    dd_sha256 *h = malloc(sizeof *h);
    if (h) sha256_init(&h->ctx);
    return h;
}

void dd_sha256_update(dd_sha256 *h, const void *data, size_t count) {
    sha256_update(&h->ctx, count, (const uint8_t *)data);
}

void dd_sha256_finish(dd_sha256 *h, uint8_t digest[32]) {
    sha256_digest(&h->ctx, SHA256_DIGEST_SIZE, digest);
    free(h);
}

void dd_sha256_free(dd_sha256 *h) { free(h); }

// MARK: - Ed25519, base64, randomness

#include <errno.h>
#include <nettle/base64.h>
#include <nettle/eddsa.h>
#include <sys/random.h>

void dd_ed25519_public_key(const uint8_t private_key[32], uint8_t public_key[32]) {
    ed25519_sha512_public_key(public_key, private_key);
}

void dd_ed25519_sign(const uint8_t public_key[32], const uint8_t private_key[32], const uint8_t *message,
                     size_t length, uint8_t signature[64]) {
    ed25519_sha512_sign(public_key, private_key, length, message, signature);
}

int dd_ed25519_verify(const uint8_t public_key[32], const uint8_t *message, size_t length, const uint8_t signature[64]) {
    return ed25519_sha512_verify(public_key, length, message, signature) ? 1 : 0;
}

void dd_base64_encode(const uint8_t *data, size_t length, char *out) { base64_encode_raw(out, length, data); }

long dd_base64_decode(const char *text, size_t length, uint8_t *out) {
    struct base64_decode_ctx ctx;
    base64_decode_init(&ctx);
    size_t written = BASE64_DECODE_LENGTH(length);
    if (!base64_decode_update(&ctx, &written, out, length, text)) return -1;
    if (!base64_decode_final(&ctx)) return -1;
    return (long)written;
}

int dd_random_bytes(uint8_t *buffer, size_t count) {
    size_t done = 0;
    while (done < count) {
        ssize_t n = getrandom(buffer + done, count - done, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -errno;
        }
        done += (size_t)n;
    }
    return 0;
}
