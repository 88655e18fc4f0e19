// The instruction layer: type every node of the syntax tree and group them into stages.
#include "parser/parse.h"

#include "parser/flags.h"
#include "parser/instruction_builder.h"
#include "parser/source_error.h"
#include "parser/syntax_tree.h"

namespace mkimg::parser {

namespace {

/// Types one node, turning a failure into a located error (the column points at `near`).
Instruction type_node(const SyntaxNode& node, const SyntaxTree& tree, std::string_view file_name) {
  try {
    return build_instruction(node);
  } catch (const InstructionError& e) {
    const int column = column_of(tree.lines, node.location.line, e.near(), node.location.column);
    throw source_error(file_name, tree.lines, {node.location.line, column}, e.what());
  } catch (const Error& e) {
    throw source_error(file_name, tree.lines, node.location, e.what());
  }
}

Stage stage_from(Instruction&& instruction) {
  From& from = std::get<From>(instruction.body);
  Stage stage;
  stage.name = from.stage_name;
  stage.base = from.image;
  stage.platform = from.platform;
  stage.location = instruction.location;
  return stage;
}

}  // namespace

Dockerfile parse(std::string_view text, std::string_view file_name) {
  const SyntaxTree tree = parse_syntax(text, file_name);
  Dockerfile dockerfile;
  dockerfile.directives = tree.directives;
  for (const SyntaxNode& node : tree.nodes) {
    Instruction instruction = type_node(node, tree, file_name);
    if (std::holds_alternative<From>(instruction.body)) {
      dockerfile.stages.push_back(stage_from(std::move(instruction)));
    } else if (!dockerfile.stages.empty()) {
      dockerfile.stages.back().instructions.push_back(std::move(instruction));
    } else if (std::holds_alternative<Arg>(instruction.body)) {
      dockerfile.global_args.push_back(std::move(instruction));
    } else {
      throw source_error(file_name, tree.lines, node.location,
                         "no build stage in current context: " + upper_keyword(node) +
                             " before the first FROM (FROM missing?)");
    }
  }
  if (dockerfile.stages.empty()) {
    const Location where = tree.nodes.front().location;
    throw source_error(file_name, tree.lines, where,
                       "FROM missing: the Dockerfile contains no stages to build");
  }
  return dockerfile;
}

Instruction parse_instruction(std::string_view line) {
  const SyntaxTree tree = parse_syntax(line, "ONBUILD");
  if (tree.nodes.size() != 1) {
    throw source_error("ONBUILD", tree.lines, tree.nodes[1].location,
                       "an ONBUILD trigger is exactly one instruction");
  }
  return type_node(tree.nodes[0], tree, "ONBUILD");
}

}  // namespace mkimg::parser
