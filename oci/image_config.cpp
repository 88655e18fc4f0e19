// ImageConfig: canonical JSON and strict parsing, and RFC 3339 times.
#include <ctime>

#include "common/error.h"
#include "oci/image.h"
#include "oci/json_detail.h"

namespace mkimg::oci {

using detail::Json;

namespace {

constexpr std::string_view kWhat = "image config";

[[noreturn]] void fail(const std::string& cause) { throw Error(describe("parse", kWhat, cause)); }

bool present(const Json& j, const char* key) { return j.contains(key) && !j.at(key).is_null(); }

std::optional<std::string> opt_string(const Json& j, const char* key) {
  if (!present(j, key)) return std::nullopt;
  if (!j.at(key).is_string()) fail(std::string(key) + " is not a string");
  return j.at(key).get<std::string>();
}

std::optional<bool> opt_bool(const Json& j, const char* key) {
  if (!present(j, key)) return std::nullopt;
  if (!j.at(key).is_boolean()) fail(std::string(key) + " is not a boolean");
  return j.at(key).get<bool>();
}

std::optional<std::int64_t> opt_int(const Json& j, const char* key) {
  if (!present(j, key)) return std::nullopt;
  if (!j.at(key).is_number_integer()) fail(std::string(key) + " is not an integer");
  return j.at(key).get<std::int64_t>();
}

std::optional<std::vector<std::string>> opt_strings(const Json& j, const char* key) {
  if (!present(j, key)) return std::nullopt;
  const Json& a = j.at(key);
  // Docker writes a one-string Cmd/Entrypoint as a plain string in old images.
  if (a.is_string()) return std::vector<std::string>{a.get<std::string>()};
  if (!a.is_array()) fail(std::string(key) + " is not an array");
  std::vector<std::string> out;
  for (const auto& s : a) {
    if (!s.is_string()) fail(std::string(key) + " holds a non-string");
    out.push_back(s.get<std::string>());
  }
  return out;
}

std::optional<std::set<std::string>> opt_key_set(const Json& j, const char* key) {
  if (!present(j, key)) return std::nullopt;
  if (!j.at(key).is_object()) fail(std::string(key) + " is not an object");
  std::set<std::string> out;
  for (const auto& [k, v] : j.at(key).items()) out.insert(k);
  return out;
}

std::optional<std::map<std::string, std::string>> opt_string_map(const Json& j, const char* key) {
  if (!present(j, key)) return std::nullopt;
  if (!j.at(key).is_object()) fail(std::string(key) + " is not an object");
  std::map<std::string, std::string> out;
  for (const auto& [k, v] : j.at(key).items()) {
    if (!v.is_string()) fail(std::string(key) + " holds a non-string value");
    out[k] = v.get<std::string>();
  }
  return out;
}

template <typename T>
void put(Json& j, const char* key, const std::optional<T>& value) {
  if (value) j[key] = *value;
}

void put_key_set(Json& j, const char* key, const std::optional<std::set<std::string>>& value) {
  if (!value) return;
  Json o = Json::object();
  for (const auto& k : *value) o[k] = Json::object();
  j[key] = o;
}

void put_extra(Json& j, const std::map<std::string, std::string>& extra) {
  for (const auto& [k, text] : extra) {
    if (!j.contains(k)) j[k] = Json::parse(text);
  }
}

void take_extra(const Json& j, std::initializer_list<const char*> known,
                std::map<std::string, std::string>& extra) {
  for (const auto& [k, v] : j.items()) {
    bool is_known = false;
    for (const char* name : known) is_known = is_known || k == name;
    if (!is_known) extra[k] = detail::dump_canonical(v);
  }
}

Json healthcheck_to_json(const Healthcheck& h) {
  Json j = Json::object();
  put(j, "Test", h.test);
  put(j, "Interval", h.interval);
  put(j, "Timeout", h.timeout);
  put(j, "StartPeriod", h.start_period);
  put(j, "StartInterval", h.start_interval);
  put(j, "Retries", h.retries);
  return j;
}

Healthcheck healthcheck_from(const Json& j) {
  if (!j.is_object()) fail("Healthcheck is not an object");
  Healthcheck h;
  h.test = opt_strings(j, "Test");
  h.interval = opt_int(j, "Interval");
  h.timeout = opt_int(j, "Timeout");
  h.start_period = opt_int(j, "StartPeriod");
  h.start_interval = opt_int(j, "StartInterval");
  if (auto r = opt_int(j, "Retries")) h.retries = static_cast<int>(*r);
  return h;
}

Json container_config_to_json(const ContainerConfig& c) {
  Json j = Json::object();
  put(j, "User", c.user);
  put_key_set(j, "ExposedPorts", c.exposed_ports);
  put(j, "Env", c.env);
  put(j, "Entrypoint", c.entrypoint);
  put(j, "Cmd", c.cmd);
  put_key_set(j, "Volumes", c.volumes);
  put(j, "WorkingDir", c.working_dir);
  put(j, "Labels", c.labels);
  put(j, "StopSignal", c.stop_signal);
  if (c.healthcheck) j["Healthcheck"] = healthcheck_to_json(*c.healthcheck);
  put(j, "OnBuild", c.on_build);
  put(j, "Shell", c.shell);
  put(j, "ArgsEscaped", c.args_escaped);
  put_extra(j, c.extra);
  return j;
}

ContainerConfig container_config_from(const Json& j) {
  if (!j.is_object()) fail("config is not an object");
  ContainerConfig c;
  c.user = opt_string(j, "User");
  c.exposed_ports = opt_key_set(j, "ExposedPorts");
  c.env = opt_strings(j, "Env");
  c.entrypoint = opt_strings(j, "Entrypoint");
  c.cmd = opt_strings(j, "Cmd");
  c.volumes = opt_key_set(j, "Volumes");
  c.working_dir = opt_string(j, "WorkingDir");
  c.labels = opt_string_map(j, "Labels");
  c.stop_signal = opt_string(j, "StopSignal");
  if (present(j, "Healthcheck")) c.healthcheck = healthcheck_from(j.at("Healthcheck"));
  c.on_build = opt_strings(j, "OnBuild");
  c.shell = opt_strings(j, "Shell");
  c.args_escaped = opt_bool(j, "ArgsEscaped");
  take_extra(j,
             {"User", "ExposedPorts", "Env", "Entrypoint", "Cmd", "Volumes", "WorkingDir", "Labels",
              "StopSignal", "Healthcheck", "OnBuild", "Shell", "ArgsEscaped"},
             c.extra);
  return c;
}

Json history_to_json(const HistoryEntry& h) {
  Json j = Json::object();
  put(j, "created", h.created);
  put(j, "created_by", h.created_by);
  put(j, "author", h.author);
  put(j, "comment", h.comment);
  put(j, "empty_layer", h.empty_layer);
  return j;
}

HistoryEntry history_from(const Json& j) {
  if (!j.is_object()) fail("history entry is not an object");
  HistoryEntry h;
  h.created = opt_string(j, "created");
  h.created_by = opt_string(j, "created_by");
  h.author = opt_string(j, "author");
  h.comment = opt_string(j, "comment");
  h.empty_layer = opt_bool(j, "empty_layer");
  return h;
}

RootFs rootfs_from(const Json& j) {
  if (!j.is_object()) fail("rootfs is not an object");
  RootFs r;
  r.type = opt_string(j, "type").value_or("");
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
  put(j, "created", c.created);
  put(j, "author", c.author);
  j["architecture"] = c.architecture;
  j["os"] = c.os;
  put(j, "os.version", c.os_version);
  put(j, "os.features", c.os_features);
  put(j, "variant", c.variant);
  if (c.config) j["config"] = container_config_to_json(*c.config);
  Json rootfs = {{"type", c.rootfs.type}, {"diff_ids", Json::array()}};
  for (const auto& d : c.rootfs.diff_ids) rootfs["diff_ids"].push_back(d.str());
  j["rootfs"] = rootfs;
  if (!c.history.empty()) {
    j["history"] = Json::array();
    for (const auto& h : c.history) j["history"].push_back(history_to_json(h));
  }
  put_extra(j, c.extra);
  return detail::dump_canonical(j);
}

ImageConfig parse_image_config(std::string_view json) {
  Json j = detail::parse_json_object(json, kWhat, kMaxDocumentSize);
  ImageConfig c;
  c.created = opt_string(j, "created");
  c.author = opt_string(j, "author");
  c.architecture = opt_string(j, "architecture").value_or("");
  c.os = opt_string(j, "os").value_or("");
  if (c.architecture.empty() || c.os.empty()) fail("architecture and os are required");
  c.os_version = opt_string(j, "os.version");
  c.os_features = opt_strings(j, "os.features");
  c.variant = opt_string(j, "variant");
  if (present(j, "config")) c.config = container_config_from(j.at("config"));
  if (!present(j, "rootfs")) fail("missing rootfs");
  c.rootfs = rootfs_from(j.at("rootfs"));
  if (present(j, "history")) {
    if (!j.at("history").is_array()) fail("history is not an array");
    for (const auto& h : j.at("history")) c.history.push_back(history_from(h));
  }
  take_extra(j,
             {"created", "author", "architecture", "os", "os.version", "os.features", "variant",
              "config", "rootfs", "history"},
             c.extra);
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
