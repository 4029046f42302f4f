// A real client: util-linux runuser, with Debian's own runuser and
// runuser-l stacks in which the module under test takes pam_keyinit's
// place. The user's command is the probe itself, so the test sees the
// keyring exactly as the user's processes do.

#include <gtest/gtest.h>

#include <string>

#include "caller_keyring.h"
#include "environment.h"
#include "module_test.h"

namespace sessionkeyring::e2e {
namespace {

constexpr std::string_view kLoginShell =
    "runuser -l (Debian's runuser-l: force revoke)";
constexpr std::string_view kCommandFromRootShell =
    "runuser -u from root's _uid_ses.0 (Debian's runuser: revoke)";

class RunuserTest : public ModuleTest {
 protected:
  void SetUp() override {
    ModuleTest::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    if (!InPath("runuser")) GTEST_SKIP() << "needs runuser in PATH";
    // Debian 12's files, with the module in pam_keyinit's place and
    // without runuser-l's optional pam_systemd, which needs a running
    // systemd. runuser-l includes runuser, so the module is listed twice
    // there, as on Debian.
    ASSERT_EQ(sandbox().WriteService(
                  "runuser", "auth sufficient pam_rootok.so\n" +
                                 ModuleLine("session optional", "revoke") +
                                 "session required pam_limits.so\n"
                                 "session required pam_unix.so\n"),
              "");
    ASSERT_EQ(
        sandbox().WriteService(
            "runuser-l", "auth include runuser\n" +
                             ModuleLine("session optional", "force revoke") +
                             "session include runuser\n"),
        "");
  }

  // runuser `options`, running the probe as Alice(), started on `caller`.
  SessionReport RunProbe(const std::vector<std::string>& options,
                         const CallerKeyring& caller) {
    std::vector<std::string> argv = {"runuser"};
    argv.insert(argv.end(), options.begin(), options.end());
    return RunClient(argv, caller);
  }

  std::string ProbeCommand() const {
    return TheEnvironment().probe().string() + " " + std::string(kCommand);
  }
};

// Agree: the login shell gets a fresh keyring of the user's.
TEST_P(RunuserTest, LoginShellGetsAFreshKeyringOwnedByTheUser) {
  const SessionReport report = RunProbe(
      {"-l", Alice().name, "-c", ProbeCommand()}, CallerKeyring::Service());

  EXPECT_EQ(report.run.exit_code, 0);
  EXPECT_TRUE(IsFreshKeyringOf(report, report.At(kCommand), Alice()));
  Record(kLoginShell, report.Summary());
}

// Differs (ownership rule): Debian's runuser stack has `revoke` without
// `force`, so from a root shell pam_keyinit runs the user's command in
// root's user-session keyring, with root's keys in reach.
TEST_P(RunuserTest, CommandFromARootShellGetsRootsKeyringOnlyFromTheReference) {
  const SessionReport report =
      RunProbe({"-u", Alice().name, "--", TheEnvironment().probe().string(),
                std::string(kCommand)},
               CallerKeyring::UserSessionOf(Root()));

  EXPECT_EQ(report.run.exit_code, 0);
  ExpectOwnershipRule(report, report.At(kCommand));
  Record(kCommandFromRootShell, report.Summary(), kOwnershipRule);
}

INSTANTIATE_TEST_SUITE_P(BothModules, RunuserTest,
                         ::testing::ValuesIn(BothModules()), ModuleName);

}  // namespace
}  // namespace sessionkeyring::e2e
