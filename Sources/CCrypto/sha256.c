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

int dd_sha256_update(dd_sha256 *h, const void *data, size_t count) {
    sha256_update(&h->ctx, count, (const uint8_t *)data);
    return 0;
}

int dd_sha256_finish(dd_sha256 *h, uint8_t digest[32]) {
    sha256_digest(&h->ctx, SHA256_DIGEST_SIZE, digest);
    free(h);
    return 0;
}

void dd_sha256_free(dd_sha256 *h) { free(h); }
