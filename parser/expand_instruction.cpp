// expand(Instruction): exactly the arguments BuildKit expands, per instruction.
#include <type_traits>

#include "parser/expand.h"
#include "parser/run_mount.h"

namespace mkimg::parser {

namespace {

/// Expands the fields of one body in place.
class Expander {
 public:
  Expander(const Environment& env, char escape) : env_(env), escape_(escape) {}

  void operator()(From& f) {
    word(f.image);
    word(f.platform);
  }
  void operator()(Run& r) {
    for (RunMount& m : r.mounts) {
      m = parse_run_mount(m.text, MountCheck::kStrict,
                          [this](std::string_view v) { return expand_word(v, env_, escape_); });
    }
  }
  void operator()(Copy& c) {
    words(c.sources);
    word(c.dest), word(c.from), word(c.chown), word(c.chmod);
    words(c.excludes);
    heredocs(c.heredocs);
  }
  void operator()(Add& a) {
    words(a.sources);
    word(a.dest), word(a.chown), word(a.chmod), word(a.checksum);
    words(a.excludes);
    heredocs(a.heredocs);
  }
  void operator()(Env& e) { pairs(e.pairs); }
  void operator()(Label& l) { pairs(l.pairs); }
  void operator()(Arg& a) {
    for (ArgDeclaration& d : a.args) {
      word(d.name);
      if (d.default_value) word(*d.default_value);
    }
  }
  void operator()(Workdir& w) { word(w.path); }
  void operator()(User& u) { word(u.user); }
  void operator()(Expose& e) { words(e.ports); }
  void operator()(Volume& v) { words(v.paths); }
  void operator()(Stopsignal& s) { word(s.signal); }
  // Commands run by a shell or as argv are not expanded; neither are these.
  void operator()(Cmd&) {}
  void operator()(Entrypoint&) {}
  void operator()(Healthcheck&) {}
  void operator()(Shell&) {}
  void operator()(Onbuild&) {}
  void operator()(Maintainer&) {}

 private:
  void word(std::string& s) {
    if (!s.empty()) s = expand_word(s, env_, escape_);
  }
  void words(std::vector<std::string>& v) {
    for (std::string& s : v) word(s);
  }
  void pairs(std::vector<KeyValue>& kvs) {
    for (KeyValue& kv : kvs) word(kv.key), word(kv.value);
  }
  void heredocs(std::vector<Heredoc>& docs) {
    for (Heredoc& h : docs) {
      if (h.expansion == HeredocExpansion::kExpand)
        h.content = expand_heredoc(h.content, env_, escape_);
    }
  }

  const Environment& env_;
  char escape_;
};

}  // namespace

Instruction expand(const Instruction& instruction, const Environment& env, char escape) {
  Instruction out = instruction;
  std::visit(Expander(env, escape), out.body);
  return out;
}

}  // namespace mkimg::parser
