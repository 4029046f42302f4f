#include "options.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <initializer_list>
#include <string>
#include <tuple>
#include <vector>

#include "fakes.h"

namespace sessionkeyring {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::SizeIs;

ParsedOptions Parse(std::initializer_list<const char*> words) {
  const std::vector<const char*> argv(words);
  return ParseOptions(argv);
}

// Options has no operator==; compare every field, by value.
auto Fields(const Options& options) {
  return std::make_tuple(options.debug, options.force, options.revoke,
                         options.allow_foreign, options.persistent,
                         options.link_previous, options.strict);
}

// A diagnostic goes to syslog: it must not carry a raw control character
// or a byte that is not ASCII, whatever the administrator typed.
bool IsPrintableAscii(const std::string& text) {
  return std::all_of(text.begin(), text.end(), [](char c) {
    const auto byte = static_cast<unsigned char>(c);
    return byte >= 0x20 && byte < 0x7f;
  });
}

TEST(ParseOptionsTest, NoArgumentsGiveDefaultsAndNoDiagnostics) {
  const ParsedOptions parsed = Parse({});

  EXPECT_EQ(Fields(parsed.options), Fields(Options{}));
  EXPECT_THAT(parsed.diagnostics, IsEmpty());
}

struct FlagWord {
  const char* word;
  bool Options::*member;
};

std::string FlagName(const ::testing::TestParamInfo<FlagWord>& info) {
  return info.param.word;
}

class FlagWordTest : public ::testing::TestWithParam<FlagWord> {};

TEST_P(FlagWordTest, SetsItsOwnOptionAndNothingElse) {
  Options expected;
  expected.*GetParam().member = true;

  const ParsedOptions parsed = Parse({GetParam().word});

  EXPECT_EQ(Fields(parsed.options), Fields(expected));
  EXPECT_THAT(parsed.diagnostics, IsEmpty());
}

INSTANTIATE_TEST_SUITE_P(
    EveryFlag, FlagWordTest,
    ::testing::Values(FlagWord{"debug", &Options::debug},
                      FlagWord{"force", &Options::force},
                      FlagWord{"allow_foreign", &Options::allow_foreign},
                      FlagWord{"persistent", &Options::persistent},
                      FlagWord{"link_previous", &Options::link_previous},
                      FlagWord{"strict", &Options::strict}),
    FlagName);

TEST(ParseOptionsTest, RevokeRevokesAtClose) {
  const ParsedOptions parsed = Parse({"revoke"});

  EXPECT_EQ(parsed.options.revoke, RevokeMode::kAtClose);
  EXPECT_THAT(parsed.diagnostics, IsEmpty());
}

TEST(ParseOptionsTest, RevokeEqualsEndRevokesAtTheEndOfTheTransaction) {
  const ParsedOptions parsed = Parse({"revoke=end"});

  EXPECT_EQ(parsed.options.revoke, RevokeMode::kAtEnd);
  EXPECT_THAT(parsed.diagnostics, IsEmpty());
}

TEST(ParseOptionsTest, AllWordsTogetherSetEveryOption) {
  const ParsedOptions parsed =
      Parse({"debug", "force", "revoke", "allow_foreign", "persistent",
             "link_previous", "strict"});

  EXPECT_EQ(Fields(parsed.options),
            std::make_tuple(true, true, RevokeMode::kAtClose, true, true, true,
                            true));
  EXPECT_THAT(parsed.diagnostics, IsEmpty());
}

// Words that are not options, or not well formed: each is reported once
// and changes nothing. Matching is case-sensitive, as in pam_keyinit.
class RejectedWordTest : public ::testing::TestWithParam<const char*> {};

TEST_P(RejectedWordTest, GivesOneDiagnosticAndIsIgnored) {
  const ParsedOptions parsed = Parse({GetParam()});

  EXPECT_EQ(Fields(parsed.options), Fields(Options{}));
  EXPECT_THAT(parsed.diagnostics, SizeIs(1));
}

INSTANTIATE_TEST_SUITE_P(
    UnknownOrMalformed, RejectedWordTest,
    ::testing::Values("Force", "REVOKE", "Debug", "revok", "bogusopt", "", "=",
                      "revoke=", "revoke=sometimes", "revoke=END",
                      "revoke=end=end", "debug=1", "force=", "strict=yes",
                      " debug", "debug ", "allow-foreign", "revoke end"));

TEST(ParseOptionsTest, UnknownWordDiagnosticQuotesTheWord) {
  const ParsedOptions parsed = Parse({"Force"});

  EXPECT_THAT(parsed.diagnostics,
              ElementsAre("Unknown option \"Force\", ignoring"));
}

TEST(ParseOptionsTest, BadRevokeValueDiagnosticNamesTheOnlyValidValue) {
  const ParsedOptions parsed = Parse({"revoke=sometimes"});

  ASSERT_THAT(parsed.diagnostics, SizeIs(1));
  EXPECT_THAT(parsed.diagnostics[0], HasSubstr("\"revoke=sometimes\""));
  EXPECT_THAT(parsed.diagnostics[0], HasSubstr("revoke=end"));
}

TEST(ParseOptionsTest, ValueOnAFlagDiagnosticNamesTheFlagAndTheWord) {
  const ParsedOptions parsed = Parse({"debug=1"});

  EXPECT_THAT(parsed.diagnostics,
              ElementsAre("Option \"debug\" takes no value, ignoring "
                          "\"debug=1\""));
}

TEST(ParseOptionsTest, NullEntryIsReportedAndTheOtherWordsStillApply) {
  const ParsedOptions parsed = Parse({"force", nullptr, "revoke"});

  EXPECT_TRUE(parsed.options.force);
  EXPECT_EQ(parsed.options.revoke, RevokeMode::kAtClose);
  EXPECT_THAT(parsed.diagnostics,
              ElementsAre("Null module argument, ignoring"));
}

TEST(ParseOptionsTest, RepeatedWordIsHarmless) {
  const ParsedOptions parsed = Parse({"debug", "debug", "force", "force"});

  EXPECT_TRUE(parsed.options.debug);
  EXPECT_TRUE(parsed.options.force);
  EXPECT_THAT(parsed.diagnostics, IsEmpty());
}

TEST(ParseOptionsTest, LaterRevokeOverridesRevokeAtEnd) {
  const ParsedOptions parsed = Parse({"revoke=end", "revoke"});

  EXPECT_EQ(parsed.options.revoke, RevokeMode::kAtClose);
}

TEST(ParseOptionsTest, LaterRevokeAtEndOverridesRevoke) {
  const ParsedOptions parsed = Parse({"revoke", "revoke=end"});

  EXPECT_EQ(parsed.options.revoke, RevokeMode::kAtEnd);
}

TEST(ParseOptionsTest, RejectedRevokeValueKeepsTheEarlierRevoke) {
  const ParsedOptions parsed = Parse({"revoke", "revoke=sometimes"});

  EXPECT_EQ(parsed.options.revoke, RevokeMode::kAtClose);
  EXPECT_THAT(parsed.diagnostics, SizeIs(1));
}

TEST(ParseOptionsTest, RejectedWordsLeaveTheGoodOnesAloneInOrder) {
  const ParsedOptions parsed = Parse({"force", "bogus", "revoke", "debug=1"});

  EXPECT_TRUE(parsed.options.force);
  EXPECT_FALSE(parsed.options.debug);
  EXPECT_EQ(parsed.options.revoke, RevokeMode::kAtClose);
  ASSERT_THAT(parsed.diagnostics, SizeIs(2));
  EXPECT_THAT(parsed.diagnostics[0], HasSubstr("\"bogus\""));
  EXPECT_THAT(parsed.diagnostics[1], HasSubstr("\"debug=1\""));
}

TEST(ParseOptionsTest, DiagnosticEscapesControlCharacters) {
  const ParsedOptions parsed = Parse({"x\n\x1b[2J\ty"});

  ASSERT_THAT(parsed.diagnostics, SizeIs(1));
  EXPECT_TRUE(IsPrintableAscii(parsed.diagnostics[0])) << parsed.diagnostics[0];
  EXPECT_THAT(parsed.diagnostics[0], HasSubstr("\"x\\x0a\\x1b[2J\\x09y\""));
}

TEST(ParseOptionsTest, DiagnosticEscapesBytesThatAreNotAscii) {
  const ParsedOptions parsed = Parse({"\xff\xfe\xc3("});

  ASSERT_THAT(parsed.diagnostics, SizeIs(1));
  EXPECT_TRUE(IsPrintableAscii(parsed.diagnostics[0])) << parsed.diagnostics[0];
  EXPECT_THAT(parsed.diagnostics[0], HasSubstr("\"\\xff\\xfe\\xc3(\""));
}

TEST(ParseOptionsTest, DiagnosticEscapesQuotesSoTheWordCannotCloseThem) {
  const ParsedOptions parsed = Parse({"a\" forged=\"b"});

  ASSERT_THAT(parsed.diagnostics, SizeIs(1));
  EXPECT_THAT(parsed.diagnostics[0], HasSubstr("\"a\\x22 forged=\\x22b\""));
}

TEST(ParseOptionsTest, DiagnosticOfAHostileValueOnAFlagIsEscaped) {
  const ParsedOptions parsed = Parse({"debug=\n\x80"});

  ASSERT_THAT(parsed.diagnostics, SizeIs(1));
  EXPECT_TRUE(IsPrintableAscii(parsed.diagnostics[0])) << parsed.diagnostics[0];
}

TEST(ParseOptionsTest, DiagnosticOfAVeryLongWordIsCut) {
  const std::string long_word(10000, 'A');

  const ParsedOptions parsed = Parse({long_word.c_str()});

  ASSERT_THAT(parsed.diagnostics, SizeIs(1));
  EXPECT_LT(parsed.diagnostics[0].size(), 200u);
  EXPECT_THAT(parsed.diagnostics[0], HasSubstr("..."));
}

}  // namespace
}  // namespace sessionkeyring
