// JSON helpers shared inside oci/: strict object parsing, canonical output, descriptors.
#include "oci/json_detail.h"

#include "common/error.h"

namespace mkimg::oci::detail {
namespace {

Json platform_to_json(const Platform& p) {
  Json j = Json::object();
  j["architecture"] = p.architecture;
  j["os"] = p.os;
  if (!p.os_version.empty()) j["os.version"] = p.os_version;
  if (!p.os_features.empty()) j["os.features"] = p.os_features;
  if (!p.variant.empty()) j["variant"] = p.variant;
  return j;
}

Platform platform_from_json(const Json& j, std::string_view what) {
  if (!j.is_object()) throw Error(describe("parse", what, "platform is not an object"));
  Platform p;
  p.architecture = string_member(j, "architecture", what);
  p.os = string_member(j, "os", what);
  p.os_version = string_member(j, "os.version", what);
  p.variant = string_member(j, "variant", what);
  if (auto it = j.find("os.features"); it != j.end() && !it->is_null()) {
    if (!it->is_array()) throw Error(describe("parse", what, "os.features is not an array"));
    for (const auto& f : *it) {
      if (!f.is_string()) throw Error(describe("parse", what, "os.features holds a non-string"));
      p.os_features.push_back(f.get<std::string>());
    }
  }
  return p;
}

}  // namespace

Json parse_json_object(std::string_view text, std::string_view what, std::size_t max_size) {
  if (text.size() > max_size) {
    throw Error(describe("parse", what,
                         "document of " + std::to_string(text.size()) + " bytes exceeds the " +
                             std::to_string(max_size) + "-byte limit"));
  }
  Json j = Json::parse(text.begin(), text.end(), nullptr, false);
  if (j.is_discarded()) throw Error(describe("parse", what, "not valid JSON"));
  if (!j.is_object()) throw Error(describe("parse", what, "not a JSON object"));
  return j;
}

std::string dump_canonical(const Json& json) {
  try {
    return json.dump();
  } catch (const Json::exception& e) {
    throw Error(describe("serialise", "JSON", e.what()));
  }
}

std::string string_member(const Json& object, const char* key, std::string_view what) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return {};
  if (!it->is_string()) throw Error(describe("parse", what, std::string(key) + " is not a string"));
  return it->get<std::string>();
}

Json descriptor_to_json(const Descriptor& d) {
  Json j = Json::object();
  j["mediaType"] = d.media_type;
  j["digest"] = d.digest.str();
  j["size"] = d.size;
  if (!d.urls.empty()) j["urls"] = d.urls;
  if (!d.annotations.empty()) j["annotations"] = d.annotations;
  if (d.platform) j["platform"] = platform_to_json(*d.platform);
  if (d.artifact_type) j["artifactType"] = *d.artifact_type;
  return j;
}

Descriptor descriptor_from_json(const Json& j, std::string_view what) {
  if (!j.is_object()) throw Error(describe("parse", what, "descriptor is not an object"));
  Descriptor d;
  d.media_type = string_member(j, "mediaType", what);
  if (d.media_type.empty()) throw Error(describe("parse", what, "descriptor without mediaType"));
  auto digest = Digest::try_parse(string_member(j, "digest", what));
  if (!digest) throw Error(describe("parse", what, "descriptor with an invalid digest"));
  d.digest = *digest;
  auto size = j.find("size");
  if (size == j.end() || !size->is_number_integer() || size->get<std::int64_t>() < 0) {
    throw Error(describe("parse", what, "descriptor without a valid size"));
  }
  d.size = size->get<std::int64_t>();
  if (auto it = j.find("urls"); it != j.end() && !it->is_null()) {
    if (!it->is_array()) throw Error(describe("parse", what, "urls is not an array"));
    for (const auto& u : *it) {
      if (!u.is_string()) throw Error(describe("parse", what, "urls holds a non-string"));
      d.urls.push_back(u.get<std::string>());
    }
  }
  if (auto it = j.find("annotations"); it != j.end() && !it->is_null()) {
    if (!it->is_object()) throw Error(describe("parse", what, "annotations is not an object"));
    for (const auto& [k, v] : it->items()) {
      if (!v.is_string()) throw Error(describe("parse", what, "annotation value not a string"));
      d.annotations[k] = v.get<std::string>();
    }
  }
  if (auto it = j.find("platform"); it != j.end() && !it->is_null()) {
    d.platform = platform_from_json(*it, what);
  }
  if (auto it = j.find("artifactType"); it != j.end() && it->is_string()) {
    d.artifact_type = it->get<std::string>();
  }
  return d;
}

}  // namespace mkimg::oci::detail
