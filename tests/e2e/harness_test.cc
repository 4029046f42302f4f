// Tests of the harness itself, so that a scenario's failure can be trusted
// to be the module's: the syslog and probe parsers, and the sandbox's
// command runner and /dev/log.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <syslog.h>

#include <chrono>
#include <csignal>
#include <string>
#include <vector>

#include "environment.h"
#include "sandbox.h"
#include "session_report.h"

namespace sessionkeyring::e2e {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;

TEST(ParseLogLineTest, TakesAPamSyslogLineApart) {
  const LogLine line = ParseLogLine(
      "<85>Dec  3 13:19:50 pamtester: pam_keyinit(svc:session): Unable to "
      "look up user \"x\"\n");

  EXPECT_EQ(line.severity, LOG_NOTICE);
  EXPECT_EQ(line.program, "pamtester");
  EXPECT_EQ(line.module, "pam_keyinit");
  EXPECT_EQ(line.text, "Unable to look up user \"x\"");
}

TEST(ParseLogLineTest, LeavesTheModuleEmptyForOtherSenders) {
  const LogLine line =
      ParseLogLine("<13>Dec 13 09:00:01 logger: a plain (message): here");

  EXPECT_EQ(line.severity, LOG_NOTICE);
  EXPECT_EQ(line.program, "logger");
  EXPECT_EQ(line.module, "");
  EXPECT_EQ(line.text, "a plain (message): here");
}

TEST(ParseProbeOutputTest, GroupsLinksAndIdsUnderTheirSessionLine) {
  const std::vector<ProbeSnapshot> snapshots = ParseProbeOutput(
      "probe open_session session 12 keyring;61001;61001;3f030000;_ses\n"
      "probe open_session link 34 keyring;61001;65534;1f3f0000;_uid.61001\n"
      "probe open_session client uid 0/0/0 gid 0/0/0\n"
      "pamtester: successfully opened a session\n"
      "probe close_session error Key has been revoked\n");

  ASSERT_EQ(snapshots.size(), 2u);
  ASSERT_TRUE(snapshots[0].session);
  EXPECT_EQ(snapshots[0].session->serial, 12);
  EXPECT_EQ(snapshots[0].session->uid, 61001u);
  EXPECT_EQ(snapshots[0].session->permissions, 0x3f030000u);
  EXPECT_TRUE(snapshots[0].LinksUserKeyringOf(61001));
  EXPECT_EQ(snapshots[0].client_ids, "uid 0/0/0 gid 0/0/0");
  EXPECT_EQ(snapshots[1].hook, "close_session");
  EXPECT_TRUE(snapshots[1].revoked());
}

class SandboxTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!TheEnvironment().skip_reason().empty()) {
      GTEST_SKIP() << TheEnvironment().skip_reason();
    }
    ASSERT_NE(TheEnvironment().sandbox(), nullptr) << "the sandbox is broken";
  }

  Sandbox& sandbox() { return *TheEnvironment().sandbox(); }
};

TEST_F(SandboxTest, RunKillsACommandThatOverstaysItsTimeout) {
  const auto start = std::chrono::steady_clock::now();
  const RunResult result =
      sandbox().Run({"sleep", "30"}, {}, std::chrono::milliseconds(200));

  EXPECT_TRUE(result.timed_out);
  EXPECT_EQ(result.exit_code, 128 + SIGKILL);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST_F(SandboxTest, RunCollectsWhatTheCommandSendsToDevLog) {
  const RunResult result = sandbox().Run(
      {"logger", "-p", "authpriv.warning", "-t", "skr-e2e", "hello"});

  EXPECT_EQ(result.exit_code, 0) << Describe(result);
  EXPECT_THAT(result.log,
              ElementsAre(AllOf(Field(&LogLine::severity, LOG_WARNING),
                                Field(&LogLine::program, "skr-e2e"),
                                Field(&LogLine::text, "hello"))));
}

TEST_F(SandboxTest, ReportsWhyAChildSetupFailed) {
  const RunResult result =
      sandbox().Run({"true"}, [] { return std::string("no keyring today"); });

  EXPECT_EQ(result.exit_code, Sandbox::kSetupFailedExitCode);
  EXPECT_THAT(result.err, HasSubstr("no keyring today"));
}

TEST_F(SandboxTest, TestUsersAreKnownInsideTheSandbox) {
  const RunResult result = sandbox().Run({"getent", "passwd", Alice().name});

  EXPECT_EQ(result.exit_code, 0);
  EXPECT_THAT(result.out, HasSubstr(":61001:61001:"));
}

}  // namespace
}  // namespace sessionkeyring::e2e
