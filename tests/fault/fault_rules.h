// What the module must do when one of its calls fails, as the fault table
// checks it: the documented outcome of each (call, errno) in each hook,
// and the judgement of one fault_driver run against it. No I/O here.
//
// The rules come from pam_sessionkeyring(8) and lib/hooks.h and
// lib/session.h:
// - open_session fails with PAM_SESSION_ERR and setcred(PAM_ESTABLISH_CRED)
//   with PAM_CRED_ERR when the IDs cannot be switched or restored, the
//   keyring can be made neither as the user nor as the caller, or the user
//   keyring cannot be linked in; each with one line at error level.
// - A kernel without keyrings (ENOSYS, or EPERM, at the hook's first
//   keyring call) is PAM_SUCCESS with one notice, or the failure above
//   with `strict`; the session stays in the caller's keyring.
// - A keyring the user cannot get (a full quota) is made as the caller
//   after one warning; a failed lookup gives a fresh keyring after one
//   warning; a revoked keyring (EKEYREVOKED) counts as none, silently.
// - The persistent keyring and the holder keyring (add_key) are extras: a
//   failure is one warning and the session goes on.
// - close_session is always PAM_SUCCESS; setcred(PAM_DELETE_CRED) fails
//   with PAM_CRED_ERR when the revocation fails. A keyring that is already
//   revoked counts as revoked, silently.
// The failures the documentation names are those of the first call of each
// kind in a hook. A later call (the restore of the IDs, the user-session
// keyring's lookup, the holder's link) that fails must still end in
// PAM_SUCCESS with one warning or the hook's error with one error line.
// Whatever happens, the caller's six IDs are as they were after every
// hook, and an open that succeeds never leaves the session in the
// caller's keyring (or any keyring of someone other than the user), except
// when keyrings are unavailable.

#ifndef SESSIONKEYRING_TESTS_FAULT_FAULT_RULES_H_
#define SESSIONKEYRING_TESTS_FAULT_FAULT_RULES_H_

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sessionkeyring::fault {

enum class Hook { kOpen, kEstablish, kClose, kDelete };

std::string_view HookName(Hook hook);
// The hooks in the table's order.
std::vector<Hook> AllHooks();

struct OptionSet {
  std::string_view text;  // the module's arguments
  bool force = false;
  bool strict = false;
};

// A fault fails every call of its kind that the hook under test makes, or
// only the Nth of them (counting from 1), after which the call works again,
// as when a quota is freed meanwhile.
inline constexpr long kEveryCall = 0;

struct Fault {
  std::string_view call;  // as fault_injection names it, "keyctl:join"
  int error_number = 0;
  long nth = kEveryCall;
};

// "all", "1st", "2nd", "3rd", "4th"...
std::string WhichName(long nth);

// The thread's session keyring as the driver saw it.
struct KeyringFacts {
  std::optional<int64_t> serial;  // nullopt: the lookup failed
  bool described = false;
  uid_t owner = 0;    // if described
  std::string error;  // "EKEYREVOKED" if not described
};

struct StepFacts {
  std::string name;  // "open", "close", "establish", "delete", "end"
  int code = -1;
  std::string ids;  // "uid 0/0/0 gid 0/0/0"
  KeyringFacts keyring;
};

// One fault_driver run, parsed.
struct DriverReport {
  std::string start_ids;
  KeyringFacts start_keyring;
  std::vector<StepFacts> steps;
  bool has_fault_line = false;
  long matched = 0;
  long failed = 0;
  long keyring_calls = 0;
  std::string first_keyring_call;  // "failed", "ran" or "none"
};

// Parses the driver's stdout; nullopt if it has no start line or a line
// does not parse.
std::optional<DriverReport> ParseDriverOutput(std::string_view out);

// A line the module logged at notice or above.
struct ModuleLine {
  int severity = 0;  // LOG_EMERG to LOG_NOTICE
  std::string text;
};

// Everything one run produced.
struct Observed {
  int exit_code = -1;  // 128 + signal if a signal ended the driver
  std::optional<DriverReport> report;
  std::vector<ModuleLine> lines;
};

struct Case {
  Hook hook = Hook::kOpen;
  OptionSet options;
  std::optional<Fault> fault;  // nullopt: a control run without a fault
  uid_t target_uid = 0;
  uid_t caller_uid = 0;
};

enum class Verdict { kPass, kNotReached, kFail };

struct Judgement {
  Verdict verdict = Verdict::kFail;
  int code = -1;  // the hook under test's PAM code, -1 if unknown
  std::vector<std::string> problems;
};

Judgement Judge(const Case& test_case, const Observed& observed);

// "PAM_SESSION_ERR" for the codes a hook can return, else the number.
std::string PamCodeName(int code);

}  // namespace sessionkeyring::fault

#endif  // SESSIONKEYRING_TESTS_FAULT_FAULT_RULES_H_
