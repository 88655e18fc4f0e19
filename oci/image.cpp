// Manifest and Index: canonical JSON and strict parsing (docs/security.md 12, 18).
#include "oci/image.h"

#include "common/error.h"
#include "oci/json_detail.h"
#include "oci/media_types.h"

namespace mkimg::oci {

using detail::Json;

namespace {

void check_schema_version(const Json& j, std::string_view what) {
  auto it = j.find("schemaVersion");
  if (it == j.end() || !it->is_number_integer() || it->get<std::int64_t>() != 2) {
    throw Error(describe("parse", what, "schemaVersion must be 2"));
  }
}

std::map<std::string, std::string> annotations_from(const Json& j, std::string_view what) {
  std::map<std::string, std::string> out;
  auto it = j.find("annotations");
  if (it == j.end() || it->is_null()) return out;
  if (!it->is_object()) throw Error(describe("parse", what, "annotations is not an object"));
  for (const auto& [k, v] : it->items()) {
    if (!v.is_string()) throw Error(describe("parse", what, "annotation value not a string"));
    out[k] = v.get<std::string>();
  }
  return out;
}

std::optional<std::string> optional_string(const Json& j, const char* key, std::string_view what) {
  if (!j.contains(key) || j[key].is_null()) return std::nullopt;
  return detail::string_member(j, key, what);
}

std::optional<Descriptor> optional_descriptor(const Json& j, const char* key,
                                              std::string_view what) {
  if (!j.contains(key) || j[key].is_null()) return std::nullopt;
  return detail::descriptor_from_json(j[key], what);
}

std::vector<Descriptor> descriptor_list(const Json& j, const char* key, std::string_view what) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_array()) {
    throw Error(describe("parse", what, std::string(key) + " must be an array"));
  }
  std::vector<Descriptor> out;
  for (const auto& d : *it) out.push_back(detail::descriptor_from_json(d, what));
  return out;
}

void add_common(Json& j, int schema_version, const std::string& media_type,
                const std::optional<std::string>& artifact_type,
                const std::optional<Descriptor>& subject,
                const std::map<std::string, std::string>& annotations) {
  j["schemaVersion"] = schema_version;
  if (!media_type.empty()) j["mediaType"] = media_type;
  if (artifact_type) j["artifactType"] = *artifact_type;
  if (subject) j["subject"] = detail::descriptor_to_json(*subject);
  if (!annotations.empty()) j["annotations"] = annotations;
}

Manifest manifest_from(const Json& j) {
  constexpr std::string_view what = "manifest";
  check_schema_version(j, what);
  if (j.contains("manifests")) {
    throw Error(describe("parse", what, "document has both `manifests` and a manifest's fields"));
  }
  Manifest m;
  m.media_type = detail::string_member(j, "mediaType", what);
  if (!m.media_type.empty() && !media_type::is_manifest(m.media_type)) {
    throw Error(describe("parse", what, "unexpected mediaType `" + m.media_type + "`"));
  }
  if (!j.contains("config")) throw Error(describe("parse", what, "missing config"));
  m.config = detail::descriptor_from_json(j["config"], what);
  m.layers = descriptor_list(j, "layers", what);
  m.artifact_type = optional_string(j, "artifactType", what);
  m.subject = optional_descriptor(j, "subject", what);
  m.annotations = annotations_from(j, what);
  return m;
}

Index index_from(const Json& j) {
  constexpr std::string_view what = "index";
  check_schema_version(j, what);
  if (j.contains("config") || j.contains("layers")) {
    throw Error(describe("parse", what, "document has both `manifests` and a manifest's fields"));
  }
  Index x;
  x.media_type = detail::string_member(j, "mediaType", what);
  if (!x.media_type.empty() && !media_type::is_index(x.media_type)) {
    throw Error(describe("parse", what, "unexpected mediaType `" + x.media_type + "`"));
  }
  x.manifests = descriptor_list(j, "manifests", what);
  x.artifact_type = optional_string(j, "artifactType", what);
  x.subject = optional_descriptor(j, "subject", what);
  x.annotations = annotations_from(j, what);
  return x;
}

}  // namespace

std::string to_json(const Descriptor& descriptor) {
  return detail::dump_canonical(detail::descriptor_to_json(descriptor));
}

std::string to_json(const Manifest& m) {
  Json j = Json::object();
  add_common(j, m.schema_version, m.media_type, m.artifact_type, m.subject, m.annotations);
  j["config"] = detail::descriptor_to_json(m.config);
  j["layers"] = Json::array();
  for (const auto& l : m.layers) j["layers"].push_back(detail::descriptor_to_json(l));
  return detail::dump_canonical(j);
}

std::string to_json(const Index& x) {
  Json j = Json::object();
  add_common(j, x.schema_version, x.media_type, x.artifact_type, x.subject, x.annotations);
  j["manifests"] = Json::array();
  for (const auto& m : x.manifests) j["manifests"].push_back(detail::descriptor_to_json(m));
  return detail::dump_canonical(j);
}

Descriptor parse_descriptor(std::string_view json) {
  return detail::descriptor_from_json(
      detail::parse_json_object(json, "descriptor", kMaxDocumentSize), "descriptor");
}

Manifest parse_manifest(std::string_view json) {
  return manifest_from(detail::parse_json_object(json, "manifest", kMaxDocumentSize));
}

Index parse_index(std::string_view json) {
  return index_from(detail::parse_json_object(json, "index", kMaxDocumentSize));
}

ManifestDocument parse_manifest_document(std::string_view json, std::string_view media_type) {
  Json j = detail::parse_json_object(json, "manifest", kMaxDocumentSize);
  std::string own = detail::string_member(j, "mediaType", "manifest");
  if (!media_type.empty() && !own.empty() && own != media_type) {
    throw Error(describe(
        "parse", "manifest",
        "mediaType `" + own + "` differs from the expected `" + std::string(media_type) + "`"));
  }
  std::string type = own.empty() ? std::string(media_type) : own;
  bool index_like = j.contains("manifests");
  bool manifest_like = j.contains("config") || j.contains("layers");
  if (index_like && manifest_like) {
    throw Error(describe("parse", "manifest", "document is both an index and a manifest"));
  }
  if (media_type::is_index(type) || (type.empty() && index_like)) return index_from(j);
  if (media_type::is_manifest(type) || (type.empty() && manifest_like)) return manifest_from(j);
  throw Error(describe("parse", "manifest",
                       type.empty() ? "no mediaType" : "unsupported mediaType `" + type + "`"));
}

}  // namespace mkimg::oci
