#include "environment.h"

#include <unistd.h>

#include <cstdlib>
#include <iostream>

#include "machine_lock.h"

namespace sessionkeyring::e2e {

const TestUser& Alice() {
  static const TestUser kAlice{"skr-alice", 61001, 61001};
  return kAlice;
}

const TestUser& Bob() {
  static const TestUser kBob{"skr-bob", 61002, 61002};
  return kBob;
}

bool InPath(std::string_view program) {
  const char* path = std::getenv("PATH");
  std::string_view directories = path != nullptr ? path : "/usr/bin:/bin";
  while (!directories.empty()) {
    const size_t colon = directories.find(':');
    const std::string_view directory = directories.substr(0, colon);
    directories.remove_prefix(
        colon == std::string_view::npos ? directories.size() : colon + 1);
    const std::filesystem::path candidate =
        std::filesystem::path(directory) / program;
    if (access(candidate.c_str(), X_OK) == 0) return true;
  }
  return false;
}

void E2eEnvironment::SetUp() {
  // tools/sanitize and tools/valgrind name a launcher that runs the
  // programs loading the module under ASan or valgrind.
  const char* launcher = std::getenv("SESSIONKEYRING_E2E_LAUNCHER");
  if (launcher != nullptr && *launcher == '\0') launcher = nullptr;

  skip_reason_ = Sandbox::WhyUnavailable();
  for (const char* program : {"pamtester", "keyctl"}) {
    if (skip_reason_.empty() && !InPath(program)) {
      skip_reason_ = std::string("needs ") + program + " in PATH";
    }
  }
#ifdef __SANITIZE_ADDRESS__
  // The clients are Debian's, built without ASan: they cannot load a module
  // built with it unless the runtime is preloaded into them.
  if (skip_reason_.empty() && launcher == nullptr) {
    skip_reason_ =
        "the module is built with AddressSanitizer: run these tests with "
        "tools/sanitize, which preloads its runtime into the PAM clients";
  }
#endif
  if (!skip_reason_.empty()) return;
  const std::string locked = testing::HoldMachineTestLock();
  ASSERT_EQ(locked, "") << "Taking the machine-wide test lock";

  auto sandbox = std::make_unique<Sandbox>();
  const std::string failure = sandbox->Enter({Alice(), Bob()});
  if (!failure.empty()) {
    const std::string problems = sandbox->Leave();
    GTEST_FAIL() << "Could not build the sandbox: " << failure << "\n"
                 << problems;
  }
  if (launcher != nullptr) sandbox->set_launcher({launcher});
  probe_ = sandbox->InstallScript(E2E_PROBE_SCRIPT);
  sandbox_ = std::move(sandbox);
  ASSERT_FALSE(probe_.empty()) << "could not install " << E2E_PROBE_SCRIPT;
}

void E2eEnvironment::TearDown() {
  if (!comparisons_.empty()) {
    std::cout << "\nWhat each module did, scenario by scenario:\n\n"
              << comparisons_.Render("pam_keyinit", "pam_sessionkeyring")
              << std::endl;
  }
  if (sandbox_ == nullptr) return;
  const std::string problems = sandbox_->Leave();
  sandbox_.reset();
  EXPECT_EQ(problems, "") << "Leaving the sandbox";
}

E2eEnvironment& TheEnvironment() {
  // GoogleTest owns it once main() registers it, and keeps it to the end.
  static E2eEnvironment* const environment = new E2eEnvironment;
  return *environment;
}

}  // namespace sessionkeyring::e2e
