#include "dd_crypto.h"
#include <openssl/evp.h>

struct dd_sha256 { EVP_MD_CTX *md; };

dd_sha256 *dd_sha256_new(void) {
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!md) return NULL;
    if (EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) { EVP_MD_CTX_free(md); return NULL; }
    dd_sha256 *ctx = (dd_sha256 *)OPENSSL_malloc(sizeof *ctx);
    if (!ctx) { EVP_MD_CTX_free(md); return NULL; }
    ctx->md = md;
    return ctx;
}

int dd_sha256_update(dd_sha256 *ctx, const void *data, size_t count) {
    return EVP_DigestUpdate(ctx->md, data, count) == 1 ? 0 : -1;
}

int dd_sha256_finish(dd_sha256 *ctx, uint8_t digest[32]) {
    unsigned int len = 0;
    int ok = EVP_DigestFinal_ex(ctx->md, digest, &len) == 1 && len == 32;
    dd_sha256_free(ctx);
    return ok ? 0 : -1;
}

void dd_sha256_free(dd_sha256 *ctx) {
    if (!ctx) return;
    EVP_MD_CTX_free(ctx->md);
    OPENSSL_free(ctx);
}
