// ImageConfig: canonical JSON and strict parsing, and RFC 3339 times.
#include <ctime>
#include <tuple>

#include "common/error.h"
#include "oci/image.h"
#include "oci/json_detail.h"

namespace mkimg::oci {

using detail::Json;

namespace {

constexpr std::string_view kWhat = "image config";

[[noreturn]] void fail(const std::string& cause) { throw Error(describe("parse", kWhat, cause)); }

bool present(const Json& j, const char* key) { return j.contains(key) && !j.at(key).is_null(); }

// One table of (JSON key, member) per document struct serves both directions, so a field is
// named once. Reading is strict (a wrong type is an error naming the key; JSON null reads as
// absent); writing leaves absent fields out; keys no table knows are kept in `extra`.

template <typename S, typename T>
struct Field {
  const char* key;
  T S::*member;
};

template <typename S, typename T>
constexpr Field<S, T> field(const char* key, T S::*member) {
  return {key, member};
}

constexpr auto kHealthcheckFields = std::tuple{
    field("Test", &Healthcheck::test),
    field("Interval", &Healthcheck::interval),
    field("Timeout", &Healthcheck::timeout),
    field("StartPeriod", &Healthcheck::start_period),
    field("StartInterval", &Healthcheck::start_interval),
    field("Retries", &Healthcheck::retries),
};

constexpr auto kContainerConfigFields = std::tuple{
    field("User", &ContainerConfig::user),
    field("ExposedPorts", &ContainerConfig::exposed_ports),
    field("Env", &ContainerConfig::env),
    field("Entrypoint", &ContainerConfig::entrypoint),
    field("Cmd", &ContainerConfig::cmd),
    field("Volumes", &ContainerConfig::volumes),
    field("WorkingDir", &ContainerConfig::working_dir),
    field("Labels", &ContainerConfig::labels),
    field("StopSignal", &ContainerConfig::stop_signal),
    field("Healthcheck", &ContainerConfig::healthcheck),
    field("OnBuild", &ContainerConfig::on_build),
    field("Shell", &ContainerConfig::shell),
    field("ArgsEscaped", &ContainerConfig::args_escaped),
};

constexpr auto kHistoryFields = std::tuple{
    field("created", &HistoryEntry::created),
    field("created_by", &HistoryEntry::created_by),
    field("author", &HistoryEntry::author),
    field("comment", &HistoryEntry::comment),
    field("empty_layer", &HistoryEntry::empty_layer),
};

/// The image config's plain fields, in two parts: architecture and os are checked between them
/// (rootfs and history have their own code).
constexpr auto kImageHeadFields = std::tuple{
    field("created", &ImageConfig::created),
    field("author", &ImageConfig::author),
    field("architecture", &ImageConfig::architecture),
    field("os", &ImageConfig::os),
};
constexpr auto kImageTailFields = std::tuple{
    field("os.version", &ImageConfig::os_version),
    field("os.features", &ImageConfig::os_features),
    field("variant", &ImageConfig::variant),
    field("config", &ImageConfig::config),
};

// JSON -> value, by type; `key` names the field in errors.

void read_value(const Json& v, const char* key, std::string& out) {
  if (!v.is_string()) fail(std::string(key) + " is not a string");
  out = v.get<std::string>();
}

void read_value(const Json& v, const char* key, bool& out) {
  if (!v.is_boolean()) fail(std::string(key) + " is not a boolean");
  out = v.get<bool>();
}

void read_value(const Json& v, const char* key, std::int64_t& out) {
  if (!v.is_number_integer()) fail(std::string(key) + " is not an integer");
  out = v.get<std::int64_t>();
}

void read_value(const Json& v, const char* key, int& out) {
  std::int64_t wide = 0;
  read_value(v, key, wide);
  out = static_cast<int>(wide);
}

void read_value(const Json& v, const char* key, std::vector<std::string>& out) {
  // Docker writes a one-string Cmd/Entrypoint as a plain string in old images.
  if (v.is_string()) {
    out = {v.get<std::string>()};
    return;
  }
  if (!v.is_array()) fail(std::string(key) + " is not an array");
  for (const auto& s : v) {
    if (!s.is_string()) fail(std::string(key) + " holds a non-string");
    out.push_back(s.get<std::string>());
  }
}

/// A JSON object of {} read as its set of keys (ExposedPorts, Volumes).
void read_value(const Json& v, const char* key, std::set<std::string>& out) {
  if (!v.is_object()) fail(std::string(key) + " is not an object");
  for (const auto& [k, ignored] : v.items()) out.insert(k);
}

void read_value(const Json& v, const char* key, std::map<std::string, std::string>& out) {
  if (!v.is_object()) fail(std::string(key) + " is not an object");
  for (const auto& [k, s] : v.items()) {
    if (!s.is_string()) fail(std::string(key) + " holds a non-string value");
    out[k] = s.get<std::string>();
  }
}

void read_value(const Json& v, const char* key, Healthcheck& out);
void read_value(const Json& v, const char* key, ContainerConfig& out);

/// An optional member: absent or null stays nullopt.
template <typename T>
void read_field(const Json& j, const char* key, std::optional<T>& out) {
  if (!present(j, key)) return;
  T value{};
  read_value(j.at(key), key, value);
  out = std::move(value);
}

/// A required string member: absent or null reads as "" (the caller checks).
void read_field(const Json& j, const char* key, std::string& out) {
  if (present(j, key)) read_value(j.at(key), key, out);
}

template <typename S, typename Fields>
void read_fields(const Json& j, S& s, const Fields& fields) {
  std::apply([&](const auto&... f) { (read_field(j, f.key, s.*f.member), ...); }, fields);
}

/// Keeps every key of `j` that none of `tables` names, as canonical JSON text.
template <typename... Fields>
void take_extra(const Json& j, std::map<std::string, std::string>& extra,
                std::initializer_list<const char*> also_known, const Fields&... tables) {
  for (const auto& item : j.items()) {
    const std::string& k = item.key();  // not a structured binding: clang 15 can't capture one
    bool known = false;
    for (const char* name : also_known) known = known || k == name;
    auto names = [&](const auto&... f) { known = known || ((k == f.key) || ...); };
    (std::apply(names, tables), ...);
    if (!known) extra[k] = detail::dump_canonical(item.value());
  }
}

void read_value(const Json& v, const char* key, Healthcheck& out) {
  if (!v.is_object()) fail(std::string(key) + " is not an object");
  read_fields(v, out, kHealthcheckFields);
}

void read_value(const Json& v, const char* key, ContainerConfig& out) {
  if (!v.is_object()) fail(std::string(key) + " is not an object");
  read_fields(v, out, kContainerConfigFields);
  take_extra(v, out.extra, {}, kContainerConfigFields);
}

// Value -> JSON, by type.

Json to_value(const std::string& v) { return v; }
Json to_value(bool v) { return v; }
Json to_value(std::int64_t v) { return v; }
Json to_value(int v) { return v; }
Json to_value(const std::vector<std::string>& v) { return v; }
Json to_value(const std::map<std::string, std::string>& v) { return v; }

Json to_value(const std::set<std::string>& keys) {
  Json o = Json::object();
  for (const auto& k : keys) o[k] = Json::object();
  return o;
}

Json to_value(const Healthcheck& h);
Json to_value(const ContainerConfig& c);

/// An optional member: written only when present.
template <typename T>
void write_field(Json& j, const char* key, const std::optional<T>& value) {
  if (value) j[key] = to_value(*value);
}

void write_field(Json& j, const char* key, const std::string& value) { j[key] = value; }

template <typename S, typename Fields>
void write_fields(Json& j, const S& s, const Fields& fields) {
  std::apply([&](const auto&... f) { (write_field(j, f.key, s.*f.member), ...); }, fields);
}

void put_extra(Json& j, const std::map<std::string, std::string>& extra) {
  for (const auto& [k, text] : extra) {
    if (!j.contains(k)) j[k] = Json::parse(text);
  }
}

Json to_value(const Healthcheck& h) {
  Json j = Json::object();
  write_fields(j, h, kHealthcheckFields);
  return j;
}

Json to_value(const ContainerConfig& c) {
  Json j = Json::object();
  write_fields(j, c, kContainerConfigFields);
  put_extra(j, c.extra);
  return j;
}

RootFs rootfs_from(const Json& j) {
  if (!j.is_object()) fail("rootfs is not an object");
  RootFs r;
  r.type.clear();
  read_field(j, "type", r.type);
  if (r.type != "layers") fail("rootfs.type must be `layers`");
  if (!present(j, "diff_ids")) return r;
  if (!j.at("diff_ids").is_array()) fail("rootfs.diff_ids is not an array");
  for (const auto& d : j.at("diff_ids")) {
    auto digest = d.is_string() ? Digest::try_parse(d.get<std::string>()) : std::nullopt;
    if (!digest) fail("rootfs.diff_ids holds an invalid digest");
    r.diff_ids.push_back(*digest);
  }
  return r;
}

}  // namespace

std::string to_json(const ImageConfig& c) {
  Json j = Json::object();
  write_fields(j, c, kImageHeadFields);
  write_fields(j, c, kImageTailFields);
  Json rootfs = {{"type", c.rootfs.type}, {"diff_ids", Json::array()}};
  for (const auto& d : c.rootfs.diff_ids) rootfs["diff_ids"].push_back(d.str());
  j["rootfs"] = rootfs;
  if (!c.history.empty()) {
    j["history"] = Json::array();
    for (const auto& h : c.history) {
      Json entry = Json::object();
      write_fields(entry, h, kHistoryFields);
      j["history"].push_back(entry);
    }
  }
  put_extra(j, c.extra);
  return detail::dump_canonical(j);
}

ImageConfig parse_image_config(std::string_view json) {
  Json j = detail::parse_json_object(json, kWhat, kMaxDocumentSize);
  ImageConfig c;
  read_fields(j, c, kImageHeadFields);
  if (c.architecture.empty() || c.os.empty()) fail("architecture and os are required");
  read_fields(j, c, kImageTailFields);
  if (!present(j, "rootfs")) fail("missing rootfs");
  c.rootfs = rootfs_from(j.at("rootfs"));
  if (present(j, "history")) {
    if (!j.at("history").is_array()) fail("history is not an array");
    for (const auto& h : j.at("history")) {
      if (!h.is_object()) fail("history entry is not an object");
      read_fields(h, c.history.emplace_back(), kHistoryFields);
    }
  }
  take_extra(j, c.extra, {"rootfs", "history"}, kImageHeadFields, kImageTailFields);
  return c;
}

std::string rfc3339_utc(std::int64_t unix_seconds) {
  std::time_t t = static_cast<std::time_t>(unix_seconds);
  std::tm tm{};
  if (!::gmtime_r(&t, &tm)) return "1970-01-01T00:00:00Z";
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::optional<std::int64_t> parse_rfc3339(std::string_view text) {
  std::tm tm{};
  std::string s(text.substr(0, 64));
  const char* end = ::strptime(s.c_str(), "%Y-%m-%dT%H:%M:%S", &tm);
  if (!end) return std::nullopt;
  if (*end == '.') {
    ++end;
    while (*end >= '0' && *end <= '9') ++end;
  }
  std::int64_t offset = 0;
  if (*end == '+' || *end == '-') {
    int hours = 0, minutes = 0;
    if (std::sscanf(end + 1, "%2d:%2d", &hours, &minutes) != 2) return std::nullopt;
    offset = (hours * 3600 + minutes * 60) * (*end == '+' ? 1 : -1);
  } else if (*end != 'Z' && *end != 'z') {
    return std::nullopt;
  }
  return static_cast<std::int64_t>(::timegm(&tm)) - offset;
}

}  // namespace mkimg::oci
