// COPY and ADD: flags, sources (paths and heredocs) and destination.
#include <map>
#include <span>

#include "parser/flags.h"
#include "parser/heredoc.h"
#include "parser/instruction_builder.h"

namespace mkimg::parser {

namespace {

/// Checks the flags and fills what COPY and ADD share: sources (paths and heredocs), the
/// destination, --chown, --chmod, --link and --exclude. `flags` gets the flags for the rest.
template <typename T>
T files_instruction(const SyntaxNode& node, std::span<const FlagSpec> accepted, FlagValues& flags) {
  flags = parse_flags(node.flags, accepted);
  const std::string name = upper_keyword(node);
  if (node.args.size() < 2) {
    throw InstructionError(name + " requires at least two arguments, but only " +
                               std::to_string(node.args.size()) +
                               " was provided. Destination could not be determined.",
                           "");
  }
  T out;
  out.dest = node.args.back();
  const bool heredocs_allowed = node.form != ArgumentForm::kJson;
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
    if (h.tabs == HeredocTabs::kStrip) h.content = strip_leading_tabs(h.content);
    out.heredocs.push_back(std::move(h));
  }
  out.chown = flag_string(flags, "chown");
  out.chmod = flag_string(flags, "chmod");
  out.link = flag_bool(flags, "link");
  out.excludes = flag_strings(flags, "exclude");
  return out;
}

}  // namespace

InstructionBody build_copy(const SyntaxNode& node) {
  static constexpr FlagSpec kFlags[] = {
      {"from", FlagType::kString},  {"chown", FlagType::kString},    {"chmod", FlagType::kString},
      {"link", FlagType::kBoolean}, {"parents", FlagType::kBoolean}, {"exclude", FlagType::kStrings}};
  FlagValues flags;
  Copy copy = files_instruction<Copy>(node, kFlags, flags);
  copy.from = flag_string(flags, "from");
  copy.parents = flag_bool(flags, "parents");
  return copy;
}

InstructionBody build_add(const SyntaxNode& node) {
  static constexpr FlagSpec kFlags[] = {
      {"chown", FlagType::kString},    {"chmod", FlagType::kString},
      {"link", FlagType::kBoolean},    {"keep-git-dir", FlagType::kBoolean},
      {"checksum", FlagType::kString}, {"exclude", FlagType::kStrings}};
  FlagValues flags;
  Add add = files_instruction<Add>(node, kFlags, flags);
  add.keep_git_dir = flag_bool(flags, "keep-git-dir");
  add.checksum = flag_string(flags, "checksum");
  return add;
}

}  // namespace mkimg::parser
