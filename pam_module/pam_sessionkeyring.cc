// The four entry points libpam calls. Each is one line into Dispatch(),
// the single place where options are parsed, outcomes become PAM codes and
// every exception is caught: nothing thrown may unwind into a C host.

#include <security/pam_ext.h>
#include <security/pam_modules.h>
#include <syslog.h>
#include <unistd.h>

#include <new>
#include <span>

#include "credentials.h"
#include "hooks.h"
#include "keyrings.h"
#include "options.h"
#include "pam_edge.h"

namespace sessionkeyring {
namespace {

enum class Hook { kOpenSession, kCloseSession, kSetCredentials };

int ToPamCode(const HookResult& result, int failure_code) {
  switch (result.verdict) {
    case Verdict::kSuccess:
      return PAM_SUCCESS;
    case Verdict::kIgnore:
      return PAM_IGNORE;
    case Verdict::kFailure:
      return failure_code;
    case Verdict::kUserUnknown:
      return PAM_USER_UNKNOWN;
    case Verdict::kHostError:
      return result.host_code;
  }
  return failure_code;
}

int RunHook(pam_handle_t* pamh, Hook hook, int flags, int argc,
            const char** argv) {
  const ParsedOptions parsed = ParseOptions(
      std::span<const char* const>(argv, argc > 0 ? size_t(argc) : 0));
  PamSyslogSink log(pamh, parsed.options.debug);
  // The same line's arguments reach close_session too: warning about them
  // where the session is set up is enough.
  const bool sets_up = hook == Hook::kOpenSession ||
                       (static_cast<unsigned>(flags) & PAM_ESTABLISH_CRED) != 0;
  for (const std::string& diagnostic : parsed.diagnostics) {
    if (sets_up) log.Log(LogLevel::kWarning, diagnostic);
  }

  KernelKeyrings keyrings;
  ThreadCredentials credentials;
  Services services{keyrings, credentials, log};
  PamUserSource users(pamh);

  if (hook == Hook::kCloseSession) {
    HandleState* state = FindHandleState(pamh);
    if (state == nullptr) return PAM_SUCCESS;  // nothing was opened here
    return ToPamCode(CloseSession(services, parsed.options, *state),
                     PAM_SESSION_ERR);
  }

  const auto flag_bits = static_cast<unsigned>(flags);
  if (hook == Hook::kSetCredentials && (flag_bits & PAM_ESTABLISH_CRED) == 0) {
    if ((flag_bits & PAM_DELETE_CRED) == 0) return PAM_IGNORE;
    HandleState* state = FindHandleState(pamh);
    if (state == nullptr) return PAM_IGNORE;
    return ToPamCode(DeleteCredentials(services, parsed.options, *state),
                     PAM_CRED_ERR);
  }

  HandleState* state = AttachHandleState(pamh);
  if (state == nullptr) {
    log.Log(LogLevel::kError,
            "Failed to store the session state in the PAM handle");
    return PAM_BUF_ERR;
  }
  if (hook == Hook::kOpenSession) {
    return ToPamCode(
        OpenSession(services, users, parsed.options, *state, getpid()),
        PAM_SESSION_ERR);
  }
  return ToPamCode(
      EstablishCredentials(services, users, parsed.options, *state, getpid()),
      PAM_CRED_ERR);
}

int Dispatch(pam_handle_t* pamh, Hook hook, int flags, int argc,
             const char** argv) noexcept {
  try {
    return RunHook(pamh, hook, flags, argc, argv);
  } catch (const std::bad_alloc&) {
    pam_syslog(pamh, LOG_CRIT, "%s", "Out of memory");
    return PAM_BUF_ERR;
  } catch (...) {
    pam_syslog(pamh, LOG_CRIT, "%s", "Unexpected internal error");
    return PAM_SERVICE_ERR;
  }
}

}  // namespace
}  // namespace sessionkeyring

using sessionkeyring::Dispatch;
using sessionkeyring::Hook;

#define SESSIONKEYRING_EXPORT extern "C" __attribute__((visibility("default")))

SESSIONKEYRING_EXPORT int pam_sm_open_session(pam_handle_t* pamh, int flags,
                                              int argc, const char** argv) {
  return Dispatch(pamh, Hook::kOpenSession, flags, argc, argv);
}

SESSIONKEYRING_EXPORT int pam_sm_close_session(pam_handle_t* pamh, int flags,
                                               int argc, const char** argv) {
  return Dispatch(pamh, Hook::kCloseSession, flags, argc, argv);
}

SESSIONKEYRING_EXPORT int pam_sm_setcred(pam_handle_t* pamh, int flags,
                                         int argc, const char** argv) {
  return Dispatch(pamh, Hook::kSetCredentials, flags, argc, argv);
}

// Only so that the module can sit on an auth line for setcred.
SESSIONKEYRING_EXPORT int pam_sm_authenticate(pam_handle_t* /*pamh*/,
                                              int /*flags*/, int /*argc*/,
                                              const char** /*argv*/) {
  return PAM_IGNORE;
}
