// Provenance: an in-toto statement with a SLSA provenance v1 predicate for each platform's image
// of a build (`--provenance`, `--attest type=provenance,mode=min|max`), attached as BuildKit
// attaches it so existing tools read it: an attestation manifest in the image index (platform
// unknown/unknown, annotations vnd.docker.reference.type=attestation-manifest and
// vnd.docker.reference.digest=<the image manifest>) whose one layer
// (application/vnd.in-toto+json) is the statement. The predicate has BuildKit's fields (the
// Dockerfile's path and digest, the request's args, the base images as package URLs with their
// digests, builderPlatform, hermetic, reproducible, completeness) and mkimg's own extension
// under runDetails.metadata.mkimg: its version, the platform, SOURCE_DATE_EPOCH, each base as
// the Dockerfile named it with the manifest digest used, and the context's digest (a digest over
// the content keys of every context file a COPY or ADD read, from the step cache's hashes).
// read_provenance() is the way back, for `mkimg verify`.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "builder/build.h"
#include "oci/descriptor.h"

namespace mkimg::oci {
class Store;
}

namespace mkimg::builder {

struct BuildSession;

/// The in-toto predicate type of a SLSA provenance v1 statement.
inline constexpr const char* kSlsaProvenanceV1 = "https://slsa.dev/provenance/v1";

/// What one platform's build used, for its provenance.
struct ProvenanceFacts {
  ProvenanceMode mode = ProvenanceMode::kMin;
  std::string platform;           ///< os/arch[/variant] of the image
  oci::Descriptor manifest;       ///< the image's manifest (the statement's subject)
  std::vector<std::string> tags;  ///< -t names: one subject each ("_" when none)
  std::string dockerfile_name;    ///< the Dockerfile's name as given (-f), e.g. "Dockerfile"
  std::string dockerfile_digest;  ///< sha256:... of its bytes
  std::string dockerfile_text;    ///< mode=max: recorded whole
  std::map<std::string, std::string> build_args;  ///< mode=max
  std::map<std::string, std::string> labels;      ///< mode=max
  std::string target;
  /// --build-context NAME -> "docker-image://REF" (or the oci: spec), the git URL, or
  /// "local:NAME" for a directory: BuildKit's `context:NAME` args.
  std::map<std::string, std::string> contexts;
  std::vector<std::string> secrets;  ///< ids, mode=max
  std::vector<std::string> ssh;      ///< ids, mode=max
  std::optional<std::int64_t> source_date_epoch;
  /// Each base and --from image as the Dockerfile named it (expanded) -> the manifest digest used.
  std::map<std::string, std::string> images;
  std::string context_digest;           ///< sha256:... over the context files the build read
  bool network = false;                 ///< a RUN had the network
  std::string started_on, finished_on;  ///< RFC 3339; left out of reproducible builds
  std::string invocation_id;            ///< left out of reproducible builds
};

/// The statement's JSON (canonical: sorted keys, no spaces).
std::string provenance_statement(const ProvenanceFacts& facts);

/// The facts a finished platform build recorded (session.inputs), with the options it ran with.
ProvenanceFacts provenance_facts(const BuildSession& session, const oci::Descriptor& manifest);

/// Writes the statement and its attestation manifest into the store and returns the descriptor
/// to list in the image index (platform unknown/unknown, the two vnd.docker.reference
/// annotations).
oci::Descriptor write_attestation(const oci::Store& store, const ProvenanceFacts& facts);

/// What a provenance statement says, as `mkimg verify` needs it.
struct RecordedBuild {
  std::string platform;
  std::string subject;  ///< the image manifest digest it is about
  std::string dockerfile_name;
  std::string dockerfile_digest;
  std::string dockerfile_text;  ///< "" unless recorded (mode=max)
  std::map<std::string, std::string> build_args;
  std::map<std::string, std::string> labels;
  std::string target;
  std::map<std::string, std::string> contexts;  ///< as ProvenanceFacts::contexts
  bool request_complete = false;  ///< false for mode=min: build args and labels not recorded
  std::optional<std::int64_t> source_date_epoch;
  std::map<std::string, std::string> images;
  std::string context_digest;
  std::string mkimg_version;
};

/// Reads a statement written by provenance_statement(); throws mkimg::Error naming what is
/// missing when it is not one of mkimg's.
RecordedBuild parse_provenance(std::string_view statement);

/// The provenance of each platform's image of the index `top` names in the store, by platform
/// ("linux/amd64"), in the index's order. Throws mkimg::Error when `top` is no index or lists no
/// attestation for an image.
std::vector<RecordedBuild> read_provenance(const oci::Store& store, const oci::Descriptor& top);

}  // namespace mkimg::builder
