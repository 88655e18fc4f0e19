// COPY and ADD: flags, sources (paths and heredocs) and destination.
#include <map>

#include "parser/flags.h"
#include "parser/heredoc.h"
#include "parser/instruction_builder.h"

namespace mkimg::parser {

namespace {

/// Sources, destination and heredoc sources of COPY/ADD.
struct SourcesAndDest {
  std::vector<std::string> sources;
  std::string dest;
  std::vector<Heredoc> heredocs;
};

SourcesAndDest sources_and_dest(const SyntaxNode& node) {
  const std::string name = upper_keyword(node);
  if (node.args.size() < 2) {
    throw InstructionError(name + " requires at least two arguments, but only " +
                               std::to_string(node.args.size()) +
                               " was provided. Destination could not be determined.",
                           "");
  }
  SourcesAndDest out;
  out.dest = node.args.back();
  const bool heredocs_allowed = node.form != ArgumentForm::json;
  if (heredocs_allowed && heredoc_from_word(out.dest)) {
    throw InstructionError(name + " cannot accept a heredoc as a destination", out.dest);
  }
  std::map<std::string, const Heredoc*> by_name;
  for (const Heredoc& h : node.heredocs) by_name[h.name] = &h;
  for (std::size_t i = 0; i + 1 < node.args.size(); ++i) {
    const std::string& src = node.args[i];
    auto opener = heredocs_allowed ? heredoc_from_word(src) : std::nullopt;
    if (!opener) {
      out.sources.push_back(src);
      continue;
    }
    Heredoc h = *opener;
    if (auto it = by_name.find(h.name); it != by_name.end()) h.content = it->second->content;
    if (h.tabs == HeredocTabs::strip) h.content = strip_leading_tabs(h.content);
    out.heredocs.push_back(std::move(h));
  }
  return out;
}

}  // namespace

InstructionBody build_copy(const SyntaxNode& node) {
  static constexpr FlagSpec kFlags[] = {
      {"from", FlagType::string},  {"chown", FlagType::string},    {"chmod", FlagType::string},
      {"link", FlagType::boolean}, {"parents", FlagType::boolean}, {"exclude", FlagType::strings}};
  const FlagValues flags = parse_flags(node.flags, kFlags);
  SourcesAndDest sd = sources_and_dest(node);
  Copy copy;
  copy.sources = std::move(sd.sources);
  copy.dest = std::move(sd.dest);
  copy.heredocs = std::move(sd.heredocs);
  copy.from = flag_string(flags, "from");
  copy.chown = flag_string(flags, "chown");
  copy.chmod = flag_string(flags, "chmod");
  copy.link = flag_bool(flags, "link");
  copy.parents = flag_bool(flags, "parents");
  copy.excludes = flag_strings(flags, "exclude");
  return copy;
}

InstructionBody build_add(const SyntaxNode& node) {
  static constexpr FlagSpec kFlags[] = {
      {"chown", FlagType::string},    {"chmod", FlagType::string},
      {"link", FlagType::boolean},    {"keep-git-dir", FlagType::boolean},
      {"checksum", FlagType::string}, {"exclude", FlagType::strings}};
  const FlagValues flags = parse_flags(node.flags, kFlags);
  SourcesAndDest sd = sources_and_dest(node);
  Add add;
  add.sources = std::move(sd.sources);
  add.dest = std::move(sd.dest);
  add.heredocs = std::move(sd.heredocs);
  add.chown = flag_string(flags, "chown");
  add.chmod = flag_string(flags, "chmod");
  add.link = flag_bool(flags, "link");
  add.keep_git_dir = flag_bool(flags, "keep-git-dir");
  add.checksum = flag_string(flags, "checksum");
  add.excludes = flag_strings(flags, "exclude");
  return add;
}

}  // namespace mkimg::parser
