// The SLSA provenance v1 statement of a platform's image, its attestation manifest, and the
// way back from one (mkimg verify).
#include "builder/provenance.h"

#include <nlohmann/json.hpp>

#include "builder/build_state.h"
#include "common/error.h"
#include "common/version.h"
#include "oci/digest.h"
#include "oci/image.h"
#include "oci/media_types.h"
#include "oci/reference.h"
#include "oci/store.h"
#include "registry/encoding.h"

namespace mkimg::builder {
namespace {

using json = nlohmann::json;

constexpr const char* kInTotoStatementV1 = "https://in-toto.io/Statement/v1";
constexpr const char* kInTotoMediaType = "application/vnd.in-toto+json";
constexpr const char* kPredicateTypeAnnotation = "in-toto.io/predicate-type";
constexpr const char* kReferenceType = "vnd.docker.reference.type";
constexpr const char* kReferenceDigest = "vnd.docker.reference.digest";
/// BuildKit's build type: the predicate has its structure (tools that read BuildKit's
/// provenance read this one); mkimg's own fields are under runDetails.metadata.mkimg.
constexpr const char* kBuildType =
    "https://github.com/moby/buildkit/blob/master/docs/attestations/slsa-definitions.md";

/// BuildKit's RefToPURL: pkg:docker/<namespace>/<name>@<tag>?platform=<os/arch>, the name in its
/// familiar form; nullopt for what is no image reference (a transport such as oci:DIR).
std::optional<std::string> image_purl(const std::string& name, const std::string& platform) {
  auto ref = oci::Reference::try_parse(name);
  if (!ref) return std::nullopt;
  std::string familiar = ref->familiar_repository();
  std::string path;
  std::size_t slash = familiar.rfind('/');
  if (slash != std::string::npos) {
    std::string ns = familiar.substr(0, slash);
    for (std::size_t start = 0; start <= ns.size();) {
      std::size_t end = std::min(ns.find('/', start), ns.size());
      path += registry::percent_encode(ns.substr(start, end - start)) + "/";
      start = end + 1;
    }
    familiar = familiar.substr(slash + 1);
  }
  std::string out = "pkg:docker/" + path + registry::percent_encode(familiar);
  if (!ref->digest) out += "@" + registry::percent_encode(ref->tag.value_or("latest"));
  std::string query;
  if (ref->digest) query += "digest=" + registry::percent_encode(ref->digest->str());
  if (!platform.empty())
    query += (query.empty() ? "" : "&") + ("platform=" + registry::percent_encode(platform));
  return query.empty() ? out : out + "?" + query;
}

json digest_set(const std::string& digest) {
  oci::Digest d = oci::Digest::parse(digest);
  return json{{std::string(d.algorithm_name()), d.encoded()}};
}

std::string digest_of_set(const json& set) {
  if (!set.is_object() || set.size() != 1) return "";
  return set.begin().key() + ":" + set.begin().value().get<std::string>();
}

}  // namespace

std::string provenance_statement(const ProvenanceFacts& f) {
  const bool max = f.mode == ProvenanceMode::kMax;
  json subjects = json::array();
  for (const auto& tag : f.tags.empty() ? std::vector<std::string>{"_"} : f.tags) {
    std::string name = tag == "_" ? tag : image_purl(tag, f.platform).value_or(tag);
    subjects.push_back({{"name", name}, {"digest", digest_set(f.manifest.digest.str())}});
  }
  json args = json::object();
  if (!f.target.empty()) args["target"] = f.target;
  for (const auto& [name, value] : f.contexts) args["context:" + name] = value;
  if (max) {
    for (const auto& [k, v] : f.build_args) args["build-arg:" + k] = v;
    for (const auto& [k, v] : f.labels) args["label:" + k] = v;
  }
  json request{{"frontend", "dockerfile.v0"},
               {"args", args},
               {"locals", json::array({{{"name", "context"}}, {{"name", "dockerfile"}}})}};
  if (max) {
    json secrets = json::array();
    for (const auto& id : f.secrets) secrets.push_back({{"id", id}});
    json ssh = json::array();
    for (const auto& id : f.ssh) ssh.push_back({{"id", id}});
    if (!secrets.empty()) request["secrets"] = secrets;
    if (!ssh.empty()) request["ssh"] = ssh;
  }
  json deps = json::array();
  json images = json::object();
  for (const auto& [name, digest] : f.images) {
    images[name] = digest;
    json dep{{"digest", digest_set(digest)}};
    if (auto purl = image_purl(name, f.platform)) {
      dep["uri"] = *purl;
    } else {
      dep["name"] = name;
    }
    deps.push_back(dep);
  }
  if (!f.context_digest.empty()) {
    deps.push_back({{"name", "context"}, {"digest", digest_set(f.context_digest)}});
  }
  json mkimg{{"version", std::string(kVersion)},
             {"platform", f.platform},
             {"images", images},
             {"contextDigest", f.context_digest}};
  if (f.source_date_epoch) mkimg["sourceDateEpoch"] = *f.source_date_epoch;
  json metadata{{"buildkit_completeness", {{"request", max}, {"resolvedDependencies", false}}},
                {"buildkit_hermetic", !f.network},
                {"buildkit_reproducible", f.source_date_epoch.has_value()},
                {"mkimg", mkimg}};
  // A reproducible build's statement is reproducible too: no clock, no random id.
  if (!f.source_date_epoch) {
    if (!f.invocation_id.empty()) metadata["invocationID"] = f.invocation_id;
    if (!f.started_on.empty()) metadata["startedOn"] = f.started_on;
    if (!f.finished_on.empty()) metadata["finishedOn"] = f.finished_on;
  }
  if (max && !f.dockerfile_text.empty()) {
    metadata["buildkit_metadata"] = {
        {"source",
         {{"infos", json::array({{{"filename", f.dockerfile_name},
                                  {"language", "Dockerfile"},
                                  {"data", registry::base64_encode(f.dockerfile_text)}}})}}}};
  }
  json internal{{"builderPlatform", oci::to_string(oci::host_platform())}};
  json predicate{{"buildDefinition",
                  {{"buildType", kBuildType},
                   {"externalParameters",
                    {{"configSource",
                      {{"path", f.dockerfile_name}, {"digest", digest_set(f.dockerfile_digest)}}},
                     {"request", request}}},
                   {"internalParameters", internal},
                   {"resolvedDependencies", deps}}},
                 {"runDetails",
                  {{"builder", {{"id", "pkg:generic/mkimg@" + std::string(kVersion)}}},
                   {"metadata", metadata}}}};
  json statement{{"_type", kInTotoStatementV1},
                 {"predicateType", kSlsaProvenanceV1},
                 {"subject", subjects},
                 {"predicate", predicate}};
  return statement.dump();
}

ProvenanceFacts provenance_facts(const BuildSession& session, const oci::Descriptor& manifest) {
  const BuildOptions& o = *session.options;
  ProvenanceFacts f;
  f.mode = o.provenance;
  oci::Image image = oci::load_image(*session.store, manifest);
  f.platform = oci::to_string(oci::Platform{.architecture = image.config.architecture,
                                            .os = image.config.os,
                                            .variant = image.config.variant.value_or("")});
  f.manifest = manifest;
  f.tags = o.tags;
  f.dockerfile_name = o.dockerfile_name;
  f.dockerfile_digest = oci::sha256_of(o.dockerfile_text).str();
  f.dockerfile_text = o.dockerfile_text;
  f.build_args = o.build_args;
  f.labels = o.labels;
  f.target = o.target;
  for (const auto& c : o.named_contexts) {
    f.contexts[c.name] = !c.git.empty() ? c.git
                         : !c.image.empty()
                             ? (c.image.starts_with("oci:") ? c.image : "docker-image://" + c.image)
                             : "local:" + c.name;
  }
  for (const auto& s : o.secrets) f.secrets.push_back(s.id);
  for (const auto& s : o.ssh) f.ssh.push_back(s.id);
  f.source_date_epoch = o.source_date_epoch;
  f.images = session.inputs.images;
  oci::Sha256 context;
  for (const auto& line : session.inputs.context_files) context.update(line + "\n");
  f.context_digest = context.finish().str();
  f.network = session.inputs.network;
  return f;
}

oci::Descriptor write_attestation(const oci::Store& store, const ProvenanceFacts& facts) {
  oci::Descriptor layer = store.put_blob(provenance_statement(facts), kInTotoMediaType);
  layer.annotations[kPredicateTypeAnnotation] = kSlsaProvenanceV1;
  // BuildKit's attestation config: an image of platform unknown/unknown whose diff_ids are the
  // statements' digests.
  json config{{"architecture", "unknown"},
              {"os", "unknown"},
              {"config", json::object()},
              {"rootfs", {{"type", "layers"}, {"diff_ids", json::array({layer.digest.str()})}}}};
  oci::Manifest manifest;
  manifest.media_type = std::string(oci::media_type::kOciManifest);
  manifest.config = store.put_blob(config.dump(), oci::media_type::kOciConfig);
  manifest.layers.push_back(layer);
  oci::Descriptor d = store.put_blob(oci::to_json(manifest), oci::media_type::kOciManifest);
  d.platform = oci::Platform{.architecture = "unknown", .os = "unknown"};
  d.annotations[kReferenceType] = "attestation-manifest";
  d.annotations[kReferenceDigest] = facts.manifest.digest.str();
  return d;
}

RecordedBuild parse_provenance(std::string_view statement) {
  RecordedBuild r;
  try {
    json s = json::parse(statement);
    if (s.value("predicateType", "") != kSlsaProvenanceV1) {
      throw Error("not a SLSA provenance v1 statement");
    }
    const json& subject = s.at("subject");
    if (!subject.is_array() || subject.empty()) throw Error("no subject");
    r.subject = digest_of_set(subject.at(0).at("digest"));
    const json& def = s.at("predicate").at("buildDefinition");
    const json& source = def.at("externalParameters").at("configSource");
    r.dockerfile_name = source.value("path", "Dockerfile");
    r.dockerfile_digest = digest_of_set(source.at("digest"));
    const json& request = def.at("externalParameters").at("request");
    const json args = request.value("args", json::object());  // kept: items() refers to it
    for (const auto& [k, v] : args.items()) {
      std::string value = v.get<std::string>();
      if (k.starts_with("build-arg:")) r.build_args[k.substr(10)] = value;
      if (k.starts_with("label:")) r.labels[k.substr(6)] = value;
      if (k == "target") r.target = value;
      if (k.starts_with("context:")) r.contexts[k.substr(8)] = value;
    }
    const json& metadata = s.at("predicate").at("runDetails").at("metadata");
    r.request_complete =
        metadata.value("buildkit_completeness", json::object()).value("request", false);
    if (!metadata.contains("mkimg"))
      throw Error("not made by mkimg (no runDetails.metadata.mkimg)");
    const json& mine = metadata.at("mkimg");
    r.mkimg_version = mine.value("version", "");
    r.platform = mine.at("platform").get<std::string>();
    r.context_digest = mine.value("contextDigest", "");
    if (mine.contains("sourceDateEpoch")) {
      r.source_date_epoch = mine.at("sourceDateEpoch").get<std::int64_t>();
    }
    const json images = mine.value("images", json::object());
    for (const auto& [name, digest] : images.items()) {
      r.images[name] = digest.get<std::string>();
    }
    if (metadata.contains("buildkit_metadata")) {
      const json infos = metadata["buildkit_metadata"]
                             .value("source", json::object())
                             .value("infos", json::array());
      for (const auto& info : infos) {
        if (info.value("language", "") != "Dockerfile") continue;
        r.dockerfile_text = registry::base64_decode(info.value("data", "")).value_or("");
      }
    }
  } catch (const json::exception& e) {
    throw Error(std::string("read provenance: malformed statement: ") + e.what());
  } catch (const Error& e) {
    throw with_context("read provenance", e);
  }
  return r;
}

std::vector<RecordedBuild> read_provenance(const oci::Store& store, const oci::Descriptor& top) {
  if (!oci::media_type::is_index(top.media_type)) {
    throw Error(describe("read provenance", top.digest.str(),
                         "the image is one manifest, with no attestations (build it with "
                         "--provenance; a pulled one: `mkimg pull --all-platforms` brings them)"));
  }
  oci::Index index = oci::parse_index(store.read_blob(top.digest));
  std::vector<RecordedBuild> out;
  for (const auto& m : index.manifests) {
    if (!m.platform || m.platform->os == "unknown") continue;
    const oci::Descriptor* attestation = nullptr;
    for (const auto& a : index.manifests) {
      auto type = a.annotations.find(kReferenceType);
      auto ref = a.annotations.find(kReferenceDigest);
      if (type != a.annotations.end() && type->second == "attestation-manifest" &&
          ref != a.annotations.end() && ref->second == m.digest.str()) {
        attestation = &a;
      }
    }
    std::string platform = oci::to_string(*m.platform);
    if (!attestation) {
      throw Error(
          describe("read provenance", platform, "no attestation manifest for " + m.digest.str()));
    }
    oci::Manifest manifest = oci::parse_manifest(store.read_blob(attestation->digest));
    bool found = false;
    for (const auto& layer : manifest.layers) {
      auto type = layer.annotations.find(kPredicateTypeAnnotation);
      if (type == layer.annotations.end() || type->second != kSlsaProvenanceV1) continue;
      RecordedBuild r = parse_provenance(store.read_blob(layer.digest));
      if (r.subject != m.digest.str()) {
        throw Error(describe("read provenance", platform,
                             "the statement is about " + r.subject + ", not " + m.digest.str()));
      }
      out.push_back(std::move(r));
      found = true;
      break;
    }
    if (!found) {
      throw Error(describe("read provenance", platform, "no SLSA provenance v1 statement"));
    }
  }
  return out;
}

}  // namespace mkimg::builder
