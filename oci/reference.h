// Image references as users write them: [registry[:port]/][namespace/]name[:tag][@digest].
//
// Parsing follows Docker's rules (distribution/reference): a first component with a "." or
// ":", or "localhost", is a registry; otherwise the registry is docker.io and a one-component
// name gets "library/". "index.docker.io" is docker.io. Names are lowercase; a tag is
// [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}; a reference with neither tag nor digest gets "latest".
// str() is the full normalised form (docker.io/library/busybox:latest); familiar() is the
// short form users type (busybox:latest).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "oci/digest.h"

namespace mkimg::oci {

/// A normalised image reference.
struct Reference {
  std::string domain;  ///< "docker.io", "localhost:5000", "[::1]:5000"
  std::string path;    ///< "library/busybox", "team/app"
  std::optional<std::string> tag;
  std::optional<Digest> digest;

  /// Parses and normalises `text`; adds the tag "latest" when neither tag nor digest is given.
  /// Throws mkimg::Error ("parse reference `text`: cause").
  static Reference parse(std::string_view text);
  /// The same, returning nullopt instead of throwing.
  static std::optional<Reference> try_parse(std::string_view text);

  std::string repository() const;           ///< "docker.io/library/busybox"
  std::string familiar_repository() const;  ///< "busybox", "team/app", "ghcr.io/x/y"
  std::string str() const;                  ///< "docker.io/library/busybox:latest[@sha256:..]"
  std::string familiar() const;             ///< "busybox:latest[@sha256:..]"

  friend bool operator==(const Reference&, const Reference&) = default;
};

/// True when `tag` is a valid tag.
bool is_valid_tag(std::string_view tag);

}  // namespace mkimg::oci
