// Real login clients, each reading its own PAM service in the sandbox: su,
// sudo, login on a terminal, and sshd. The module under test sits where
// Debian puts pam_keyinit, on a `session optional ... force revoke` line,
// and the user's command is the probe itself, so the test sees the
// keyring as the user's processes do: what `keyctl rdescribe @s` prints
// and which keyrings are linked into it. With `force` every session gets
// a keyring of its own, so the two modules must agree everywhere here.

#include <gtest/gtest.h>
#include <keyutils.h>

#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "caller_keyring.h"
#include "environment.h"
#include "keyring_holder.h"
#include "module_test.h"
#include "ssh_server.h"
#include "stray_processes.h"

namespace sessionkeyring::e2e {
namespace {

// The rows of the comparison table.
constexpr std::string_view kSuLoginShell =
    "su -l from root's shell (su-l: force revoke)";
constexpr std::string_view kSuCommand =
    "su -c from root's shell (su: force revoke)";
constexpr std::string_view kSuAfterExit =
    "su -l: the keyring once the shell has exited";
constexpr std::string_view kSudoCommand =
    "sudo -u from root's shell (sudo: force revoke)";
constexpr std::string_view kSudoLoginShell =
    "sudo -i -u from root's shell (sudo-i: force revoke)";
constexpr std::string_view kSudoAfterExit =
    "sudo -u: the keyring once the command has exited";
constexpr std::string_view kLoginShell =
    "login -f on a terminal, started by a service (login: force revoke)";
constexpr std::string_view kLoginAfterExit =
    "login -f: the keyring once the shell has exited";
constexpr std::string_view kSshCommand =
    "sshd from a service, key login running a command (sshd: force revoke)";
constexpr std::string_view kSshAfterLogout =
    "sshd: the keyring once the client has logged out";

// The probe's name for the point it runs at: the user's command.
constexpr std::string_view kCommand = "command";

// How long what a client left behind gets to end by itself.
constexpr std::chrono::seconds kStrayGrace{5};

// Where login and sshd record logins. The sandbox hides those this machine
// has, so that no test login shows in last(1), lastb(1) or lastlog(8).
constexpr std::array<const char*, 5> kLoginRecords = {
    "/run/utmp", "/var/log/wtmp", "/var/log/btmp", "/var/log/lastlog",
    "/var/log/faillog"};

// The sandbox's sudoers: root may run anything as anyone, and none of the
// host's Defaults (use_pty, I/O logging, a lecture) changes how sudo runs
// the command.
constexpr char kSudoers[] = "root ALL=(ALL:ALL) ALL\n";

class ClientTest : public ModuleTest {
 protected:
  // The programs the client needs in PATH, and the PAM services it reads.
  virtual std::vector<std::string> Programs() const = 0;
  virtual std::vector<std::string> Services() const = 0;

  // Skips without the programs; writes ClientStack() as each service.
  void SetUp() override;
  // Fails the test if the client left a process running, and kills it.
  void TearDown() override;

  // Root may switch users without a password and nobody else can
  // authenticate: su and sudo run as root here, login -f skips
  // authentication, and sshd checks keys itself. pam_unix's account and
  // session lines stay, as in Debian's stacks (which is why the sandbox
  // gives the test users shadow entries).
  std::string ClientStack() const {
    return "auth sufficient pam_rootok.so\n"
           "auth required pam_deny.so\n"
           "account required pam_unix.so\n" +
           ModuleLine("session optional", "force revoke") +
           "session required pam_unix.so\n";
  }

  // The probe as the user's command, linking the session keyring into
  // `link_into` if that is positive; as words, and as a shell command.
  std::vector<std::string> ProbeArgv(int32_t link_into = 0) const;
  std::string ProbeCommand(int32_t link_into = 0) const;

  // Runs a client as someone types it into a root shell: on root's own
  // user-session keyring.
  SessionReport RunFromRootShell(const std::vector<std::string>& argv) {
    return RunClient(argv, CallerKeyring::UserSessionOf(Root()));
  }

  // Makes a keyring of the test's into which the probe links the session
  // keyring, so that the test can look at it after the session.
  void MakeHolder();
  int32_t holder() const { return holder_->serial(); }

  // The user's command ran on a fresh keyring of Alice()'s.
  void ExpectFreshKeyring(const SessionReport& report,
                          std::string_view scenario);
  // ...and once the client has returned, that keyring is revoked.
  void ExpectRevokedAfterLogout(const SessionReport& report,
                                std::string_view scenario);

  [[nodiscard]] std::string HideLoginRecords();

 private:
  std::unique_ptr<KeyringHolder> holder_;
};

void ClientTest::SetUp() {
  ModuleTest::SetUp();
  if (IsSkipped() || HasFatalFailure()) return;
  for (const std::string& program : Programs()) {
    if (!InPath(program)) GTEST_SKIP() << "needs " << program << " in PATH";
  }
  for (const std::string& service : Services()) {
    ASSERT_EQ(sandbox().WriteService(service, ClientStack()), "");
  }
}

void ClientTest::TearDown() {
  holder_.reset();
  if (!IsSkipped() && TheEnvironment().sandbox() != nullptr) {
    const std::string strays = WaitForStrayProcesses(kStrayGrace);
    if (!strays.empty()) KillStrayProcesses();
    EXPECT_EQ(strays, "") << "processes left running";
  }
  ModuleTest::TearDown();
}

std::vector<std::string> ClientTest::ProbeArgv(int32_t link_into) const {
  std::vector<std::string> argv = {TheEnvironment().probe().string()};
  if (link_into > 0) {
    argv.push_back("--link-into");
    argv.push_back(std::to_string(link_into));
  }
  argv.push_back(std::string(kCommand));
  return argv;
}

// The probe's path and arguments need no quoting.
std::string ClientTest::ProbeCommand(int32_t link_into) const {
  std::string command;
  for (const std::string& word : ProbeArgv(link_into)) {
    if (!command.empty()) command += " ";
    command += word;
  }
  return command;
}

// The probe links the keyring from inside the session, as Alice(), which
// takes write permission on the holder: owning it gives her that. The test
// still possesses the holder through its process keyring, and through it
// the session keyring, so it can tell whether that was revoked.
void ClientTest::MakeHolder() {
  holder_ = std::make_unique<KeyringHolder>();
  ASSERT_GT(holder_->serial(), 0) << "could not make a holder keyring";
  ASSERT_EQ(
      keyctl_chown(holder_->serial(), Alice().uid, static_cast<gid_t>(-1)), 0)
      << "could not give the holder to " << Alice().name << ": "
      << std::strerror(errno);
}

void ClientTest::ExpectFreshKeyring(const SessionReport& report,
                                    std::string_view scenario) {
  Record(scenario, report.Summary());

  EXPECT_EQ(report.run.exit_code, 0);
  EXPECT_TRUE(IsFreshKeyringOf(report, report.At(kCommand), Alice()));
}

void ClientTest::ExpectRevokedAfterLogout(const SessionReport& report,
                                          std::string_view scenario) {
  const ProbeSnapshot seen = report.At(kCommand);
  const bool held = seen.session && holder_->Holds(seen.session->serial);
  const bool revoked = held && holder_->IsRevoked(seen.session->serial);
  Record(scenario, report.Summary() + "; afterwards: " +
                       (!held     ? "not held"
                        : revoked ? "revoked"
                                  : "still valid"));

  EXPECT_EQ(report.run.exit_code, 0);
  ASSERT_TRUE(IsFreshKeyringOf(report, seen, Alice()));
  ASSERT_TRUE(held) << "the probe did not link the keyring into the holder";
  EXPECT_TRUE(revoked) << "the session's keyring outlived the session";
}

std::string ClientTest::HideLoginRecords() {
  for (const char* record : kLoginRecords) {
    if (!std::filesystem::exists(record)) continue;
    if (std::string failure = sandbox().Hide(record, ""); !failure.empty()) {
      return failure;
    }
  }
  return {};
}

// util-linux su: the su-l service for -l, su otherwise.
class SuTest : public ClientTest {
 protected:
  std::vector<std::string> Programs() const override { return {"su"}; }
  std::vector<std::string> Services() const override { return {"su", "su-l"}; }
};

TEST_P(SuTest, LoginShellGetsAFreshKeyringOwnedByTheUser) {
  const SessionReport report =
      RunFromRootShell({"su", "-l", Alice().name, "-c", ProbeCommand()});

  ExpectFreshKeyring(report, kSuLoginShell);
}

TEST_P(SuTest, CommandGetsAFreshKeyringOwnedByTheUser) {
  const SessionReport report =
      RunFromRootShell({"su", Alice().name, "-c", ProbeCommand()});

  ExpectFreshKeyring(report, kSuCommand);
}

TEST_P(SuTest, LoginShellKeyringIsRevokedOnceTheShellHasExited) {
  ASSERT_NO_FATAL_FAILURE(MakeHolder());

  const SessionReport report = RunFromRootShell(
      {"su", "-l", Alice().name, "-c", ProbeCommand(holder())});

  ExpectRevokedAfterLogout(report, kSuAfterExit);
}

// sudo, with a sudoers of the sandbox's: the sudo service, and sudo-i for
// -i, as Debian builds it.
class SudoTest : public ClientTest {
 protected:
  std::vector<std::string> Programs() const override { return {"sudo"}; }
  std::vector<std::string> Services() const override {
    return {"sudo", "sudo-i"};
  }

  void SetUp() override {
    ClientTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    ASSERT_EQ(sandbox().Hide("/etc/sudoers", kSudoers), "");
  }

  // sudo with `options`, then the probe as the command.
  SessionReport RunSudo(const std::vector<std::string>& options,
                        int32_t link_into = 0) {
    std::vector<std::string> argv = {"sudo"};
    argv.insert(argv.end(), options.begin(), options.end());
    const std::vector<std::string> probe = ProbeArgv(link_into);
    argv.insert(argv.end(), probe.begin(), probe.end());
    return RunFromRootShell(argv);
  }
};

TEST_P(SudoTest, CommandGetsAFreshKeyringOwnedByTheUser) {
  const SessionReport report = RunSudo({"-u", Alice().name});

  ExpectFreshKeyring(report, kSudoCommand);
}

TEST_P(SudoTest, LoginShellGetsAFreshKeyringOwnedByTheUser) {
  const SessionReport report = RunSudo({"-i", "-u", Alice().name});

  ExpectFreshKeyring(report, kSudoLoginShell);
}

TEST_P(SudoTest, CommandKeyringIsRevokedOnceTheCommandHasExited) {
  ASSERT_NO_FATAL_FAILURE(MakeHolder());

  const SessionReport report = RunSudo({"-u", Alice().name}, holder());

  ExpectRevokedAfterLogout(report, kSudoAfterExit);
}

// shadow's login, on a pseudo-terminal, as getty starts it after someone
// has been authenticated already.
class LoginTest : public ClientTest {
 protected:
  std::vector<std::string> Programs() const override {
    return {"login", "script"};
  }
  std::vector<std::string> Services() const override { return {"login"}; }

  void SetUp() override {
    ClientTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    ASSERT_EQ(HideLoginRecords(), "");
  }

  // Types `command` into Alice()'s login shell. login wants a terminal:
  // script(1) makes one and types what it reads from the pipe. The first
  // "echo" ends the line the shell's prompt is on, where the command's
  // output would otherwise start.
  SessionReport LogIn(const std::string& command) {
    SessionReport report = RunClient(
        {"sh", "-c",
         "printf '%s\\n' \"$2\" | script -qec \"login -f $1\" /dev/null", "sh",
         Alice().name, "echo; " + command + "; exit"},
        CallerKeyring::Service());
    // A terminal ends its lines with "\r\n".
    RunResult run = std::move(report.run);
    std::erase(run.out, '\r');
    return SessionReport(std::move(run), module().name);
  }
};

TEST_P(LoginTest, ShellOnATerminalGetsAFreshKeyringOwnedByTheUser) {
  const SessionReport report = LogIn(ProbeCommand());

  ExpectFreshKeyring(report, kLoginShell);
}

TEST_P(LoginTest, ShellKeyringIsRevokedOnceTheShellHasExited) {
  ASSERT_NO_FATAL_FAILURE(MakeHolder());

  const SessionReport report = LogIn(ProbeCommand(holder()));

  ExpectRevokedAfterLogout(report, kLoginAfterExit);
}

// OpenSSH's sshd, a server of the test's own (see ssh_server.h), started
// as a service manager would start it, on a keyring of its own.
class SshdTest : public ClientTest {
 protected:
  // SshServer::WhyUnavailable() names what the server and client need.
  std::vector<std::string> Programs() const override { return {}; }
  std::vector<std::string> Services() const override { return {"sshd"}; }

  void SetUp() override {
    ClientTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    if (const std::string why = SshServer::WhyUnavailable(); !why.empty()) {
      GTEST_SKIP() << why;
    }
    ASSERT_EQ(HideLoginRecords(), "");
    server_ = std::make_unique<SshServer>(sandbox());
    ASSERT_EQ(server_->Start(CallerKeyring::Service(), Alice()), "");
  }

  void TearDown() override {
    if (server_ != nullptr) {
      if (HasFailure()) std::cout << "sshd said:\n" << server_->Output();
      EXPECT_EQ(server_->Stop(), "");
      server_.reset();
    }
    ClientTest::TearDown();
  }

  // Logs in as Alice() with a key and runs `command`. The session's
  // caller is sshd, not the ssh client: the report takes the keyring sshd
  // started on as the caller's.
  SessionReport LogIn(const std::string& command) {
    SessionReport report = RunClient(server_->ClientArgv(Alice(), command),
                                     CallerKeyring::Service());
    std::erase_if(report.snapshots, [](const ProbeSnapshot& snapshot) {
      return snapshot.hook == kCaller;
    });
    const std::vector<ProbeSnapshot> server =
        ParseProbeOutput(server_->Output());
    if (!server.empty() && server.front().hook == kCaller) {
      report.snapshots.insert(report.snapshots.begin(), server.front());
    }
    return report;
  }

  SshServer& server() { return *server_; }

 private:
  std::unique_ptr<SshServer> server_;
};

TEST_P(SshdTest, RemoteCommandGetsAFreshKeyringOwnedByTheUser) {
  const SessionReport report = LogIn(ProbeCommand());

  ExpectFreshKeyring(report, kSshCommand);
}

TEST_P(SshdTest, KeyringIsRevokedOnceTheClientHasLoggedOut) {
  ASSERT_NO_FATAL_FAILURE(MakeHolder());

  const SessionReport report = LogIn(ProbeCommand(holder()));
  ASSERT_EQ(server().WaitForSessionsToEnd(), "") << "still in the session";

  ExpectRevokedAfterLogout(report, kSshAfterLogout);
}

INSTANTIATE_TEST_SUITE_P(BothModules, SuTest,
                         ::testing::ValuesIn(BothModules()), ModuleName);
INSTANTIATE_TEST_SUITE_P(BothModules, SudoTest,
                         ::testing::ValuesIn(BothModules()), ModuleName);
INSTANTIATE_TEST_SUITE_P(BothModules, LoginTest,
                         ::testing::ValuesIn(BothModules()), ModuleName);
INSTANTIATE_TEST_SUITE_P(BothModules, SshdTest,
                         ::testing::ValuesIn(BothModules()), ModuleName);

}  // namespace
}  // namespace sessionkeyring::e2e
