#include "options.h"

#include <string_view>

#include "log_sink.h"

namespace sessionkeyring {
namespace {

// Flags that take no value, and the member each one sets.
struct Flag {
  std::string_view name;
  bool Options::*member;
};
constexpr Flag kFlags[] = {
    {"debug", &Options::debug},
    {"force", &Options::force},
    {"allow_foreign", &Options::allow_foreign},
    {"persistent", &Options::persistent},
    {"link_previous", &Options::link_previous},
    {"strict", &Options::strict},
};

// Applies one word; returns a diagnostic, or an empty string if it was used.
std::string ApplyWord(std::string_view word, Options& options) {
  const size_t equals = word.find('=');
  const std::string_view name = word.substr(0, equals);
  const bool has_value = equals != std::string_view::npos;

  if (name == "revoke") {
    if (!has_value) {
      options.revoke = RevokeMode::kAtClose;
      return {};
    }
    if (word.substr(equals + 1) == "end") {
      options.revoke = RevokeMode::kAtEnd;
      return {};
    }
    return "Invalid value in option " + QuoteForLog(word) +
           " (the only value is revoke=end), ignoring";
  }

  for (const Flag& flag : kFlags) {
    if (name != flag.name) continue;
    if (has_value) {
      return "Option " + QuoteForLog(name) + " takes no value, ignoring " +
             QuoteForLog(word);
    }
    options.*flag.member = true;
    return {};
  }
  return "Unknown option " + QuoteForLog(word) + ", ignoring";
}

}  // namespace

ParsedOptions ParseOptions(std::span<const char* const> args) {
  ParsedOptions parsed;
  for (const char* arg : args) {
    if (arg == nullptr) {
      parsed.diagnostics.emplace_back("Null module argument, ignoring");
      continue;
    }
    std::string diagnostic = ApplyWord(arg, parsed.options);
    if (!diagnostic.empty())
      parsed.diagnostics.push_back(std::move(diagnostic));
  }
  return parsed;
}

}  // namespace sessionkeyring
