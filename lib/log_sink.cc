#include "log_sink.h"

namespace sessionkeyring {

std::string QuoteForLog(std::string_view text, size_t max_bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  const bool truncated = text.size() > max_bytes;
  if (truncated) text = text.substr(0, max_bytes);

  std::string quoted = "\"";
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte >= 0x20 && byte < 0x7f && c != '"' && c != '\\') {
      quoted += c;
    } else {
      quoted += "\\x";
      quoted += kHex[byte >> 4];
      quoted += kHex[byte & 0x0f];
    }
  }
  quoted += '"';
  if (truncated) quoted += "...";
  return quoted;
}

}  // namespace sessionkeyring
