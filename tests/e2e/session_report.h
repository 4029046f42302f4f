// What a PAM client's run showed: the probe's view of the session keyring
// at each hook, the module's log lines, and a one-line summary of both for
// the comparison table.

#ifndef SESSIONKEYRING_TESTS_E2E_SESSION_REPORT_H_
#define SESSIONKEYRING_TESTS_E2E_SESSION_REPORT_H_

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "sandbox.h"

namespace sessionkeyring::e2e {

// One keyring as `keyctl rdescribe` prints it, with its serial.
struct KeyringInfo {
  int32_t serial = 0;
  std::string type;
  uid_t uid = 0;
  gid_t gid = 0;
  uint32_t permissions = 0;
  std::string description;
};

// What one run of the probe saw (see probe.sh).
struct ProbeSnapshot {
  std::string hook;  // "caller", "open_session", "close_session", ...
  std::optional<KeyringInfo> session;  // unset when @s could not be read
  std::string error;                   // why, in keyctl's words
  std::vector<KeyringInfo> links;      // the keyrings linked into @s
  // The probe's parent's IDs ("uid 0/0/0 gid 0/0/0", real/effective/saved):
  // under pam_exec, the PAM client's IDs at that point of the stack.
  std::string client_ids;

  bool revoked() const;
  // Whether a keyring linked into the session is `uid`'s user keyring.
  bool LinksUserKeyringOf(uid_t uid) const;
};

// Parses every "probe ..." line of `output`, in order; other lines are
// skipped, malformed probe lines become snapshots with an error.
std::vector<ProbeSnapshot> ParseProbeOutput(std::string_view output);

// Hook names as pam_exec sets PAM_TYPE.
inline constexpr std::string_view kCaller = "caller";
inline constexpr std::string_view kOpen = "open_session";
inline constexpr std::string_view kClose = "close_session";
// The probe's name for the point it runs at when a client runs it as the
// user's command.
inline constexpr std::string_view kCommand = "command";

struct SessionReport {
  RunResult run;
  std::vector<ProbeSnapshot> snapshots;
  std::vector<LogLine> module_log;  // the lines of the module under test

  SessionReport(RunResult result, std::string_view module_name);

  // The index-th snapshot taken at `hook`, or one whose error says that
  // the probe did not report (so that a test fails instead of crashing).
  ProbeSnapshot At(std::string_view hook, size_t index = 0) const;
  std::optional<int32_t> CallerSerial() const;

  // The module's log lines at one severity.
  std::vector<LogLine> LogAt(int severity) const;

  // "open: new _ses 61001:61001 3f030000 +_uid.61001; close: revoked;
  // log: none", without serial numbers, so that the two modules' runs can
  // be compared as text. Debug lines are left out: the two modules' debug
  // output differs by design.
  std::string Summary() const;
};

}  // namespace sessionkeyring::e2e

#endif  // SESSIONKEYRING_TESTS_E2E_SESSION_REPORT_H_
