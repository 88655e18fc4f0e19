// Internal to snapshot/: a streaming SHA-256 (OpenSSL EVP stays in sha256.cpp).
#pragma once

#include <cstddef>
#include <memory>
#include <string>

namespace mkimg::snapshot {

/// A streaming SHA-256 whose result is the "sha256:<hex>" string layers are named by.
class Sha256Stream {
 public:
  Sha256Stream();
  ~Sha256Stream();
  Sha256Stream(const Sha256Stream&) = delete;
  Sha256Stream& operator=(const Sha256Stream&) = delete;

  void update(const void* data, std::size_t size);
  /// "sha256:<64 hex>" of everything given to update(); call once.
  std::string finish();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace mkimg::snapshot
