#include "parser/describe.h"

#include <variant>

namespace mkimg::parser {

namespace {

/// Builds one line of `key=value` fields.
class Line {
 public:
  explicit Line(std::string_view head) : text_(head) {}
  Line& field(std::string_view key, std::string_view value) {
    text_ += ' ';
    text_.append(key).append("=").append(go_quote(value));
    return *this;
  }
  Line& field_if(std::string_view key, std::string_view value) {
    return value.empty() ? *this : field(key, value);
  }
  Line& raw(std::string_view key, std::string_view value) {
    text_ += ' ';
    text_.append(key).append("=").append(value);
    return *this;
  }
  Line& flag(std::string_view key, bool on) { return on ? raw(key, "true") : *this; }
  Line& list(std::string_view key, const std::vector<std::string>& values) {
    std::string joined = "[";
    for (std::size_t i = 0; i < values.size(); ++i) joined += (i ? " " : "") + go_quote(values[i]);
    return raw(key, joined + "]");
  }
  Line& command(const CommandLine& command) {
    if (const auto* shell = std::get_if<ShellForm>(&command)) return field("shell", shell->command);
    return list("exec", std::get<ExecForm>(command).args);
  }
  Line& heredocs(const std::vector<Heredoc>& docs) {
    for (const Heredoc& h : docs) {
      std::string d = "[name=" + go_quote(h.name) + " content=" + go_quote(h.content);
      if (h.expansion == HeredocExpansion::kLiteral) d += " literal=true";
      if (h.tabs == HeredocTabs::kStrip) d += " strip-tabs=true";
      if (h.file_descriptor != 0) d += " fd=" + std::to_string(h.file_descriptor);
      raw("heredoc", d + "]");
    }
    return *this;
  }
  Line& pairs(std::string_view key, const std::vector<KeyValue>& kvs) {
    for (const KeyValue& kv : kvs) raw(key, go_quote(kv.key) + "=" + go_quote(kv.value));
    return *this;
  }
  std::string str() const { return text_; }

 private:
  std::string text_;
};

const char* mount_type(MountType t) {
  static constexpr const char* kNames[] = {"bind", "cache", "tmpfs", "secret", "ssh"};
  return kNames[static_cast<int>(t)];
}

std::string describe_mount(const RunMount& m) {
  static constexpr const char* kSharing[] = {"shared", "private", "locked"};
  Line line("[type=" + std::string(mount_type(m.type)));
  line.field_if("target", m.target).field_if("source", m.source).field_if("from", m.from);
  line.raw("readonly", m.read_only ? "true" : "false").field_if("id", m.id);
  if (m.type == MountType::kCache) line.raw("sharing", kSharing[static_cast<int>(m.sharing)]);
  if (m.mode) line.raw("mode", std::to_string(*m.mode));
  if (m.uid) line.raw("uid", std::to_string(*m.uid));
  if (m.gid) line.raw("gid", std::to_string(*m.gid));
  if (m.size) line.raw("size", std::to_string(*m.size));
  line.flag("required", m.required).field_if("env", m.env);
  return line.str() + "]";
}

std::string describe_body(const Run& run) {
  static constexpr const char* kNetwork[] = {"default", "none", "host"};
  Line line("RUN");
  line.command(run.command).heredocs(run.heredocs);
  for (const RunMount& m : run.mounts) line.raw("mount", describe_mount(m));
  if (run.network != NetworkMode::kSandbox)
    line.raw("network", kNetwork[static_cast<int>(run.network)]);
  if (run.security == SecurityMode::kInsecure) line.raw("security", "insecure");
  return line.str();
}

/// COPY and ADD: sources, dest, --from, --chown, --chmod, --link, then what `own` adds (the
/// instruction's own flags), --exclude and the heredocs.
template <typename T, typename Own>
std::string describe_files(std::string_view keyword, const T& t, std::string_view from, Own own) {
  Line line(keyword);
  line.list("sources", t.sources).field("dest", t.dest).field_if("from", from);
  line.field_if("chown", t.chown).field_if("chmod", t.chmod).flag("link", t.link);
  own(line);
  if (!t.excludes.empty()) line.list("exclude", t.excludes);
  return line.heredocs(t.heredocs).str();
}

std::string describe_body(const Copy& c) {
  return describe_files("COPY", c, c.from, [&](Line& line) { line.flag("parents", c.parents); });
}

std::string describe_body(const Add& a) {
  return describe_files("ADD", a, "", [&](Line& line) {
    line.flag("keep-git-dir", a.keep_git_dir).field_if("checksum", a.checksum);
  });
}

std::string describe_body(const Healthcheck& h) {
  Line line("HEALTHCHECK");
  if (h.kind == HealthcheckKind::kNone) return line.raw("kind", "none").str();
  line.raw("kind", "cmd").command(h.test);
  auto ns = [](std::chrono::nanoseconds d) { return std::to_string(d.count()) + "ns"; };
  if (h.interval.count()) line.raw("interval", ns(h.interval));
  if (h.timeout.count()) line.raw("timeout", ns(h.timeout));
  if (h.start_period.count()) line.raw("start-period", ns(h.start_period));
  if (h.start_interval.count()) line.raw("start-interval", ns(h.start_interval));
  if (h.retries) line.raw("retries", std::to_string(h.retries));
  return line.str();
}

std::string describe_body(const Arg& a) {
  Line line("ARG");
  for (const ArgDeclaration& d : a.args) {
    line.raw("arg", go_quote(d.name) + (d.default_value ? "=" + go_quote(*d.default_value) : ""));
  }
  return line.str();
}

std::string describe_body(const From& f) {
  return Line("FROM")
      .field("image", f.image)
      .field_if("as", f.stage_name)
      .field_if("platform", f.platform)
      .str();
}
std::string describe_body(const Env& e) { return Line("ENV").pairs("env", e.pairs).str(); }
std::string describe_body(const Label& l) { return Line("LABEL").pairs("label", l.pairs).str(); }
std::string describe_body(const Workdir& w) { return Line("WORKDIR").field("path", w.path).str(); }
std::string describe_body(const User& u) { return Line("USER").field("user", u.user).str(); }
std::string describe_body(const Expose& e) { return Line("EXPOSE").list("ports", e.ports).str(); }
std::string describe_body(const Cmd& c) { return Line("CMD").command(c.command).str(); }
std::string describe_body(const Entrypoint& e) {
  return Line("ENTRYPOINT").command(e.command).str();
}
std::string describe_body(const Volume& v) { return Line("VOLUME").list("paths", v.paths).str(); }
std::string describe_body(const Stopsignal& s) {
  return Line("STOPSIGNAL").field("signal", s.signal).str();
}
std::string describe_body(const Shell& s) { return Line("SHELL").list("exec", s.args).str(); }
std::string describe_body(const Maintainer& m) {
  return Line("MAINTAINER").field("name", m.name).str();
}
std::string describe_body(const Onbuild& o) { return "ONBUILD (" + describe(*o.trigger) + ")"; }

std::string at(const Location& l) {
  return std::to_string(l.line) + ":" + std::to_string(l.column);
}

}  // namespace

std::string describe(const Instruction& instruction) {
  return std::visit([](const auto& body) { return describe_body(body); }, instruction.body);
}

std::string describe(const Dockerfile& d) {
  std::string out = "directives escape=" + go_quote(std::string(1, d.directives.escape));
  if (!d.directives.syntax.empty()) out += " syntax=" + go_quote(d.directives.syntax);
  if (!d.directives.check.empty()) out += " check=" + go_quote(d.directives.check);
  out += '\n';
  for (const Instruction& arg : d.global_args) out += at(arg.location) + " " + describe(arg) + "\n";
  for (std::size_t i = 0; i < d.stages.size(); ++i) {
    const Stage& s = d.stages[i];
    Line line("stage " + std::to_string(i));
    line.field_if("name", s.name).field("base", s.base).field_if("platform", s.platform);
    out += at(s.location) + " " + line.str() + "\n";
    for (const Instruction& in : s.instructions)
      out += "  " + at(in.location) + " " + describe(in) + "\n";
  }
  return out;
}

}  // namespace mkimg::parser
