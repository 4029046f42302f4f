// The fault table's judge, on made-up driver reports: each way the module
// can go wrong must fail a row, so that a table of passes means something.

#include "fault_rules.h"

#include <errno.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <security/pam_appl.h>
#include <syslog.h>

#include <string>

namespace sessionkeyring::fault {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;

constexpr uid_t kTarget = 64200;
constexpr OptionSet kForceRevoke = {"force revoke", true, false};
constexpr OptionSet kStrict = {"force revoke strict", true, true};

constexpr char kCaller[] = "keyring;0;0;3f030000;_ses";
constexpr char kUsers[] = "keyring;64200;64200;3f030000;_ses";
constexpr char kRoots[] = "keyring;0;0;3f030000;_ses";
constexpr char kIds[] = "uid 0/0/0 gid 0/0/0";

Case OpenWith(std::string_view call, int error_number, long nth = kEveryCall,
              OptionSet options = kForceRevoke) {
  return {Hook::kOpen, options, Fault{call, error_number, nth}, kTarget, 0};
}

// A driver's output for the open hook: open, close and end, each with the
// given keyring (serial 100 is the caller's), and the fault line.
std::string OpenOutput(int code, const std::string& after_open,
                       std::string_view first_keyring_call = "ran",
                       long failed = 1, const std::string& ids = kIds) {
  return std::string("start ") + kIds + " keyring 100 " + kCaller + "\n" +
         "step open " + std::to_string(code) + " " + ids + " keyring " +
         after_open + "\n" + "step close 0 " + kIds +
         " keyring ? error EKEYREVOKED\n" + "step end 0 " + kIds +
         " keyring ? error EKEYREVOKED\n" + "fault matched " +
         std::to_string(failed) + " failed " + std::to_string(failed) +
         " keyring-calls 3 first-keyring-call " +
         std::string(first_keyring_call) + "\n";
}

Observed Observe(const std::string& out, std::vector<ModuleLine> lines,
                 int exit_code = 0) {
  return {exit_code, ParseDriverOutput(out), std::move(lines)};
}

const ModuleLine kHoldWarning = {
    LOG_WARNING, "Failed to hold session keyring 200: Permission denied"};
const ModuleLine kLinkError = {
    LOG_ERR, "Failed to link the user keyring: Permission denied"};

TEST(FaultRulesTest, ParsesTheDriversReport) {
  const std::optional<DriverReport> report =
      ParseDriverOutput(OpenOutput(0, std::string("200 ") + kUsers));

  ASSERT_TRUE(report.has_value());
  EXPECT_EQ(report->start_ids, kIds);
  EXPECT_EQ(report->start_keyring.serial, 100);
  ASSERT_EQ(report->steps.size(), 3u);
  EXPECT_EQ(report->steps[0].keyring.owner, kTarget);
  EXPECT_FALSE(report->steps[1].keyring.described);
  EXPECT_EQ(report->steps[1].keyring.error, "EKEYREVOKED");
  EXPECT_EQ(report->first_keyring_call, "ran");
}

TEST(FaultRulesTest, AToleratedFailureWithOneWarningPasses) {
  const Judgement judgement =
      Judge(OpenWith("add_key", EACCES),
            Observe(OpenOutput(PAM_SUCCESS, std::string("200 ") + kUsers),
                    {kHoldWarning}));

  EXPECT_EQ(judgement.verdict, Verdict::kPass)
      << ::testing::PrintToString(judgement.problems);
}

TEST(FaultRulesTest, TwoLinesForOneFaultFail) {
  const Judgement judgement =
      Judge(OpenWith("keyctl:link", EACCES),
            Observe(OpenOutput(PAM_SESSION_ERR, std::string("200 ") + kUsers),
                    {kLinkError, kHoldWarning}));

  EXPECT_EQ(judgement.verdict, Verdict::kFail);
  EXPECT_THAT(judgement.problems.at(0), HasSubstr("2 lines"));
}

TEST(FaultRulesTest, ALineThatDoesNotGiveTheErrorFails) {
  const Judgement judgement =
      Judge(OpenWith("add_key", EACCES),
            Observe(OpenOutput(PAM_SUCCESS, std::string("200 ") + kUsers),
                    {{LOG_WARNING, "Failed to hold the session keyring"}}));

  EXPECT_EQ(judgement.verdict, Verdict::kFail);
}

TEST(FaultRulesTest, ADriverKilledByASignalFails) {
  const Judgement judgement =
      Judge(OpenWith("add_key", EACCES),
            Observe(OpenOutput(PAM_SUCCESS, std::string("200 ") + kUsers),
                    {kHoldWarning}, 128 + 11));

  EXPECT_EQ(judgement.verdict, Verdict::kFail);
  EXPECT_THAT(judgement.problems.at(0), HasSubstr("signal 11"));
}

TEST(FaultRulesTest, IdsNotRestoredFail) {
  const Judgement judgement =
      Judge(OpenWith("setresuid", EPERM),
            Observe(OpenOutput(PAM_SESSION_ERR, std::string("100 ") + kCaller,
                               "none", 1, "uid 64200/0/0 gid 0/0/0"),
                    {{LOG_ERR, "Failed to switch: Operation not permitted"}}));

  EXPECT_EQ(judgement.verdict, Verdict::kFail);
  EXPECT_THAT(judgement.problems.at(0), HasSubstr("IDs"));
}

TEST(FaultRulesTest, AFailedIdSwitchThatGivesAKeyringOfTheUsersFails) {
  const Judgement judgement = Judge(
      OpenWith("setresuid", EPERM),
      Observe(OpenOutput(PAM_SUCCESS, std::string("200 ") + kUsers, "none"),
              {{LOG_WARNING, "Operation not permitted"}}));

  EXPECT_EQ(judgement.verdict, Verdict::kFail);
  EXPECT_THAT(judgement.problems, Contains(HasSubstr("made as uid 0")));
}

TEST(FaultRulesTest, ASuccessfulOpenInTheCallersKeyringFails) {
  const Judgement judgement =
      Judge(OpenWith("add_key", EACCES),
            Observe(OpenOutput(PAM_SUCCESS, std::string("100 ") + kCaller),
                    {kHoldWarning}));

  EXPECT_EQ(judgement.verdict, Verdict::kFail);
  EXPECT_THAT(judgement.problems, Contains(HasSubstr("expected a fresh")));
}

TEST(FaultRulesTest, AKeyringOfRootsAfterAWarningIsTheFallback) {
  const Judgement fallback = Judge(
      OpenWith("keyctl:join", EDQUOT, 1),
      Observe(OpenOutput(PAM_SUCCESS, std::string("300 ") + kRoots),
              {{LOG_WARNING, "Failed to join: Disk quota exceeded; made it"}}));
  const Judgement silent =
      Judge(OpenWith("keyctl:join", EDQUOT, 1),
            Observe(OpenOutput(PAM_SUCCESS, std::string("300 ") + kRoots), {}));

  EXPECT_EQ(fallback.verdict, Verdict::kPass)
      << ::testing::PrintToString(fallback.problems);
  EXPECT_EQ(silent.verdict, Verdict::kFail);
}

TEST(FaultRulesTest, MissingKeyringsAreANoticeOrWithStrictAnError) {
  const std::string unchanged = std::string("100 ") + kCaller;
  const ModuleLine notice = {LOG_NOTICE,
                             "Kernel keyrings are not available (Function "
                             "not implemented), continuing"};
  const ModuleLine error = {LOG_ERR,
                            "Failed: kernel keyrings are not available "
                            "(Function not implemented)"};

  EXPECT_EQ(
      Judge(OpenWith("keyctl:join", ENOSYS),
            Observe(OpenOutput(PAM_SUCCESS, unchanged, "failed"), {notice}))
          .verdict,
      Verdict::kPass);
  EXPECT_EQ(
      Judge(OpenWith("keyctl:join", ENOSYS, kEveryCall, kStrict),
            Observe(OpenOutput(PAM_SESSION_ERR, unchanged, "failed"), {error}))
          .verdict,
      Verdict::kPass);
  EXPECT_EQ(
      Judge(OpenWith("keyctl:join", ENOSYS, kEveryCall, kStrict),
            Observe(OpenOutput(PAM_SUCCESS, unchanged, "failed"), {notice}))
          .verdict,
      Verdict::kFail);
}

TEST(FaultRulesTest, ACallTheHookNeverMadeIsNotReached) {
  const Judgement judgement =
      Judge(OpenWith("keyctl:revoke", EACCES),
            Observe(OpenOutput(PAM_SUCCESS, std::string("200 ") + kUsers, "ran",
                               /*failed=*/0),
                    {}));

  EXPECT_EQ(judgement.verdict, Verdict::kNotReached)
      << ::testing::PrintToString(judgement.problems);
}

TEST(FaultRulesTest, ALineWithoutAFaultFails) {
  const Judgement judgement =
      Judge(OpenWith("keyctl:revoke", EACCES),
            Observe(OpenOutput(PAM_SUCCESS, std::string("200 ") + kUsers, "ran",
                               /*failed=*/0),
                    {kHoldWarning}));

  EXPECT_EQ(judgement.verdict, Verdict::kFail);
}

}  // namespace
}  // namespace sessionkeyring::fault
