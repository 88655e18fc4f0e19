#include "snapshot/sha256.h"

#include <openssl/evp.h>

#include "common/error.h"
#include "oci/digest.h"

namespace mkimg::snapshot {

struct Sha256Stream::State {
  EVP_MD_CTX* ctx = nullptr;
  ~State() { EVP_MD_CTX_free(ctx); }
};

Sha256Stream::Sha256Stream() : state_(std::make_unique<State>()) {
  state_->ctx = EVP_MD_CTX_new();
  if (state_->ctx == nullptr || EVP_DigestInit_ex(state_->ctx, EVP_sha256(), nullptr) != 1) {
    throw Error(describe("start", "sha256", "OpenSSL failed"));
  }
}

Sha256Stream::~Sha256Stream() = default;

void Sha256Stream::update(const void* data, std::size_t size) {
  if (size > 0) EVP_DigestUpdate(state_->ctx, data, size);
}

std::string Sha256Stream::finish() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(state_->ctx, md, &len);
  return "sha256:" + oci::hex_encode(std::string_view(reinterpret_cast<const char*>(md), len));
}

}  // namespace mkimg::snapshot
