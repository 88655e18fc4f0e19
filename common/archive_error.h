// The words of a libarchive failure: its own message, with the system's words for its errno
// when that is a system error it left out ("Write error" becomes "Write error: No space left
// on device"), so a full disk or a read-only file system is named as such.
#pragma once

#include <archive.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <string_view>

namespace mkimg {

/// The message of the last error of `a`, or `fallback` when libarchive has none.
inline std::string archive_message(struct archive* a, std::string_view fallback) {
  const char* said = archive_error_string(a);
  std::string message = said != nullptr && *said != '\0' ? said : std::string(fallback);
  int err = archive_errno(a);
  // EILSEQ and EINVAL are libarchive's own codes for bad data and misuse: their strerror text
  // would mislead.
  if (err <= 0 || err == EILSEQ || err == EINVAL) return message;
  std::string words = std::strerror(err);
  if (message.find(words) == std::string::npos) message += ": " + words;
  return message;
}

}  // namespace mkimg
