// Digest parsing and the OpenSSL hashers.
// They call OpenSSL's SHA256_* and SHA512_* functions, which OpenSSL 3 marks deprecated, and not
// EVP: ResumableSha256 needs SHA256_CTX (EVP has no way to hand out or take a hash's state), and
// the first EVP digest of a process loads openssl.cnf and the default provider, about 2.5 ms of
// every command's start on this project's CI machine, for the same assembly underneath.
#define OPENSSL_SUPPRESS_DEPRECATED
#include "oci/digest.h"

#include <openssl/sha.h>
#include <unistd.h>

#include <cerrno>
#include <vector>

#include "common/error.h"

namespace mkimg::oci {

bool is_lower_hex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

std::optional<std::string> hex_decode(std::string_view hex) {
  if (hex.size() % 2 != 0 || !is_lower_hex(hex)) return std::nullopt;
  auto digit = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
  std::string out(hex.size() / 2, '\0');
  for (std::size_t i = 0; i < out.size(); ++i) {
    out[i] = static_cast<char>(digit(hex[2 * i]) << 4 | digit(hex[2 * i + 1]));
  }
  return out;
}

namespace {

std::size_t hex_length(DigestAlgorithm algorithm) {
  return algorithm == DigestAlgorithm::kSha256 ? 64 : 128;
}

std::optional<std::string> invalid_reason(std::string_view s, DigestAlgorithm& algorithm) {
  auto colon = s.find(':');
  if (colon == std::string_view::npos) return "missing `algorithm:`";
  std::string_view name = s.substr(0, colon), hex = s.substr(colon + 1);
  if (name == "sha256") {
    algorithm = DigestAlgorithm::kSha256;
  } else if (name == "sha512") {
    algorithm = DigestAlgorithm::kSha512;
  } else {
    return "unsupported algorithm (sha256 or sha512)";
  }
  if (hex.size() != hex_length(algorithm)) return "wrong length of the encoded part";
  if (!is_lower_hex(hex)) return "the encoded part is not lowercase hex";
  return std::nullopt;
}

/// Lowercase hex of the `length` bytes of a hash (valid by making: not parsed again).
std::string hex_of(const unsigned char* out, unsigned int length) {
  return hex_encode(std::string_view(reinterpret_cast<const char*>(out), length));
}

/// A SHA-256 or SHA-512 in progress: the one place that picks OpenSSL's functions for an
/// algorithm (Hasher keeps one on the heap, digest_of one on the stack).
class Sha2 {
 public:
  explicit Sha2(DigestAlgorithm algorithm) : algorithm_(algorithm) {
    if (is_sha256()) {
      SHA256_Init(&sha256_);
    } else {
      SHA512_Init(&sha512_);
    }
  }
  void update(const void* data, std::size_t size) {
    if (size == 0) return;
    if (is_sha256()) {
      SHA256_Update(&sha256_, data, size);
    } else {
      SHA512_Update(&sha512_, data, size);
    }
  }
  /// Lowercase hex of the hash of everything given to update(); the state must not be used
  /// afterwards.
  std::string finish_hex() {
    unsigned char out[SHA512_DIGEST_LENGTH];
    if (is_sha256()) {
      SHA256_Final(out, &sha256_);
      return hex_of(out, SHA256_DIGEST_LENGTH);
    }
    SHA512_Final(out, &sha512_);
    return hex_of(out, SHA512_DIGEST_LENGTH);
  }

 private:
  bool is_sha256() const { return algorithm_ == DigestAlgorithm::kSha256; }

  DigestAlgorithm algorithm_;
  SHA256_CTX sha256_{};
  SHA512_CTX sha512_{};
};

}  // namespace

std::optional<Digest> Digest::try_parse(std::string_view s) {
  DigestAlgorithm algorithm = DigestAlgorithm::kSha256;
  if (s.size() > 200 || invalid_reason(s, algorithm)) return std::nullopt;
  Digest d;
  d.algorithm_ = algorithm;
  d.encoded_ = std::string(s.substr(s.find(':') + 1));
  return d;
}

Digest Digest::parse(std::string_view s) {
  DigestAlgorithm algorithm = DigestAlgorithm::kSha256;
  std::string shown(s.substr(0, 200));
  if (s.size() > 200) throw Error(describe("parse digest", shown, "too long"));
  if (auto reason = invalid_reason(s, algorithm)) {
    throw Error(describe("parse digest", shown, *reason));
  }
  return *try_parse(s);
}

Digest Digest::from_hex(DigestAlgorithm algorithm, std::string_view hex) {
  std::string s = algorithm == DigestAlgorithm::kSha256 ? "sha256:" : "sha512:";
  return parse(s.append(hex));
}

std::string_view Digest::algorithm_name() const {
  return algorithm_ == DigestAlgorithm::kSha256 ? "sha256" : "sha512";
}

std::string Digest::str() const {
  if (empty()) return {};
  std::string s(algorithm_name());
  return s.append(":").append(encoded_);
}

struct Hasher::State : Sha2 {
  using Sha2::Sha2;
};

Hasher::Hasher(DigestAlgorithm algorithm)
    : state_(std::make_unique<State>(algorithm)), algorithm_(algorithm) {}

Hasher::~Hasher() = default;
Hasher::Hasher(Hasher&&) noexcept = default;
Hasher& Hasher::operator=(Hasher&&) noexcept = default;

void Hasher::update(const void* data, std::size_t size) { state_->update(data, size); }

struct ResumableSha256::State {
  SHA256_CTX ctx;
};

ResumableSha256::ResumableSha256() : state_(std::make_unique<State>()) {
  SHA256_Init(&state_->ctx);
}
ResumableSha256::~ResumableSha256() = default;
ResumableSha256::ResumableSha256(ResumableSha256&&) noexcept = default;
ResumableSha256& ResumableSha256::operator=(ResumableSha256&&) noexcept = default;

void ResumableSha256::update(const void* data, std::size_t size) {
  if (size > 0) SHA256_Update(&state_->ctx, data, size);
}

std::string ResumableSha256::mid_state() const {
  const SHA256_CTX& c = state_->ctx;
  if (c.num != 0) return "";
  unsigned char bytes[32];
  for (int i = 0; i < 8; ++i) {
    for (int b = 0; b < 4; ++b)
      bytes[i * 4 + b] = static_cast<unsigned char>(c.h[i] >> (24 - 8 * b));
  }
  return hex_of(bytes, sizeof bytes);
}

bool ResumableSha256::is_mid_state(std::string_view state) {
  return state.size() == 64 && is_lower_hex(state);
}

bool ResumableSha256::resume(std::string_view state, uint64_t length) {
  auto bytes = is_mid_state(state) ? hex_decode(state) : std::nullopt;
  if (!bytes || length % 64 != 0) return false;
  SHA256_CTX c;
  SHA256_Init(&c);
  for (std::size_t i = 0; i < 8; ++i) {
    SHA_LONG word = 0;
    for (std::size_t b = 0; b < 4; ++b)
      word = word << 8 | static_cast<unsigned char>((*bytes)[i * 4 + b]);
    c.h[i] = word;
  }
  uint64_t bits = length * 8;  // SHA256_Update keeps the length in bits, in two halves
  c.Nl = static_cast<SHA_LONG>(bits & 0xffffffffu);
  c.Nh = static_cast<SHA_LONG>(bits >> 32);
  state_->ctx = c;
  return true;
}

Digest ResumableSha256::finish() {
  unsigned char out[SHA256_DIGEST_LENGTH];
  SHA256_Final(out, &state_->ctx);
  return Digest::from_hex(DigestAlgorithm::kSha256, hex_of(out, sizeof out));
}

std::string hex_encode(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(bytes.size() * 2);
  for (char c : bytes) {
    hex.push_back(kHex[static_cast<unsigned char>(c) >> 4]);
    hex.push_back(kHex[static_cast<unsigned char>(c) & 0xf]);
  }
  return hex;
}

Digest Hasher::finish() {
  Digest d;
  d.algorithm_ = algorithm_;
  d.encoded_ = state_->finish_hex();
  return d;
}

// Not OpenSSL's one-shot SHA256() and SHA512(): in OpenSSL 3 they go through EVP.
void sha256_bytes(std::string_view bytes, unsigned char* out) {
  SHA256_CTX c;
  SHA256_Init(&c);
  SHA256_Update(&c, bytes.data(), bytes.size());
  SHA256_Final(out, &c);
}

Digest digest_of(DigestAlgorithm algorithm, std::string_view bytes) {
  Sha2 sha(algorithm);
  sha.update(bytes.data(), bytes.size());
  Digest d;
  d.algorithm_ = algorithm;
  d.encoded_ = sha.finish_hex();
  return d;
}

Digest digest_of_fd(DigestAlgorithm algorithm, int fd, const std::filesystem::path& path,
                    const std::function<bool()>& keep_going) {
  Hasher h(algorithm);
  std::vector<char> buf(1 << 20);
  for (off_t at = 0;;) {
    ssize_t n = ::pread(fd, buf.data(), buf.size(), at);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw sys_error("read", path.string());
    if (n == 0) break;
    h.update(buf.data(), static_cast<std::size_t>(n));
    at += n;
    if (keep_going && !keep_going()) throw Error(describe("hash", path.string(), "interrupted"));
  }
  return h.finish();
}

Digest sha256_of(std::string_view bytes) { return digest_of(DigestAlgorithm::kSha256, bytes); }

}  // namespace mkimg::oci
