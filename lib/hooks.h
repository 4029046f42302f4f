// What each PAM hook does, decided without PAM.
//
// The PAM edge keeps one HandleState per PAM handle (with pam_set_data) and
// calls these functions with it; they return a Verdict that the edge turns
// into a PAM return code. Keeping the state in the handle, not in the
// module, is what lets one process run sessions for several users at once,
// each with its own keyring, where pam_keyinit shares one record among all
// of them.

#ifndef SESSIONKEYRING_LIB_HOOKS_H_
#define SESSIONKEYRING_LIB_HOOKS_H_

#include <sys/types.h>

#include "options.h"
#include "session.h"

namespace sessionkeyring {

// Survives from open to close inside the PAM handle.
struct HandleState {
  // The keyring this handle created and has not revoked yet, or 0.
  KeySerial keyring = 0;
  // When `keyring` is to be revoked: the keyring in the opening thread's
  // thread keyring that keeps it possessed (see HoldSessionKeyring), or 0.
  KeySerial holder = 0;
  // The caller opened the session for its own uid, so needs no holder.
  bool opened_for_self = false;
  // Latched: once any hook of this handle saw `revoke` (on a session or an
  // auth line), it applies to the keyring, as in pam_keyinit.
  RevokeMode revoke = RevokeMode::kNever;
  // open_session calls minus close_session calls. With the module listed
  // twice in a stack, the keyring is revoked at the last close.
  int opens = 0;
  // With `revoke=end`: the session was closed and `keyring` waits for the
  // end of the transaction. An open before then starts a new session.
  bool awaiting_end = false;
  // The process that made `keyring`. With `revoke=end` only it revokes the
  // keyring when the transaction ends: a forked child that ends its copy
  // of the handle must not cut off the parent's session.
  pid_t opener = 0;
  // Latched like `revoke`, for the end of the transaction, which has no
  // arguments of its own.
  bool debug = false;
};

// The outcome of one hook, before it becomes a PAM code.
enum class Verdict {
  kSuccess,
  kIgnore,       // PAM_IGNORE
  kFailure,      // the hook's own error: PAM_SESSION_ERR or PAM_CRED_ERR
  kUserUnknown,  // PAM_USER_UNKNOWN
  kHostError,    // pass the host's code from the user lookup through
};

struct HookResult {
  Verdict verdict = Verdict::kFailure;
  int host_code = 0;  // for kHostError only
};

// Who the session is for, answered by the PAM edge (pam_get_user, which
// may prompt, and a passwd lookup).
struct UserLookup {
  enum class Kind { kFound, kUnknown, kHostError };
  Kind kind = Kind::kHostError;
  Target target;      // for kFound; for kUnknown, only the name
  int host_code = 0;  // for kHostError
  // For kUnknown: the errno of a lookup that failed rather than found no
  // such user (an unreachable directory service), or 0.
  int error_number = 0;
};

class UserSource {
 public:
  virtual ~UserSource() = default;
  virtual UserLookup LookUp() = 0;
};

// pam_sm_open_session, called in process `self`.
HookResult OpenSession(Services& services, UserSource& users,
                       const Options& options, HandleState& state, pid_t self);
// pam_sm_setcred with PAM_ESTABLISH_CRED: as open, without counting an open.
HookResult EstablishCredentials(Services& services, UserSource& users,
                                const Options& options, HandleState& state,
                                pid_t self);
// pam_sm_close_session. Always kSuccess: a failed revocation is logged.
HookResult CloseSession(Services& services, const Options& options,
                        HandleState& state);
// pam_sm_setcred with PAM_DELETE_CRED: revokes now if `revoke` applies.
HookResult DeleteCredentials(Services& services, const Options& options,
                             HandleState& state);
// pam_end, in process `self`: with `revoke=end`, revokes the keyring if
// `self` made it and the application did not end the handle silently
// (PAM_DATA_SILENT, which a forked child uses to drop its copy). Releases
// the holder in any case, so that a handle ended without a close does not
// keep its keyring alive in the host's thread keyring.
void EndTransaction(Services& services, HandleState& state, pid_t self,
                    bool silent);

}  // namespace sessionkeyring

#endif  // SESSIONKEYRING_LIB_HOOKS_H_
