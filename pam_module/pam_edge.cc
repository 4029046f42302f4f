#include "pam_edge.h"

#include <errno.h>
#include <pwd.h>
#include <security/pam_ext.h>
#include <syslog.h>
#include <unistd.h>

#include <memory>
#include <vector>

#include "credentials.h"
#include "keyrings.h"

namespace sessionkeyring {
namespace {

// One name for all lines of this module in a stack: listed twice, the
// module still makes one keyring per handle, as pam_keyinit does.
constexpr char kStateName[] = "pam_sessionkeyring:state";

// A passwd entry longer than this is not a user we will open a session for.
constexpr size_t kMaxPasswdBuffer = size_t{1} << 20;

int Priority(LogLevel level) {
  switch (level) {
    case LogLevel::kError:
      return LOG_ERR;
    case LogLevel::kWarning:
      return LOG_WARNING;
    case LogLevel::kNotice:
      return LOG_NOTICE;
    case LogLevel::kInfo:
      return LOG_INFO;
    case LogLevel::kDebug:
      return LOG_DEBUG;
  }
  return LOG_ERR;
}

// Called by libpam at pam_end(), and in a forked child that ends its copy
// of the handle with PAM_DATA_SILENT. Apart from `revoke=end` in the
// process that made the keyring, and releasing a holder keyring that no
// close released, it only frees memory. It must not throw into libpam.
void EndHandleState(pam_handle_t* pamh, void* data, int status) {
  const std::unique_ptr<HandleState> state(static_cast<HandleState*>(data));
  if (state->holder == 0 &&
      (state->keyring == 0 || state->revoke != RevokeMode::kAtEnd)) {
    return;
  }
  try {
    PamSyslogSink log(pamh, state->debug);
    KernelKeyrings keyrings;
    ThreadCredentials credentials;
    Services services{keyrings, credentials, log};
    EndTransaction(services, *state, getpid(),
                   (static_cast<unsigned>(status) & PAM_DATA_SILENT) != 0);
  } catch (...) {
    pam_syslog(pamh, LOG_CRIT, "%s", "Unexpected internal error at pam_end");
  }
}

}  // namespace

void PamSyslogSink::Log(LogLevel level, const std::string& message) {
  if (level == LogLevel::kDebug && !debug_) return;
  pam_syslog(pamh_, Priority(level), "%s", message.c_str());
}

UserLookup PamUserSource::LookUp() {
  UserLookup result;
  const char* name = nullptr;
  const int code = pam_get_user(pamh_, &name, "key user");
  if (code != PAM_SUCCESS) {
    result.host_code = code;
    return result;
  }
  if (name == nullptr) {
    result.kind = UserLookup::Kind::kUnknown;
    return result;
  }
  result.target.name = name;

  // getpwnam_r with a buffer of our own rather than pam_modutil_getpwnam():
  // the latter leaves its result on the handle under a new name at every
  // call, so each open on a long-lived handle would get slower.
  passwd storage{};
  passwd* entry = nullptr;
  std::vector<char> buffer(1024);
  int error = 0;
  while ((error = getpwnam_r(name, &storage, buffer.data(), buffer.size(),
                             &entry)) == ERANGE &&
         buffer.size() < kMaxPasswdBuffer) {
    buffer.resize(buffer.size() * 2);
  }
  if (entry == nullptr) {
    result.kind = UserLookup::Kind::kUnknown;
    // getpwnam_r reports "no such user" as success with no entry.
    result.error_number = error;
    return result;
  }
  result.kind = UserLookup::Kind::kFound;
  result.target.uid = entry->pw_uid;
  result.target.gid = entry->pw_gid;
  return result;
}

HandleState* FindHandleState(pam_handle_t* pamh) {
  const void* data = nullptr;
  if (pam_get_data(pamh, kStateName, &data) != PAM_SUCCESS) return nullptr;
  // Stored by AttachHandleState() below, as a non-const HandleState.
  return static_cast<HandleState*>(const_cast<void*>(data));
}

HandleState* AttachHandleState(pam_handle_t* pamh) {
  if (HandleState* existing = FindHandleState(pamh)) return existing;
  auto state = std::make_unique<HandleState>();
  if (pam_set_data(pamh, kStateName, state.get(), EndHandleState) !=
      PAM_SUCCESS) {
    return nullptr;
  }
  return state.release();
}

}  // namespace sessionkeyring
