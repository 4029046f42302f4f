#include "caller_keyring.h"

#include <keyutils.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>

namespace sessionkeyring::e2e {
namespace {

// "<what>: <strerror(errno)>".
std::string WithErrno(std::string_view what) {
  return std::string(what) + ": " + std::strerror(errno);
}

// Back to root for the client that is about to run, read back.
std::string BecomeRootAgain() {
  if (setresuid(0, 0, 0) != 0) return WithErrno("setresuid back to root");
  if (setresgid(0, 0, 0) != 0) return WithErrno("setresgid back to root");
  uid_t ruid, euid, suid;
  gid_t rgid, egid, sgid;
  if (getresuid(&ruid, &euid, &suid) != 0 ||
      getresgid(&rgid, &egid, &sgid) != 0 || ruid != 0 || euid != 0 ||
      suid != 0 || rgid != 0 || egid != 0 || sgid != 0) {
    return "the IDs did not return to root";
  }
  return {};
}

// "probe caller session <serial> <type;uid;gid;perm;description>", in the
// probe script's format so that one parser reads both. Written with
// write(2): stdio buffers would be lost at exec.
std::string ReportSessionKeyring() {
  const key_serial_t serial =
      keyctl_get_keyring_ID(KEY_SPEC_SESSION_KEYRING, 0);
  char* raw = nullptr;
  if (serial < 0 || keyctl_describe_alloc(serial, &raw) < 0) {
    return WithErrno("describe the caller's session keyring");
  }
  const std::unique_ptr<char, decltype(&free)> description(raw, &free);
  const std::string line = "probe caller session " + std::to_string(serial) +
                           " " + description.get() + "\n";
  if (write(STDOUT_FILENO, line.data(), line.size()) !=
      static_cast<ssize_t>(line.size())) {
    return WithErrno("write the caller report");
  }
  return {};
}

}  // namespace

TestUser Root() { return {"root", 0, 0}; }

CallerKeyring CallerKeyring::Service() {
  return {Kind::kAnonymous, Root(), "a service keyring (root's)"};
}

CallerKeyring CallerKeyring::UserSessionOf(const TestUser& user) {
  return {Kind::kUserSession, user,
          user.uid == 0 ? "root's _uid_ses.0" : "the user's own _uid_ses"};
}

CallerKeyring CallerKeyring::AnonymousOwnedBy(const TestUser& owner) {
  return {Kind::kAnonymous, owner, "a keyring owned by " + owner.name};
}

std::string CallerKeyring::Enter() const {
  std::string error =
      kind_ == Kind::kUserSession ? JoinUserSession() : JoinAnonymous();
  if (!error.empty()) return error;
  return ReportSessionKeyring();
}

// Joining a keyring by name needs search permission on it, and a user-
// session keyring (perm 1f3f0000) grants that to its owner alone: so the
// join is done as the user, with root kept as the saved uid to come back.
// A name that is not found makes the kernel create a new keyring with that
// name instead, hence the check against the real one.
std::string CallerKeyring::JoinUserSession() const {
  if (setresgid(user_.gid, user_.gid, 0) != 0) return WithErrno("setresgid");
  if (setresuid(user_.uid, user_.uid, 0) != 0) return WithErrno("setresuid");
  const key_serial_t expected =
      keyctl_get_keyring_ID(KEY_SPEC_USER_SESSION_KEYRING, 1);
  const std::string name = "_uid_ses." + std::to_string(user_.uid);
  const key_serial_t joined = keyctl_join_session_keyring(name.c_str());
  const int join_errno = errno;
  if (std::string error = BecomeRootAgain(); !error.empty()) return error;

  if (expected < 0) return WithErrno("resolve the user-session keyring");
  if (joined < 0) return "join " + name + ": " + std::strerror(join_errno);
  if (joined != expected) {
    return "joined keyring " + std::to_string(joined) + " named " + name +
           ", not the user-session keyring " + std::to_string(expected);
  }
  return {};
}

std::string CallerKeyring::JoinAnonymous() const {
  const key_serial_t joined = keyctl_join_session_keyring(nullptr);
  if (joined < 0) return WithErrno("join an anonymous keyring");
  if (user_.uid != 0 &&
      keyctl_chown(joined, user_.uid, static_cast<gid_t>(-1)) < 0) {
    return WithErrno("chown the session keyring to " + user_.name);
  }
  return {};
}

}  // namespace sessionkeyring::e2e
