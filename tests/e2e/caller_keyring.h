// The session keyring a PAM client starts with.
//
// A process inherits its session keyring from its parent, and which one it
// has decides what pam_keyinit does without `force`. So each test states
// the caller's keyring instead of inheriting whatever the test runner had
// (a login's, a CI service's, or none at all).

#ifndef SESSIONKEYRING_TESTS_E2E_CALLER_KEYRING_H_
#define SESSIONKEYRING_TESTS_E2E_CALLER_KEYRING_H_

#include <string>
#include <utility>

#include "sandbox.h"

namespace sessionkeyring::e2e {

class CallerKeyring {
 public:
  // A fresh anonymous keyring owned by root, as a system service has.
  static CallerKeyring Service();
  // The user's own user-session keyring `_uid_ses.<uid>`: the keyring of a
  // root shell that has touched @s when `user` is root, or of a process of
  // the user that never had a session.
  static CallerKeyring UserSessionOf(const TestUser& user);
  // A fresh anonymous keyring made by root and then given to `owner`.
  static CallerKeyring AnonymousOwnedBy(const TestUser& owner);
  // A fresh anonymous keyring owned by root with root's user keyring
  // linked in, as root's own login session has it (pam_keyinit links @u
  // into each keyring it makes): whoever possesses it reaches root's keys.
  static CallerKeyring RootLoginSession();

  // For a forked, single-threaded child that is about to exec a PAM client
  // as root: joins the keyring, checks that it is the intended one, puts
  // every ID back to root, and writes a probe line describing the keyring
  // ("probe caller session <serial> <description>") to stdout. Returns an
  // error message, or an empty string.
  std::string Enter() const;

  // "a service keyring", for the comparison table.
  const std::string& label() const { return label_; }

 private:
  enum class Kind { kAnonymous, kAnonymousWithUserKeyring, kUserSession };

  CallerKeyring(Kind kind, TestUser user, std::string label)
      : kind_(kind), user_(std::move(user)), label_(std::move(label)) {}

  std::string JoinUserSession() const;
  std::string JoinAnonymous() const;

  Kind kind_;
  TestUser user_;  // whose user-session keyring, or who owns the anonymous one
  std::string label_;
};

// Root, as a TestUser: uid 0, gid 0.
TestUser Root();

}  // namespace sessionkeyring::e2e

#endif  // SESSIONKEYRING_TESTS_E2E_CALLER_KEYRING_H_
