// Digests: the content addresses of blobs ("sha256:<64 hex>"), and the hashers that make them.
//
// A Digest is validated when it is made (Digest::parse), so a Digest value is always safe to
// turn into a path (docs/security.md 17): only sha256 (64 lowercase hex) and sha512 (128 lowercase
// hex) are accepted. The hashers stream (update/finish) on OpenSSL's SHA256_CTX and SHA512_CTX, not
// EVP (digest.cpp says why); OpenSSL stays in the .cpp file.
#pragma once

#include <compare>
#include <cstddef>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace mkimg::oci {

/// The hash functions a Digest may name.
enum class DigestAlgorithm { kSha256, kSha512 };
/// Their names, as in "sha256:<hex>" and in a layout's blobs/<name>/, in the enum's order.
inline constexpr const char* kDigestAlgorithmNames[] = {"sha256", "sha512"};

/// A validated content digest "algorithm:encoded". Default-constructed it is empty (no value);
/// every function that turns a digest into a path refuses an empty one.
class Digest {
 public:
  Digest() = default;

  /// Parses "sha256:<64 lowercase hex>" or "sha512:<128 lowercase hex>"; throws mkimg::Error
  /// ("parse digest `s`: cause") for anything else.
  static Digest parse(std::string_view s);
  /// The same, returning nullopt instead of throwing.
  static std::optional<Digest> try_parse(std::string_view s);
  /// A digest from an algorithm and its lowercase hex; throws mkimg::Error when invalid.
  static Digest from_hex(DigestAlgorithm algorithm, std::string_view hex);

  bool empty() const { return encoded_.empty(); }
  DigestAlgorithm algorithm() const { return algorithm_; }
  std::string_view algorithm_name() const;                 ///< "sha256" or "sha512"
  const std::string& encoded() const { return encoded_; }  ///< the hex part
  std::string str() const;                                 ///< "sha256:<hex>"; "" when empty
  std::string short_id() const { return encoded_.substr(0, 12); }  ///< first 12 hex digits

  friend class Hasher;
  friend Digest digest_of(DigestAlgorithm algorithm, std::string_view bytes);
  friend bool operator==(const Digest&, const Digest&) = default;
  friend std::strong_ordering operator<=>(const Digest&, const Digest&) = default;

 private:
  DigestAlgorithm algorithm_ = DigestAlgorithm::kSha256;
  std::string encoded_;
};

/// A streaming hasher for one algorithm: update() any number of times, then finish() once.
class Hasher {
 public:
  explicit Hasher(DigestAlgorithm algorithm);
  ~Hasher();
  Hasher(Hasher&&) noexcept;
  Hasher& operator=(Hasher&&) noexcept;
  Hasher(const Hasher&) = delete;
  Hasher& operator=(const Hasher&) = delete;

  void update(const void* data, std::size_t size);
  void update(std::string_view bytes) { update(bytes.data(), bytes.size()); }
  /// The digest of everything given to update(); the hasher must not be used afterwards.
  Digest finish();

 private:
  struct State;
  std::unique_ptr<State> state_;
  DigestAlgorithm algorithm_;
};

/// The streaming SHA-256 hasher every blob in the store goes through.
class Sha256 : public Hasher {
 public:
  Sha256() : Hasher(DigestAlgorithm::kSha256) {}
};

/// A SHA-256 whose state between 64-byte blocks can be written down and taken up again
/// (OpenSSL's EVP cannot export it): a layer's diff_id goes on from the state an earlier
/// layer kept after its unchanged first gzip members (snapshot::BlobMember::tar_state)
/// instead of hashing their bytes again. Otherwise the same as Sha256.
class ResumableSha256 {
 public:
  ResumableSha256();
  ~ResumableSha256();
  ResumableSha256(ResumableSha256&&) noexcept;
  ResumableSha256& operator=(ResumableSha256&&) noexcept;
  ResumableSha256(const ResumableSha256&) = delete;
  ResumableSha256& operator=(const ResumableSha256&) = delete;

  void update(const void* data, std::size_t size);
  /// The state so far as 64 lowercase hex digits when the bytes hashed fill whole 64-byte
  /// blocks; "" otherwise.
  std::string mid_state() const;
  /// True when `state` may be a mid_state(): 64 lowercase hex digits.
  static bool is_mid_state(std::string_view state);
  /// Forgets what was hashed and goes on from `state`, the mid_state() of a hasher that had
  /// hashed `length` bytes; false (and nothing changed) when `state` is not a mid state or
  /// `length` not a multiple of 64.
  bool resume(std::string_view state, uint64_t length);
  /// The digest of everything hashed; the hasher must not be used afterwards.
  Digest finish();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

/// Lowercase hex of `bytes`, two digits a byte: the one hex encoder.
std::string hex_encode(std::string_view bytes);
/// The bytes `hex` (lowercase, two digits a byte) stands for; nullopt for anything else: the
/// one hex decoder.
std::optional<std::string> hex_decode(std::string_view hex);
/// True when every character of `s` is a lowercase hex digit (also for ""): the one check
/// that a name made of a hex digest (a cache tag, an image id prefix) is nothing else.
bool is_lower_hex(std::string_view s);

/// The sha256 digest of `bytes`.
Digest sha256_of(std::string_view bytes);
/// The 32 bytes of the SHA-256 of `bytes` into `out`, with an OpenSSL context kept per thread:
/// the one primitive under sha256_of, for many small inputs (a fingerprint per COPY entry).
void sha256_bytes(std::string_view bytes, unsigned char* out);
/// The digest of `bytes` with `algorithm`.
Digest digest_of(DigestAlgorithm algorithm, std::string_view bytes);
/// The digest of everything in the file open as `fd` (read from its start with pread, a MiB
/// at a time): the one loop that hashes a file. Throws mkimg::Error naming `path` when it
/// cannot be read, or when `keep_going` (asked after each MiB) says no ("interrupted").
Digest digest_of_fd(DigestAlgorithm algorithm, int fd, const std::filesystem::path& path,
                    const std::function<bool()>& keep_going = {});

}  // namespace mkimg::oci

template <>
struct std::hash<mkimg::oci::Digest> {
  std::size_t operator()(const mkimg::oci::Digest& d) const noexcept {
    return std::hash<std::string>{}(d.encoded());
  }
};
