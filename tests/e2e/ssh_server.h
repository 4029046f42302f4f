// An OpenSSH server of a test's own, inside the sandbox.
//
// The system's sshd runs in the foreground on a free loopback port, with a
// host key, a configuration and an authorized key generated in the
// sandbox's directory, so that a test user can log in with the test's key
// and run a command in a real sshd session, whose PAM stack is the
// sandbox's /etc/pam.d/sshd. Only that user may log in, only with that
// key, and only from this machine.

#ifndef SESSIONKEYRING_TESTS_E2E_SSH_SERVER_H_
#define SESSIONKEYRING_TESTS_E2E_SSH_SERVER_H_

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "caller_keyring.h"
#include "sandbox.h"

namespace sessionkeyring::e2e {

class SshServer {
 public:
  // sshd re-executes itself for every connection, which it can only do
  // when started by its absolute path.
  static constexpr char kSshd[] = "/usr/sbin/sshd";

  // Why no server can be started here (sshd, ssh or ssh-keygen missing),
  // or an empty string.
  static std::string WhyUnavailable();

  explicit SshServer(Sandbox& sandbox) : sandbox_(sandbox) {}
  SshServer(const SshServer&) = delete;
  SshServer& operator=(const SshServer&) = delete;
  // Stops a server still running; a test that cares calls Stop() itself.
  ~SshServer();

  // Generates the keys (once per sandbox) and the configuration, starts
  // sshd on `caller` so that it prints the caller's probe line first, and
  // waits until it listens. Only `user` may log in. Returns an error
  // message, or an empty string.
  [[nodiscard]] std::string Start(const CallerKeyring& caller,
                                  const TestUser& user);

  // The ssh client's argv that logs in as `user` and runs `command`.
  std::vector<std::string> ClientArgv(const TestUser& user,
                                      std::string_view command) const;

  // Waits until every connection's processes have ended: sshd closes a
  // PAM session only after its client has gone. Returns what is still
  // running, or an empty string.
  [[nodiscard]] std::string WaitForSessionsToEnd();

  // Stops sshd, checks that nothing it started is left running (and kills
  // what is), and removes the privilege separation directory if Start()
  // made it. Returns every problem found, or an empty string.
  [[nodiscard]] std::string Stop();

  // Everything sshd wrote to stdout and stderr.
  std::string Output() const;

 private:
  std::filesystem::path Dir() const;
  [[nodiscard]] std::string MakeKeys();
  [[nodiscard]] std::string WriteConfig(const TestUser& user);
  [[nodiscard]] std::string WaitUntilListening();

  Sandbox& sandbox_;
  pid_t pid_ = -1;
  uint16_t port_ = 0;
  bool made_privilege_separation_dir_ = false;
};

}  // namespace sessionkeyring::e2e

#endif  // SESSIONKEYRING_TESTS_E2E_SSH_SERVER_H_
