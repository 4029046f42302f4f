#include "log_sink.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace sessionkeyring {
namespace {

using std::string_view_literals::operator""sv;

TEST(QuoteForLogTest, WrapsPlainTextInDoubleQuotes) {
  EXPECT_EQ(QuoteForLog("alice"), "\"alice\"");
}

TEST(QuoteForLogTest, QuotesEmptyText) { EXPECT_EQ(QuoteForLog(""), "\"\""); }

TEST(QuoteForLogTest, KeepsSpacesAndPrintablePunctuation) {
  EXPECT_EQ(QuoteForLog("a b~!@#$%^&*()_+-={}[]|:;'<>,.?/`"),
            "\"a b~!@#$%^&*()_+-={}[]|:;'<>,.?/`\"");
}

TEST(QuoteForLogTest, EscapesDoubleQuotesAndBackslashes) {
  EXPECT_EQ(QuoteForLog("say \"hi\" \\o/"), "\"say \\x22hi\\x22 \\x5co/\"");
}

TEST(QuoteForLogTest, EscapesControlCharacters) {
  EXPECT_EQ(QuoteForLog("a\nb\tc\rd\x1b"
                        "e"),
            "\"a\\x0ab\\x09c\\x0dd\\x1be\"");
}

TEST(QuoteForLogTest, EscapesNulBytesInsideTheText) {
  EXPECT_EQ(QuoteForLog("a\0b"sv), "\"a\\x00b\"");
}

TEST(QuoteForLogTest, EscapesDelete) {
  EXPECT_EQ(QuoteForLog("\x7f"), "\"\\x7f\"");
}

TEST(QuoteForLogTest, EscapesEveryByteOfUtf8AndInvalidSequences) {
  EXPECT_EQ(QuoteForLog("caf\xc3\xa9 \xff\xfe"),
            "\"caf\\xc3\\xa9 \\xff\\xfe\"");
}

TEST(QuoteForLogTest, UsesLowercaseHexDigits) {
  EXPECT_EQ(QuoteForLog("\xab\xcd"), "\"\\xab\\xcd\"");
}

TEST(QuoteForLogTest, KeepsTextOfExactlyTheLimit) {
  const std::string text(64, 'a');

  EXPECT_EQ(QuoteForLog(text), "\"" + text + "\"");
}

TEST(QuoteForLogTest, CutsTextOverTheDefaultLimitAndMarksTheCut) {
  const std::string text = std::string(64, 'a') + "b";

  EXPECT_EQ(QuoteForLog(text), "\"" + std::string(64, 'a') + "\"...");
}

TEST(QuoteForLogTest, HonoursAnExplicitLimit) {
  EXPECT_EQ(QuoteForLog("abcdef", 3), "\"abc\"...");
}

TEST(QuoteForLogTest, LimitCountsInputBytesNotEscapedOutput) {
  const std::string text(64, '\n');

  const std::string quoted = QuoteForLog(text);

  EXPECT_EQ(quoted.size(), 2 + 64 * 4u);
  EXPECT_EQ(quoted.back(), '"');
}

TEST(QuoteForLogTest, CutsBeforeEscapingSoAnEscapeIsNeverSplit) {
  EXPECT_EQ(QuoteForLog("ab\n", 3), "\"ab\\x0a\"");
  EXPECT_EQ(QuoteForLog("ab\ncd", 3), "\"ab\\x0a\"...");
}

TEST(QuoteForLogTest, ZeroLimitKeepsOnlyTheMarkForNonEmptyText) {
  EXPECT_EQ(QuoteForLog("secret", 0), "\"\"...");
  EXPECT_EQ(QuoteForLog("", 0), "\"\"");
}

}  // namespace
}  // namespace sessionkeyring
