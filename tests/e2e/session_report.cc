#include "session_report.h"

#include <syslog.h>

#include <array>
#include <charconv>
#include <iomanip>
#include <map>
#include <sstream>

namespace sessionkeyring::e2e {
namespace {

template <typename Number>
bool ParseNumber(std::string_view text, Number& out, int base = 10) {
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, out, base);
  return !text.empty() && ec == std::errc() && ptr == end;
}

// Cuts the text up to the next `separator` off the front of `text`.
std::string_view NextField(std::string_view& text, char separator) {
  const size_t at = text.find(separator);
  const std::string_view field = text.substr(0, at);
  text.remove_prefix(at == std::string_view::npos ? text.size() : at + 1);
  return field;
}

// "keyring;61001;61001;3f030000;_ses" (the description may hold ';').
std::optional<KeyringInfo> ParseKeyring(std::string_view serial,
                                        std::string_view text) {
  KeyringInfo info;
  info.type = NextField(text, ';');
  if (!ParseNumber(serial, info.serial) ||
      !ParseNumber(NextField(text, ';'), info.uid) ||
      !ParseNumber(NextField(text, ';'), info.gid) ||
      !ParseNumber(NextField(text, ';'), info.permissions, 16)) {
    return std::nullopt;
  }
  info.description = text;
  return info;
}

// As keyctl prints permissions: "3f030000".
std::string Hex(uint32_t value) {
  std::ostringstream text;
  text << std::hex << std::setw(8) << std::setfill('0') << value;
  return text.str();
}

std::string SeverityName(int severity) {
  static constexpr std::array<const char*, 8> kNames = {
      "emerg", "alert", "crit", "error", "warning", "notice", "info", "debug"};
  return severity >= 0 && severity < 8 ? kNames[static_cast<size_t>(severity)]
                                       : "?";
}

std::string ShortHook(std::string_view hook) {
  if (hook == kOpen) return "open";
  if (hook == kClose) return "close";
  return std::string(hook);
}

std::string Join(const std::vector<std::string>& parts,
                 std::string_view separator) {
  std::string joined;
  for (const std::string& part : parts) {
    if (!joined.empty()) joined += separator;
    joined += part;
  }
  return joined;
}

// The client's last complete line on stderr, without its program name:
// pamtester reports the failing operation's pam_strerror() there.
std::string LastErrorLine(std::string_view err) {
  while (!err.empty() && err.back() == '\n') err.remove_suffix(1);
  const size_t newline = err.rfind('\n');
  if (newline != std::string_view::npos) err.remove_prefix(newline + 1);
  const size_t colon = err.find(": ");
  if (colon != std::string_view::npos) err.remove_prefix(colon + 2);
  return std::string(err);
}

// One snapshot's keyring relative to the caller's and to the keyring seen
// just before: "the caller's _ses 0:0", "same keyring", "revoked", or
// "new _ses 61001:61001 3f030000 +_uid.61001".
std::string DescribeState(const ProbeSnapshot& snapshot,
                          std::optional<int32_t> caller,
                          std::optional<int32_t> previous) {
  if (!snapshot.session) {
    return snapshot.revoked() ? "revoked" : "error (" + snapshot.error + ")";
  }
  const KeyringInfo& keyring = *snapshot.session;
  const std::string owner =
      std::to_string(keyring.uid) + ":" + std::to_string(keyring.gid);
  if (keyring.serial == caller) {
    return "the caller's " + keyring.description + " " + owner;
  }
  if (keyring.serial == previous) return "same keyring";
  std::string state = "new " + keyring.description + " " + owner + " " +
                      Hex(keyring.permissions);
  if (snapshot.LinksUserKeyringOf(keyring.uid)) {
    state += " +_uid." + std::to_string(keyring.uid);
  }
  return state;
}

// "1 warning, 1 notice", leaving out debug lines; "none" if none is left.
std::string CountBySeverity(const std::vector<LogLine>& lines) {
  std::map<int, int> counts;
  for (const LogLine& line : lines) {
    if (line.severity != LOG_DEBUG) ++counts[line.severity];
  }
  std::vector<std::string> parts;
  for (const auto& [severity, count] : counts) {
    parts.push_back(std::to_string(count) + " " + SeverityName(severity));
  }
  return parts.empty() ? "none" : Join(parts, ", ");
}

}  // namespace

bool ProbeSnapshot::revoked() const {
  return !session && error.find("revoked") != std::string::npos;
}

bool ProbeSnapshot::LinksUserKeyringOf(uid_t uid) const {
  const std::string name = "_uid." + std::to_string(uid);
  for (const KeyringInfo& link : links) {
    if (link.type == "keyring" && link.description == name && link.uid == uid) {
      return true;
    }
  }
  return false;
}

std::vector<ProbeSnapshot> ParseProbeOutput(std::string_view output) {
  std::vector<ProbeSnapshot> snapshots;
  while (!output.empty()) {
    std::string_view line = NextField(output, '\n');
    if (NextField(line, ' ') != "probe") continue;
    const std::string_view hook = NextField(line, ' ');
    const std::string_view kind = NextField(line, ' ');

    if (kind == "client") {
      if (!snapshots.empty() && snapshots.back().hook == hook) {
        snapshots.back().client_ids = line;
      }
      continue;
    }
    if (kind == "link") {
      const std::string_view serial = NextField(line, ' ');
      std::optional<KeyringInfo> link = ParseKeyring(serial, line);
      if (link && !snapshots.empty() && snapshots.back().hook == hook) {
        snapshots.back().links.push_back(*std::move(link));
      }
      continue;
    }
    ProbeSnapshot snapshot;
    snapshot.hook = hook;
    if (kind == "session") {
      const std::string_view serial = NextField(line, ' ');
      snapshot.session = ParseKeyring(serial, line);
      if (!snapshot.session) snapshot.error = line;
    } else {
      snapshot.error = kind == "error" ? line : "unreadable probe line";
    }
    snapshots.push_back(std::move(snapshot));
  }
  return snapshots;
}

SessionReport::SessionReport(RunResult result, std::string_view module_name)
    : run(std::move(result)), snapshots(ParseProbeOutput(run.out)) {
  for (const LogLine& line : run.log) {
    if (line.module == module_name) module_log.push_back(line);
  }
}

ProbeSnapshot SessionReport::At(std::string_view hook, size_t index) const {
  for (const ProbeSnapshot& snapshot : snapshots) {
    if (snapshot.hook == hook && index-- == 0) return snapshot;
  }
  ProbeSnapshot missing;
  missing.hook = hook;
  missing.error = "the probe did not report at this point";
  return missing;
}

std::optional<int32_t> SessionReport::CallerSerial() const {
  const ProbeSnapshot caller = At(kCaller);
  if (!caller.session) return std::nullopt;
  return caller.session->serial;
}

std::vector<LogLine> SessionReport::LogAt(int severity) const {
  std::vector<LogLine> lines;
  for (const LogLine& line : module_log) {
    if (line.severity == severity) lines.push_back(line);
  }
  return lines;
}

std::string SessionReport::Summary() const {
  std::vector<std::string> parts;
  const std::optional<int32_t> caller = CallerSerial();
  std::optional<int32_t> previous;
  for (const ProbeSnapshot& snapshot : snapshots) {
    if (snapshot.hook == kCaller) continue;
    parts.push_back(ShortHook(snapshot.hook) + ": " +
                    DescribeState(snapshot, caller, previous));
    if (snapshot.session) previous = snapshot.session->serial;
  }
  if (run.exit_code != 0) {
    parts.push_back("exit " + std::to_string(run.exit_code) + " (" +
                    LastErrorLine(run.err) + ")");
  }
  parts.push_back("log: " + CountBySeverity(module_log));
  return Join(parts, "; ");
}

}  // namespace sessionkeyring::e2e
