#include "module_test.h"

#include <iostream>
#include <ostream>
#include <sstream>

#include "environment.h"

namespace sessionkeyring::e2e {
namespace {

std::string Show(const ProbeSnapshot& seen) {
  std::ostringstream text;
  text << "at " << seen.hook << ": ";
  if (!seen.session) return text.str() + "no keyring (" + seen.error + ")";
  const KeyringInfo& keyring = *seen.session;
  text << keyring.serial << " " << keyring.type << ";" << keyring.uid << ";"
       << keyring.gid << ";" << std::hex << keyring.permissions << std::dec
       << ";" << keyring.description << " with " << seen.links.size()
       << " link(s)";
  for (const KeyringInfo& link : seen.links) text << " " << link.description;
  return text.str();
}

}  // namespace

void PrintTo(const ModuleUnderTest& module, std::ostream* out) {
  *out << module.name;
}

std::vector<ModuleUnderTest> BothModules() {
  return {{"pam_sessionkeyring", E2E_MODULE_PATH, false},
          {"pam_keyinit", E2E_REFERENCE_MODULE_PATH, true}};
}

std::string ModuleName(const ::testing::TestParamInfo<ModuleUnderTest>& info) {
  return info.param.name;
}

void ModuleTest::SetUp() {
  E2eEnvironment& environment = TheEnvironment();
  if (!environment.skip_reason().empty()) {
    GTEST_SKIP() << environment.skip_reason();
  }
  ASSERT_NE(environment.sandbox(), nullptr) << "the sandbox is broken";
  if (module().path.empty()) {
    GTEST_SKIP() << module().name << " was not found when building";
  }
}

void ModuleTest::TearDown() {
  if (HasFailure() && !last_run_.empty()) {
    std::cout << "The last run of this test:\n" << last_run_ << std::endl;
  }
}

Sandbox& ModuleTest::sandbox() { return *TheEnvironment().sandbox(); }

std::string ModuleTest::ModuleLine(std::string_view type_and_control,
                                   std::string_view options) const {
  std::string line = std::string(type_and_control) + " " + module().path;
  if (!options.empty()) line += " " + std::string(options);
  return line + "\n";
}

// PAM service files have no quoting, hence a script for pam_exec.
std::string ModuleTest::ProbeLine(int32_t link_into) const {
  std::string line = "session optional pam_exec.so stdout " +
                     TheEnvironment().probe().string();
  if (link_into > 0) line += " --link-into " + std::to_string(link_into);
  return line + "\n";
}

SessionReport ModuleTest::Pamtester(std::string_view stack,
                                    const TestUser& user,
                                    const std::vector<std::string>& operations,
                                    const CallerKeyring& caller) {
  EXPECT_EQ(sandbox().WriteService(kService, stack), "");
  std::vector<std::string> argv = {"pamtester", std::string(kService),
                                   user.name};
  argv.insert(argv.end(), operations.begin(), operations.end());
  return RunClient(argv, caller);
}

SessionReport ModuleTest::OpenAndClose(std::string_view options,
                                       const CallerKeyring& caller) {
  return Pamtester(ModuleLine("session required", options) + ProbeLine(),
                   Alice(), {"open_session", "close_session"}, caller);
}

SessionReport ModuleTest::RunClient(const std::vector<std::string>& argv,
                                    const CallerKeyring& caller) {
  RunResult run = sandbox().Run(argv, [&caller] { return caller.Enter(); });
  last_run_ = Describe(run);
  EXPECT_FALSE(run.timed_out) << argv[0] << " overstayed its timeout";
  EXPECT_NE(run.exit_code, Sandbox::kSetupFailedExitCode)
      << "could not start the client on " << caller.label() << ": " << run.err;
  return SessionReport(std::move(run), module().name);
}

void ModuleTest::ExpectOwnershipRule(const SessionReport& report,
                                     const ProbeSnapshot& seen) const {
  if (IsReference()) {
    EXPECT_TRUE(IsCallersKeyring(report, seen));
  } else {
    EXPECT_TRUE(IsFreshKeyringOf(report, seen, Alice()));
  }
}

void ModuleTest::Record(std::string_view scenario, const std::string& observed,
                        std::string_view design_difference) {
  TheEnvironment().comparisons().Record(std::string(scenario), module().name,
                                        observed,
                                        std::string(design_difference));
}

::testing::AssertionResult IsFreshKeyringOf(const SessionReport& report,
                                            const ProbeSnapshot& seen,
                                            const TestUser& user) {
  if (!seen.session) return ::testing::AssertionFailure() << Show(seen);
  const KeyringInfo& keyring = *seen.session;
  if (keyring.type != "keyring" || keyring.description != "_ses" ||
      keyring.uid != user.uid || keyring.gid != user.gid ||
      keyring.permissions != kSessionKeyringPermissions) {
    return ::testing::AssertionFailure()
           << "expected keyring;" << user.uid << ";" << user.gid << ";"
           << std::hex << kSessionKeyringPermissions << ";_ses, saw "
           << Show(seen);
  }
  if (!seen.LinksUserKeyringOf(user.uid)) {
    return ::testing::AssertionFailure()
           << "_uid." << user.uid << " is not linked: " << Show(seen);
  }
  if (keyring.serial == report.CallerSerial()) {
    return ::testing::AssertionFailure()
           << "it is the caller's own keyring: " << Show(seen);
  }
  return ::testing::AssertionSuccess();
}

::testing::AssertionResult IsCallersKeyring(const SessionReport& report,
                                            const ProbeSnapshot& seen) {
  const ProbeSnapshot caller = report.At(kCaller);
  if (seen.session && caller.session &&
      seen.session->serial == caller.session->serial) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure() << "the caller had " << Show(caller)
                                       << "; the session has " << Show(seen);
}

::testing::AssertionResult IsRevoked(const ProbeSnapshot& seen) {
  if (seen.revoked()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "not revoked: " << Show(seen);
}

::testing::AssertionResult IsSameKeyring(const ProbeSnapshot& seen,
                                         const ProbeSnapshot& before) {
  if (seen.session && before.session &&
      seen.session->serial == before.session->serial) {
    return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure()
         << "before: " << Show(before) << "; now: " << Show(seen);
}

}  // namespace sessionkeyring::e2e
