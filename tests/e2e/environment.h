// What every test of the e2e binary shares: the sandbox, built once before
// the first test runs (not when ctest lists the tests) and taken down after
// the last, the probe script installed in it, and the comparison table that
// is printed at the end.

#ifndef SESSIONKEYRING_TESTS_E2E_ENVIRONMENT_H_
#define SESSIONKEYRING_TESTS_E2E_ENVIRONMENT_H_

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>
#include <string_view>

#include "comparison.h"
#include "sandbox.h"

namespace sessionkeyring::e2e {

// The users the sandbox adds to its passwd and group files.
const TestUser& Alice();
const TestUser& Bob();

// Whether an executable of that name is in PATH.
bool InPath(std::string_view program);

class E2eEnvironment final : public ::testing::Environment {
 public:
  // Builds the sandbox, or records why this machine cannot have one (tests
  // then skip); a sandbox that fails half-way is a test failure.
  void SetUp() override;
  // Prints the comparison table, then leaves the sandbox.
  void TearDown() override;

  // Why the tests cannot run here, or empty.
  const std::string& skip_reason() const { return skip_reason_; }
  // Null unless SetUp() succeeded.
  Sandbox* sandbox() { return sandbox_.get(); }
  // The probe script, inside the sandbox's directory.
  const std::filesystem::path& probe() const { return probe_; }
  ComparisonTable& comparisons() { return comparisons_; }

 private:
  std::string skip_reason_;
  std::unique_ptr<Sandbox> sandbox_;
  std::filesystem::path probe_;
  ComparisonTable comparisons_;
};

// The one environment, registered with GoogleTest by main().
E2eEnvironment& TheEnvironment();

}  // namespace sessionkeyring::e2e

#endif  // SESSIONKEYRING_TESTS_E2E_ENVIRONMENT_H_
