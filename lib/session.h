// Making and revoking a session keyring: the decisions, without PAM.
//
// OpenSessionKeyring() decides, for a target user and the calling thread's
// current session keyring, whether to keep that keyring or give the thread
// a fresh "_ses" keyring owned by the user with the user keyring linked in.
// It reports through a LogSink and returns an outcome; it never calls PAM.

#ifndef SESSIONKEYRING_LIB_SESSION_H_
#define SESSIONKEYRING_LIB_SESSION_H_

#include <sys/types.h>

#include <string>

#include "credentials.h"
#include "keyrings.h"
#include "log_sink.h"
#include "options.h"

namespace sessionkeyring {

// The user a session is opened for, as the passwd database gives it.
struct Target {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
};

struct OpenOutcome {
  enum class Kind {
    kCreated,      // a fresh keyring was made and joined
    kKept,         // the inherited keyring is fine as it is
    kUnavailable,  // the kernel offers no keyrings; nothing to isolate
    kFailed,       // logged at error level already
  };
  Kind kind = Kind::kFailed;
  // The keyring this call created and joined, or 0. It can be set even
  // when kind is kFailed (the user keyring could not be linked in, or the
  // IDs could not be restored): the thread is then inside it, so it must
  // still be revoked later.
  KeySerial created = 0;
  // The caller's real uid is the target's: it opened its own session.
  bool for_self = false;
};

// Everything the core needs from the outside world for one call.
struct Services {
  Keyrings& keyrings;
  Credentials& credentials;
  LogSink& log;
};

// Gives the calling thread a session keyring for `target`:
// - with `force`, always a fresh one;
// - otherwise a fresh one unless the thread already has a real session
//   keyring (anything but the target's own user-session keyring) that the
//   target may keep: one the target owns, any when the target is root, or
//   any with `allow_foreign`. A revoked keyring counts as none.
// The thread's real uid and gid are switched to the target's for the
// kernel calls and all six IDs are restored before returning.
OpenOutcome OpenSessionKeyring(Services& services, const Options& options,
                               const Target& target);

// Keeps the calling thread in possession of `keyring` after it stops being
// the thread's session keyring, so that it can still be revoked: a host
// that opens a second session on the same thread replaces the first one's
// keyring as its session keyring, and a keyring owned by a user can be
// revoked by root only through possession. Makes a keyring
// "pam_sessionkeyring:<serial>" in the thread keyring (as the caller, whose
// IDs the thread must have again) and links `keyring` into it. The thread
// keyring is dropped at fork and exec, so no child of the host inherits it.
// Returns the holder's serial; a failure is logged as a warning, or only
// at debug level when `quiet`.
StatusOr<KeySerial> HoldSessionKeyring(Services& services, KeySerial keyring,
                                       bool quiet);

// A holder's permissions: all for its possessor and for its owner (the
// caller), so that the caller can link it from, or revoke it on, another
// thread than the one that opened; nothing for anyone else.
inline constexpr uint32_t kHolderPermissions = 0x3f3f0000;

// Revokes a keyring this module created. A keyring that is already revoked
// (a forked copy of the session closed first) counts as success. Needs
// only possession, so it switches no IDs; on another thread than the
// opener's, possession comes through `holder`. Logs a failure at error
// level. Then, if `holder` is not 0, releases it (see ReleaseHolder).
Status RevokeSessionKeyring(Services& services, KeySerial keyring,
                            KeySerial holder);

// Revokes a holder made by HoldSessionKeyring, so that it keeps nothing
// alive, and unlinks it from the thread keyring if it is there (on another
// thread, or in a forked child, it is not). Failures are logged as a
// warning, or only at debug level when `quiet` (a failure was already
// logged for this call).
void ReleaseHolder(Services& services, KeySerial holder, bool quiet);

}  // namespace sessionkeyring

#endif  // SESSIONKEYRING_LIB_SESSION_H_
