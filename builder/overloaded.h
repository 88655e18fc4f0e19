// Overloaded{lambdas...}: one visitor out of several lambdas, for exhaustive std::visit over
// the instruction variant.
#pragma once

namespace mkimg::builder {

/// A visitor whose call operators are those of the given lambdas.
template <class... Ts>
struct Overloaded : Ts... {
  using Ts::operator()...;
};
template <class... Ts>
Overloaded(Ts...) -> Overloaded<Ts...>;

}  // namespace mkimg::builder
