// The fixture every e2e scenario runs on: a test parameterised over the
// module under test, pam_sessionkeyring or the system's pam_keyinit, so
// that each scenario runs once against each and states what each must do.
// Where the two differ, the test says which DESIGN.md row allows it.

#ifndef SESSIONKEYRING_TESTS_E2E_MODULE_TEST_H_
#define SESSIONKEYRING_TESTS_E2E_MODULE_TEST_H_

#include <gtest/gtest.h>

#include <iosfwd>
#include <string>
#include <string_view>
#include <vector>

#include "caller_keyring.h"
#include "sandbox.h"
#include "session_report.h"

namespace sessionkeyring::e2e {

struct ModuleUnderTest {
  std::string name;  // as pam_syslog names it: "pam_keyinit"
  std::string path;  // empty if the build did not find it
  bool is_reference = false;
};

// For GoogleTest's messages: the module's name.
void PrintTo(const ModuleUnderTest& module, std::ostream* out);

// pam_sessionkeyring as built, and the system's pam_keyinit.
std::vector<ModuleUnderTest> BothModules();
// "pam_sessionkeyring" or "pam_keyinit", as the test name's suffix.
std::string ModuleName(const ::testing::TestParamInfo<ModuleUnderTest>& info);

// The DESIGN.md differences ("Where pam_keyinit is wrong, this module
// differs, by default") that the scenarios rely on, as the table cites them.
inline constexpr std::string_view kOwnershipRule =
    "ownership rule: an inherited keyring is kept only if the user owns it "
    "or the user is root";
inline constexpr std::string_view kUnknownArgumentsWarned =
    "unknown arguments are logged as a warning, not silently ignored";
inline constexpr std::string_view kPerHandleState =
    "state is per PAM handle, each session makes its own keyring "
    "(pam_keyinit E15 to E17)";
inline constexpr std::string_view kIdsRestored =
    "all six IDs are restored exactly (pam_keyinit E12 leaves the saved gid)";
inline constexpr std::string_view kRevokedCountsAsNone =
    "a revoked keyring counts as no keyring (pam_keyinit E28)";

// What pam_keyinit gives a new session keyring: possessor all, owner view
// and read.
inline constexpr uint32_t kSessionKeyringPermissions = 0x3f030000;

// pamtester's operation for setcred(PAM_DELETE_CRED). pamtester has no name
// for that flag, but its flag expressions can still build a value with that
// bit set and PAM_ESTABLISH_CRED clear, and libpam hands setcred's flags to
// the modules as they are.
inline constexpr char kDeleteCredentials[] =
    "setcred(~PAM_ESTABLISH_CRED&~PAM_REINITIALIZE_CRED&~PAM_REFRESH_CRED&"
    "~PAM_SILENT)";

// What a PAM client prints (pam_strerror) for PAM_SESSION_ERR.
inline constexpr char kSessionErrorText[] =
    "Cannot make/remove an entry for the specified session";

class ModuleTest : public ::testing::TestWithParam<ModuleUnderTest> {
 protected:
  // The service name the tests write their stacks to.
  static constexpr std::string_view kService = "skr-e2e";

  // Skips when the sandbox or the module is missing.
  void SetUp() override;
  // After a failure, prints everything about the last run.
  void TearDown() override;

  const ModuleUnderTest& module() const { return GetParam(); }
  bool IsReference() const { return module().is_reference; }
  Sandbox& sandbox();

  // "session required /path/to/module.so force revoke\n".
  std::string ModuleLine(std::string_view type_and_control,
                         std::string_view options) const;
  // pam_exec running the probe, so that it reports the keyring the
  // session's processes get: "session optional pam_exec.so stdout ...\n".
  // With `link_into`, the probe also links the keyring into that keyring.
  std::string ProbeLine(int32_t link_into = 0) const;

  // Writes `stack` as the test service and runs pamtester on it for `user`
  // with one PAM handle for all `operations`, starting on `caller`.
  SessionReport Pamtester(std::string_view stack, const TestUser& user,
                          const std::vector<std::string>& operations,
                          const CallerKeyring& caller);
  // The usual case: the module on a required session line with `options`,
  // then the probe; open_session and close_session for Alice().
  SessionReport OpenAndClose(std::string_view options,
                             const CallerKeyring& caller);
  // Runs any client command, starting on `caller`.
  SessionReport RunClient(const std::vector<std::string>& argv,
                          const CallerKeyring& caller);

  // Where DESIGN.md's ownership rule applies: pam_keyinit leaves the
  // session in the caller's keyring, this module gives Alice() a fresh one.
  void ExpectOwnershipRule(const SessionReport& report,
                           const ProbeSnapshot& seen) const;

  // Puts what this module did into the comparison table. An empty
  // `design_difference` says the two modules must agree here.
  void Record(std::string_view scenario, const std::string& observed,
              std::string_view design_difference = {});

 private:
  std::string last_run_;
};

// The session has a keyring of its own: "_ses", owned by the user's uid
// and gid, with kSessionKeyringPermissions, the user keyring linked in, and
// not the caller's keyring.
::testing::AssertionResult IsFreshKeyringOf(const SessionReport& report,
                                            const ProbeSnapshot& seen,
                                            const TestUser& user);
// The session kept the keyring its caller had.
::testing::AssertionResult IsCallersKeyring(const SessionReport& report,
                                            const ProbeSnapshot& seen);
::testing::AssertionResult IsRevoked(const ProbeSnapshot& seen);
::testing::AssertionResult IsSameKeyring(const ProbeSnapshot& seen,
                                         const ProbeSnapshot& before);

}  // namespace sessionkeyring::e2e

#endif  // SESSIONKEYRING_TESTS_E2E_MODULE_TEST_H_
