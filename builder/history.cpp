#include "builder/history.h"

#include <map>

#include "parser/describe.h"
#include "parser/duration.h"

namespace mkimg::builder {

std::string go_quote_list(const std::vector<std::string>& v) {
  std::string s = "[";
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? " " : "") + parser::go_quote(v[i]);
  return s + "]";
}

std::string go_list(const std::vector<std::string>& v) {
  std::string s = "[";
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? " " : "") + v[i];
  return s + "]";
}

std::string arg_created_by(const std::vector<BuildArg>& declared) {
  std::string s = "ARG";
  for (const auto& a : declared) s += " " + a.name + (a.value ? "=" + *a.value : "");
  return s;
}

std::string run_created_by(const std::vector<std::string>& argv, const std::vector<BuildArg>& args,
                           const parser::Environment& env) {
  std::vector<std::string> shown;
  std::map<std::string, std::size_t> index;
  for (const auto& a : args) {
    std::string value = parser::find_variable(env, a.name).value_or(a.value.value_or(""));
    auto [it, added] = index.emplace(a.name, shown.size());
    if (added) {
      shown.push_back(a.name + "=" + value);
    } else {
      shown[it->second] = a.name + "=" + value;
    }
  }
  std::string s = "RUN";
  if (!shown.empty()) s += " |" + std::to_string(shown.size());
  for (const auto& kv : shown) s += " " + kv;
  for (const auto& a : argv) s += " " + a;
  return s + kBuildkitSuffix;
}

std::string healthcheck_created_by(const std::vector<std::string>& test,
                                   const parser::Healthcheck& h) {
  return "HEALTHCHECK {Test:" + go_list(test) +
         " Interval:" + parser::format_go_duration(h.interval) +
         " Timeout:" + parser::format_go_duration(h.timeout) +
         " StartPeriod:" + parser::format_go_duration(h.start_period) +
         " StartInterval:" + parser::format_go_duration(h.start_interval) +
         " Retries:" + std::to_string(h.retries) + "}";
}

namespace {

std::string copy_text(const char* keyword, bool parents, const std::string& chown,
                      const std::string& chmod, const std::vector<std::string>& sources,
                      const std::vector<parser::Heredoc>& heredocs, const std::string& dest) {
  std::string s = keyword;
  if (parents) s += " --parents";
  if (!chown.empty()) s += " --chown=" + chown;
  if (!chmod.empty()) s += " --chmod=" + chmod;
  for (const auto& src : sources) s += " " + src;
  for (const auto& h : heredocs) s += " <<" + h.name;
  return s + " " + dest + kBuildkitSuffix;
}

}  // namespace

std::string copy_created_by(const parser::Copy& c) {
  return copy_text("COPY", c.parents, c.chown, c.chmod, c.sources, c.heredocs, c.dest);
}

std::string copy_created_by(const parser::Add& a) {
  return copy_text("ADD", false, a.chown, a.chmod, a.sources, a.heredocs, a.dest);
}

}  // namespace mkimg::builder
