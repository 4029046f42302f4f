// options_fuzzer: ParseOptions() over any argv.
//
// The input is split at each NUL byte into words, as libpam hands the
// module the words of its line (an empty input is an empty argv); a word
// that is the single byte 0x01 stands for a null entry, which no libpam
// passes but a hand-written host could. Besides what the sanitizers catch,
// each result is checked against a plain model of the contract in
// options.h: exact, case-sensitive words; later words win; every other
// word, and every null entry, ignored with one diagnostic of its own, in
// order, naming the word as QuoteForLog() quotes it, in printable ASCII.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "log_sink.h"
#include "options.h"

namespace {

using sessionkeyring::Options;
using sessionkeyring::ParsedOptions;
using sessionkeyring::ParseOptions;
using sessionkeyring::QuoteForLog;
using sessionkeyring::RevokeMode;

constexpr std::string_view kNullWord = "\x01";

// A diagnostic names at most two quoted words (cut to 64 bytes and escaped
// to at most four characters a byte) and a sentence about them.
constexpr size_t kMaxDiagnosticLength = 700;

[[noreturn]] void Fail(const std::string& what) {
  std::fprintf(stderr, "options_fuzzer: %s\n", what.c_str());
  std::abort();
}

std::vector<std::string_view> SplitWords(std::string_view input) {
  std::vector<std::string_view> words;
  if (input.empty()) return words;
  for (;;) {
    const size_t nul = input.find('\0');
    words.push_back(input.substr(0, nul));
    if (nul == std::string_view::npos) return words;
    input.remove_prefix(nul + 1);
  }
}

// The contract, written as plainly as possible: sets `options` and returns
// the entries that must be ignored, in order (null entries as nullptr).
std::vector<const char*> Model(const std::vector<const char*>& argv,
                               Options& options) {
  std::vector<const char*> ignored;
  for (const char* arg : argv) {
    if (arg == nullptr) {
      ignored.push_back(arg);
      continue;
    }
    const std::string_view word = arg;
    if (word == "debug") {
      options.debug = true;
    } else if (word == "force") {
      options.force = true;
    } else if (word == "allow_foreign") {
      options.allow_foreign = true;
    } else if (word == "persistent") {
      options.persistent = true;
    } else if (word == "link_previous") {
      options.link_previous = true;
    } else if (word == "strict") {
      options.strict = true;
    } else if (word == "revoke") {
      options.revoke = RevokeMode::kAtClose;
    } else if (word == "revoke=end") {
      options.revoke = RevokeMode::kAtEnd;
    } else {
      ignored.push_back(arg);
    }
  }
  return ignored;
}

bool SameOptions(const Options& a, const Options& b) {
  return a.debug == b.debug && a.force == b.force && a.revoke == b.revoke &&
         a.allow_foreign == b.allow_foreign && a.persistent == b.persistent &&
         a.link_previous == b.link_previous && a.strict == b.strict;
}

void CheckDiagnostic(const std::string& diagnostic, const char* word) {
  if (diagnostic.empty() || diagnostic.size() > kMaxDiagnosticLength) {
    Fail("diagnostic of length " + std::to_string(diagnostic.size()));
  }
  for (const char c : diagnostic) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte >= 0x7f) {
      Fail("diagnostic with a byte outside printable ASCII: " +
           QuoteForLog(diagnostic, diagnostic.size()));
    }
  }
  const std::string named =
      word == nullptr ? std::string("Null") : QuoteForLog(word);
  if (diagnostic.find(named) == std::string::npos) {
    Fail("diagnostic " + QuoteForLog(diagnostic, diagnostic.size()) +
         " does not name " + named);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  // The words must be NUL-terminated for argv: keep a copy with a NUL after
  // each of them.
  const std::string input(reinterpret_cast<const char*>(data), size);
  const std::vector<std::string_view> words = SplitWords(input);
  std::vector<std::string> storage(words.begin(), words.end());
  std::vector<const char*> argv;
  for (const std::string& word : storage) {
    argv.push_back(word == kNullWord ? nullptr : word.c_str());
  }

  const ParsedOptions parsed = ParseOptions(argv);
  Options expected;
  const std::vector<const char*> ignored = Model(argv, expected);

  if (!SameOptions(parsed.options, expected)) {
    Fail("the options differ from the model's");
  }
  if (parsed.diagnostics.size() != ignored.size()) {
    Fail(std::to_string(parsed.diagnostics.size()) + " diagnostic(s) for " +
         std::to_string(ignored.size()) + " ignored word(s)");
  }
  for (size_t i = 0; i < ignored.size(); ++i) {
    CheckDiagnostic(parsed.diagnostics[i], ignored[i]);
  }
  return 0;
}
