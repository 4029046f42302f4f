// The module's arguments, parsed without side effects.
//
// The accepted words are pam_keyinit's three (`debug`, `force`, `revoke`)
// plus this module's own. Matching is exact and case-sensitive, as in
// pam_keyinit, but a word that is not understood is reported back as a
// diagnostic instead of being dropped silently, so that a typo such as
// `revok` does not quietly leave a session unrevoked.

#ifndef SESSIONKEYRING_LIB_OPTIONS_H_
#define SESSIONKEYRING_LIB_OPTIONS_H_

#include <span>
#include <string>
#include <vector>

namespace sessionkeyring {

enum class RevokeMode {
  kNever,
  kAtClose,  // `revoke`: at close_session or setcred(DELETE)
  kAtEnd,    // `revoke=end`: when the application ends the PAM transaction
};

struct Options {
  bool debug = false;
  bool force = false;  // always make a fresh keyring
  RevokeMode revoke = RevokeMode::kNever;
  bool allow_foreign = false;  // keep an inherited keyring of another user
  bool persistent = false;     // link the user's persistent keyring
  bool link_previous = false;  // with force: link the replaced keyring
  bool strict = false;  // missing keyring support is an error, not a notice
};

struct ParsedOptions {
  Options options;
  // One warning per word that was ignored, ready to log.
  std::vector<std::string> diagnostics;
};

// Parses argv as PAM passes it. Null entries are reported and skipped.
// Later words override earlier ones (`revoke=end revoke` means `revoke`).
ParsedOptions ParseOptions(std::span<const char* const> args);

}  // namespace sessionkeyring

#endif  // SESSIONKEYRING_LIB_OPTIONS_H_
