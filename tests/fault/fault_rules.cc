#include "fault_rules.h"

#include <errno.h>
#include <security/pam_appl.h>
#include <string.h>
#include <syslog.h>

#include <charconv>
#include <sstream>

namespace sessionkeyring::fault {
namespace {

using enum Hook;

constexpr int kNoLine = -1;

// What the session keyring must be after the hook under test.
enum class KeyringRule {
  kUnchanged,  // still the caller's keyring: nothing was made
  kFresh,      // a new keyring, the user's or (after a warning) the caller's
  kOwnedByTarget,  // a new keyring of the user's
  kOwnedByCaller,  // a new keyring made as the caller
  kRevoked,
  kNotRevoked,
  kAny,  // the hook failed, so the session does not go on
};

struct Outcome {
  int code = PAM_SUCCESS;
  int severity = kNoLine;  // of the one line at notice or above
  KeyringRule keyring = KeyringRule::kAny;
};

struct Expectation {
  std::string_view why;
  std::vector<Outcome> outcomes;  // any one of them
};

bool OpensSession(Hook hook) { return hook == kOpen || hook == kEstablish; }

bool IsIdCall(std::string_view call) {
  return call == "getresuid" || call == "getresgid" || call == "setresuid" ||
         call == "setresgid";
}

bool IsKeyringCallName(std::string_view call) {
  return call == "add_key" || call.starts_with("keyctl");
}

std::vector<std::string_view> StepsOf(Hook hook) {
  switch (hook) {
    case kOpen:
    case kClose:
      return {"open", "close", "end"};
    case kEstablish:
      return {"establish", "open", "close", "end"};
    case kDelete:
      return {"establish", "delete", "end"};
  }
  return {};
}

// The documented outcome of a fault that fired in `test_case`'s hook.
Expectation Expect(const Case& test_case, const DriverReport& report) {
  const Fault& fault = *test_case.fault;
  const std::string_view call = fault.call;
  const int error = fault.error_number;
  const int failure = test_case.hook == kOpen ? PAM_SESSION_ERR : PAM_CRED_ERR;
  using enum KeyringRule;

  if (OpensSession(test_case.hook)) {
    if (IsKeyringCallName(call) && (error == ENOSYS || error == EPERM) &&
        report.first_keyring_call == "failed") {
      if (test_case.options.strict) {
        return {"no keyrings, strict: an error",
                {{failure, LOG_ERR, kUnchanged}}};
      }
      return {"no keyrings: one notice",
              {{PAM_SUCCESS, LOG_NOTICE, kUnchanged}}};
    }
    // The first call of each kind is the one the documentation speaks of:
    // the switch of IDs, the lookup of the inherited keyring, the keyring
    // made as the user, the link of the user keyring. A later one is the
    // restore of the IDs, the user-session keyring's lookup, the second
    // half of a description, the holder's link.
    const bool first_call = fault.nth <= 1;
    // A switch that fails comes back to the caller's IDs, and the session
    // gets a keyring made as the caller; a restore that fails is an error.
    if (IsIdCall(call)) {
      if (first_call) {
        return {"IDs not switched: made as the caller after a warning",
                {{PAM_SUCCESS, LOG_WARNING, kOwnedByCaller}}};
      }
      return {"IDs not switched (a warning) or not restored (an error)",
              {{PAM_SUCCESS, LOG_WARNING, kOwnedByCaller},
               {failure, LOG_ERR, kAny}}};
    }
    if ((call == "keyctl:get_keyring_id" || call == "keyctl:describe") &&
        error == EKEYREVOKED) {
      if (first_call) {
        return {"a revoked keyring counts as none",
                {{PAM_SUCCESS, kNoLine, kOwnedByTarget}}};
      }
      return {"revoked counts as none, or a warning",
              {{PAM_SUCCESS, kNoLine, kOwnedByTarget},
               {PAM_SUCCESS, LOG_WARNING, kFresh}}};
    }
    if (call == "keyctl:join" && fault.nth == kEveryCall) {
      return {"no keyring as user or caller: an error",
              {{failure, LOG_ERR, kUnchanged}}};
    }
    if (call == "keyctl:join" && fault.nth == 1) {
      return {"made as the caller after a warning",
              {{PAM_SUCCESS, LOG_WARNING, kOwnedByCaller}}};
    }
    if (call == "keyctl:link" && first_call) {
      return {"user keyring not linked: an error",
              {{failure, LOG_ERR, kOwnedByTarget}}};
    }
    if (call == "keyctl:get_persistent") {
      return {"persistent keyring: a warning",
              {{PAM_SUCCESS, LOG_WARNING, kOwnedByTarget}}};
    }
    if (call == "add_key") {
      return {"holder keyring: a warning",
              {{PAM_SUCCESS, LOG_WARNING, kFresh}}};
    }
    return {"a warning, or an error",
            {{PAM_SUCCESS, LOG_WARNING, kFresh}, {failure, LOG_ERR, kAny}}};
  }

  if (call == "keyctl:revoke") {
    // Refused once for want of possession, as on another thread than the
    // opener's: the revoke goes through the holder instead.
    if (error == EACCES && fault.nth == 1) {
      return {"revoked through the holder", {{PAM_SUCCESS, kNoLine, kRevoked}}};
    }
    // A later revoke is the holder's release, after the session keyring's.
    if (fault.nth >= 2) {
      if (error == EKEYREVOKED) {
        return {"holder already revoked", {{PAM_SUCCESS, kNoLine, kRevoked}}};
      }
      return {"holder not released: a warning",
              {{PAM_SUCCESS, LOG_WARNING, kRevoked}}};
    }
    if (error == EKEYREVOKED) {
      return {"already revoked counts as revoked",
              {{PAM_SUCCESS, kNoLine, kNotRevoked}}};
    }
    if (test_case.hook == kClose) {
      return {"revocation failed: an error, close succeeds",
              {{PAM_SUCCESS, LOG_ERR, kNotRevoked}}};
    }
    return {"revocation failed: an error",
            {{PAM_CRED_ERR, LOG_ERR, kNotRevoked}}};
  }
  if (test_case.hook == kClose) {
    return {"close succeeds, a line says why",
            {{PAM_SUCCESS, LOG_WARNING, kRevoked},
             {PAM_SUCCESS, LOG_ERR, kRevoked}}};
  }
  return {
      "a warning, or an error",
      {{PAM_SUCCESS, LOG_WARNING, kRevoked}, {PAM_CRED_ERR, LOG_ERR, kAny}}};
}

// Without a fault (or one whose call the hook never made).
Expectation Normal(Hook hook) {
  if (OpensSession(hook)) {
    return {"a keyring of the user's",
            {{PAM_SUCCESS, kNoLine, KeyringRule::kOwnedByTarget}}};
  }
  return {"revoked", {{PAM_SUCCESS, kNoLine, KeyringRule::kRevoked}}};
}

std::string SeverityName(int severity) {
  switch (severity) {
    case kNoLine:
      return "no line";
    case LOG_ERR:
      return "an error line";
    case LOG_WARNING:
      return "a warning line";
    case LOG_NOTICE:
      return "a notice line";
  }
  return "a line of severity " + std::to_string(severity);
}

std::string DescribeOutcome(const Outcome& outcome) {
  return PamCodeName(outcome.code) + " with " + SeverityName(outcome.severity);
}

std::string DescribeKeyring(const KeyringFacts& keyring) {
  std::string text =
      keyring.serial ? std::to_string(*keyring.serial) : std::string("?");
  if (keyring.described) {
    return text + " owned by uid " + std::to_string(keyring.owner);
  }
  return text + " (" + keyring.error + ")";
}

bool IsFresh(const KeyringFacts& now, const KeyringFacts& start) {
  return now.described && now.serial && start.serial &&
         *now.serial != *start.serial;
}

// Empty if `now` obeys `rule`, else what is wrong.
std::string CheckKeyring(KeyringRule rule, const KeyringFacts& now,
                         const KeyringFacts& start, const Case& test_case) {
  const std::string seen = DescribeKeyring(now);
  const bool fresh = IsFresh(now, start);
  switch (rule) {
    case KeyringRule::kUnchanged:
      if (now.described && now.serial == start.serial) return {};
      return "expected the caller's keyring " + DescribeKeyring(start) +
             ", got " + seen;
    case KeyringRule::kFresh:
      if (fresh && (now.owner == test_case.target_uid ||
                    now.owner == test_case.caller_uid)) {
        return {};
      }
      return "expected a fresh keyring of the user or the caller, got " + seen;
    case KeyringRule::kOwnedByTarget:
      if (fresh && now.owner == test_case.target_uid) return {};
      return "expected a fresh keyring owned by uid " +
             std::to_string(test_case.target_uid) + ", got " + seen;
    case KeyringRule::kOwnedByCaller:
      if (fresh && now.owner == test_case.caller_uid) return {};
      return "expected a fresh keyring made as uid " +
             std::to_string(test_case.caller_uid) + ", got " + seen;
    case KeyringRule::kRevoked:
      if (!now.described && now.error == "EKEYREVOKED") return {};
      return "expected the session keyring revoked, got " + seen;
    case KeyringRule::kNotRevoked:
      if (now.described) return {};
      return "expected the session keyring not revoked, got " + seen;
    case KeyringRule::kAny:
      return {};
  }
  return "unknown rule";
}

bool ParseNumber(std::string_view text, int64_t& out) {
  const auto [end, error] =
      std::from_chars(text.data(), text.data() + text.size(), out);
  return error == std::errc() && end == text.data() + text.size();
}

// Reads "uid R/E/S gid R/E/S keyring SERIAL WHAT..." from words[at...].
bool ParseState(const std::vector<std::string>& words, size_t at,
                std::string& ids, KeyringFacts& keyring) {
  if (words.size() < at + 6 || words[at] != "uid" || words[at + 2] != "gid" ||
      words[at + 4] != "keyring") {
    return false;
  }
  ids = "uid " + words[at + 1] + " gid " + words[at + 3];
  int64_t serial = 0;
  if (ParseNumber(words[at + 5], serial)) keyring.serial = serial;
  if (words.size() == at + 8 && words[at + 6] == "error") {
    keyring.error = words[at + 7];
    return true;
  }
  // "keyring;uid;gid;perm;description": the description may hold spaces.
  std::string description;
  for (size_t i = at + 6; i < words.size(); ++i) {
    description += (i > at + 6 ? " " : "") + words[i];
  }
  const size_t first = description.find(';');
  const size_t second = description.find(';', first + 1);
  int64_t owner = 0;
  if (first == std::string::npos || second == std::string::npos ||
      !ParseNumber(
          std::string_view(description).substr(first + 1, second - first - 1),
          owner)) {
    return false;
  }
  keyring.described = true;
  keyring.owner = static_cast<uid_t>(owner);
  return true;
}

}  // namespace

std::string_view HookName(Hook hook) {
  switch (hook) {
    case kOpen:
      return "open";
    case kEstablish:
      return "establish";
    case kClose:
      return "close";
    case kDelete:
      return "delete";
  }
  return "?";
}

std::vector<Hook> AllHooks() { return {kOpen, kEstablish, kClose, kDelete}; }

std::string WhichName(long nth) {
  if (nth == kEveryCall) return "all";
  const long tens = nth % 100 / 10;
  const long units = nth % 10;
  const char* suffix = tens == 1    ? "th"
                       : units == 1 ? "st"
                       : units == 2 ? "nd"
                       : units == 3 ? "rd"
                                    : "th";
  return std::to_string(nth) + suffix;
}

std::optional<DriverReport> ParseDriverOutput(std::string_view out) {
  DriverReport report;
  bool started = false;
  std::istringstream lines{std::string(out)};
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream split(line);
    std::vector<std::string> words;
    for (std::string word; split >> word;) words.push_back(word);
    if (words.empty()) continue;
    if (words[0] == "start") {
      if (!ParseState(words, 1, report.start_ids, report.start_keyring)) {
        return std::nullopt;
      }
      started = true;
    } else if (words[0] == "step" && words.size() > 3) {
      StepFacts step;
      step.name = words[1];
      int64_t code = 0;
      if (!ParseNumber(words[2], code) ||
          !ParseState(words, 3, step.ids, step.keyring)) {
        return std::nullopt;
      }
      step.code = static_cast<int>(code);
      report.steps.push_back(std::move(step));
    } else if (words[0] == "fault" && words.size() == 9) {
      int64_t matched = 0, failed = 0, keyring_calls = 0;
      if (!ParseNumber(words[2], matched) || !ParseNumber(words[4], failed) ||
          !ParseNumber(words[6], keyring_calls)) {
        return std::nullopt;
      }
      report.has_fault_line = true;
      report.matched = matched;
      report.failed = failed;
      report.keyring_calls = keyring_calls;
      report.first_keyring_call = words[8];
    } else {
      return std::nullopt;
    }
  }
  if (!started) return std::nullopt;
  return report;
}

std::string PamCodeName(int code) {
  switch (code) {
    case PAM_SUCCESS:
      return "PAM_SUCCESS";
    case PAM_SESSION_ERR:
      return "PAM_SESSION_ERR";
    case PAM_CRED_ERR:
      return "PAM_CRED_ERR";
    case PAM_IGNORE:
      return "PAM_IGNORE";
    case PAM_BUF_ERR:
      return "PAM_BUF_ERR";
    case PAM_SERVICE_ERR:
      return "PAM_SERVICE_ERR";
    case PAM_SYSTEM_ERR:
      return "PAM_SYSTEM_ERR";
    case PAM_PERM_DENIED:
      return "PAM_PERM_DENIED";
    case PAM_USER_UNKNOWN:
      return "PAM_USER_UNKNOWN";
  }
  return "PAM code " + std::to_string(code);
}

Judgement Judge(const Case& test_case, const Observed& observed) {
  Judgement judgement;
  std::vector<std::string>& problems = judgement.problems;
  const auto finish = [&judgement](Verdict success) {
    judgement.verdict = judgement.problems.empty() ? success : Verdict::kFail;
    return judgement;
  };

  if (observed.exit_code > 128) {
    problems.push_back("the driver died of signal " +
                       std::to_string(observed.exit_code - 128));
  } else if (observed.exit_code != 0) {
    problems.push_back("the driver exited with " +
                       std::to_string(observed.exit_code));
  }
  if (!observed.report) {
    problems.push_back("the driver's report is missing or malformed");
    return finish(Verdict::kFail);
  }
  const DriverReport& report = *observed.report;

  std::vector<std::string_view> names;
  for (const StepFacts& step : report.steps) names.push_back(step.name);
  if (names != StepsOf(test_case.hook)) {
    problems.push_back("not every step ran");
    return finish(Verdict::kFail);
  }
  for (const StepFacts& step : report.steps) {
    if (step.ids != report.start_ids) {
      problems.push_back("after " + step.name + " the IDs are " + step.ids +
                         ", not " + report.start_ids);
    }
  }

  const std::string_view hook_name = HookName(test_case.hook);
  const StepFacts* under_test = nullptr;
  for (const StepFacts& step : report.steps) {
    if (step.name == hook_name) under_test = &step;
  }
  if (under_test == nullptr) {
    problems.push_back("the hook under test did not run");
    return finish(Verdict::kFail);
  }
  judgement.code = under_test->code;

  if (test_case.fault && !report.has_fault_line) {
    problems.push_back("the driver did not report the fault's calls");
  }
  const bool fired = test_case.fault && report.failed > 0;
  const Expectation expected =
      fired ? Expect(test_case, report) : Normal(test_case.hook);

  // Every other step of a session without a fault succeeds.
  if (!fired) {
    for (const StepFacts& step : report.steps) {
      if (step.code != PAM_SUCCESS) {
        problems.push_back(step.name + " returned " + PamCodeName(step.code));
      }
    }
  }

  const int line_severity =
      observed.lines.size() == 1 ? observed.lines[0].severity : kNoLine;
  const Outcome* matched = nullptr;
  if (observed.lines.size() <= 1) {
    for (const Outcome& outcome : expected.outcomes) {
      if (outcome.code == under_test->code &&
          outcome.severity == line_severity) {
        matched = &outcome;
      }
    }
  }
  if (matched == nullptr) {
    std::string wanted;
    for (const Outcome& outcome : expected.outcomes) {
      wanted += (wanted.empty() ? "" : " or ") + DescribeOutcome(outcome);
    }
    problems.push_back(
        "expected (" + std::string(expected.why) + ") " + wanted + ", got " +
        PamCodeName(under_test->code) + " with " +
        (observed.lines.size() <= 1
             ? SeverityName(line_severity)
             : std::to_string(observed.lines.size()) + " lines"));
  } else if (fired && matched->severity != kNoLine) {
    const char* reason = strerrordesc_np(test_case.fault->error_number);
    if (reason != nullptr &&
        observed.lines[0].text.find(reason) == std::string::npos) {
      problems.push_back("the line does not give the error (\"" +
                         std::string(reason) + "\")");
    }
  }
  if (matched != nullptr) {
    const std::string wrong = CheckKeyring(
        matched->keyring, under_test->keyring, report.start_keyring, test_case);
    if (!wrong.empty()) problems.push_back(wrong);
  }

  // Whatever the hook under test did, no session that a hook reported as
  // set up may be in a keyring of someone other than the user, nor in the
  // caller's own, unless the hook found no keyring support.
  for (const StepFacts& step : report.steps) {
    const bool opens = step.name == "open" || step.name == "establish";
    const bool unavailable = &step == under_test && matched != nullptr &&
                             matched->keyring == KeyringRule::kUnchanged;
    if (!opens || step.code != PAM_SUCCESS || unavailable) continue;
    if (!IsFresh(step.keyring, report.start_keyring) ||
        (step.keyring.owner != test_case.target_uid &&
         step.keyring.owner != test_case.caller_uid)) {
      problems.push_back("after " + step.name + " the session is in " +
                         DescribeKeyring(step.keyring) +
                         ", not a fresh keyring of the user's");
    }
  }

  if (!fired) {
    return finish(test_case.fault ? Verdict::kNotReached : Verdict::kPass);
  }
  return finish(Verdict::kPass);
}

}  // namespace sessionkeyring::fault
