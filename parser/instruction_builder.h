// The instruction layer's per-keyword work: a SyntaxNode becomes a typed Instruction, with its
// flags checked and its arguments counted and typed, as BuildKit's instructions package does.
#pragma once

#include "parser/dockerfile.h"
#include "parser/syntax_tree.h"

namespace mkimg::parser {

/// Types one node. Throws InstructionError (flags.h) with a plain message; the caller locates.
Instruction build_instruction(const SyntaxNode& node);

/// Keyword-specific builders, one per family (instruction_commands.cpp, instruction_files.cpp).
InstructionBody build_run(const SyntaxNode& node);
InstructionBody build_cmd(const SyntaxNode& node);
InstructionBody build_entrypoint(const SyntaxNode& node);
InstructionBody build_healthcheck(const SyntaxNode& node);
InstructionBody build_shell(const SyntaxNode& node);
InstructionBody build_onbuild(const SyntaxNode& node);
InstructionBody build_copy(const SyntaxNode& node);
InstructionBody build_add(const SyntaxNode& node);

/// The keyword in upper case ("RUN"), for messages.
std::string upper_keyword(const SyntaxNode& node);

}  // namespace mkimg::parser
