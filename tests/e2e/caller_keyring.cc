#include "caller_keyring.h"

#include <keyutils.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <optional>

#include "keyring_probe.h"

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
  const std::optional<std::string> described =
      serial < 0 ? std::nullopt : DescribeKey(serial);
  if (!described) return WithErrno("describe the caller's session keyring");
  const std::string line = "probe caller session " + *described + "\n";
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

CallerKeyring CallerKeyring::RootLoginSession() {
  return {Kind::kAnonymousWithUserKeyring, Root(),
          "a root login keyring (root's _uid.0 linked in)"};
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
  if (kind_ == Kind::kAnonymousWithUserKeyring &&
      keyctl_link(KEY_SPEC_USER_KEYRING, joined) < 0) {
    return WithErrno("link the user keyring into the session keyring");
  }
  return {};
}

}  // namespace sessionkeyring::e2e
