#include "status.h"

#include <string.h>

namespace sessionkeyring {

std::string ErrnoText(int error_number) {
  if (error_number < 0) return "unexpected result";
  // strerrordesc_np() returns a static, untranslated string and, unlike
  // strerror(), touches no shared buffer.
  const char* text = strerrordesc_np(error_number);
  if (text == nullptr) return "errno " + std::to_string(error_number);
  return text;
}

std::string Status::Reason() const {
  if (ok()) return "success";
  return detail_.empty() ? ErrnoText(errno_) : detail_;
}

std::string Status::Describe() const {
  if (ok()) return "success";
  return "Failed to " + operation_ + ": " + Reason();
}

}  // namespace sessionkeyring
