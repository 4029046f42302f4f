#include "keyrings.h"

#include <errno.h>
#include <keyutils.h>
#include <stdlib.h>

#include <charconv>
#include <fstream>
#include <memory>
#include <sstream>
#include <string_view>

namespace sessionkeyring {
namespace {

template <typename Number>
bool ParseNumber(std::string_view text, int base, Number& out) {
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, out, base);
  return ec == std::errc() && ptr == end && !text.empty();
}

// Cuts the next ';'-terminated field off the front of `text`.
bool NextField(std::string_view& text, std::string_view& field) {
  const size_t semicolon = text.find(';');
  if (semicolon == std::string_view::npos) return false;
  field = text.substr(0, semicolon);
  text.remove_prefix(semicolon + 1);
  return true;
}

// Parses "<a>/<b>" into two numbers.
bool ParsePair(std::string_view text, unsigned long& first,
               unsigned long& second) {
  const size_t slash = text.find('/');
  if (slash == std::string_view::npos) return false;
  return ParseNumber(text.substr(0, slash), 10, first) &&
         ParseNumber(text.substr(slash + 1), 10, second);
}

// The kernel prints a key's uid and gid with "%d", so an ID of 2^31 or
// more (and the "no group" ID) arrives negative.
template <typename Id>
bool ParseId(std::string_view text, Id& out) {
  int64_t value = 0;
  if (!ParseNumber(text, 10, value) || value < INT32_MIN ||
      value > int64_t{UINT32_MAX}) {
    return false;
  }
  out = static_cast<Id>(static_cast<uint32_t>(value));
  return true;
}

}  // namespace

bool ParseKeyUsers(const std::string& text, uid_t uid, KeyQuota& out) {
  std::istringstream lines(text);
  std::string line;
  while (std::getline(lines, line)) {
    std::istringstream words(line);
    std::string owner, usage, instantiated, keys, bytes;
    if (!(words >> owner >> usage >> instantiated >> keys >> bytes)) continue;
    uid_t line_uid = 0;
    if (owner.empty() || owner.back() != ':' ||
        !ParseNumber(std::string_view(owner).substr(0, owner.size() - 1), 10,
                     line_uid) ||
        line_uid != uid) {
      continue;
    }
    KeyQuota quota;
    if (!ParsePair(keys, quota.keys, quota.max_keys) ||
        !ParsePair(bytes, quota.bytes, quota.max_bytes)) {
      return false;
    }
    out = quota;
    return true;
  }
  return false;
}

bool ParseKeyDescription(const std::string& text, KeyDescription& out) {
  std::string_view rest = text;
  std::string_view type, uid, gid, perm;
  if (!NextField(rest, type) || !NextField(rest, uid) ||
      !NextField(rest, gid) || !NextField(rest, perm)) {
    return false;
  }
  KeyDescription parsed;
  parsed.type = type;
  parsed.description = rest;
  if (!ParseId(uid, parsed.uid) || !ParseId(gid, parsed.gid) ||
      !ParseNumber(perm, 16, parsed.permissions)) {
    return false;
  }
  out = std::move(parsed);
  return true;
}

StatusOr<KeySerial> KernelKeyrings::Resolve(KeySerial special) {
  const key_serial_t serial = keyctl_get_keyring_ID(special, 0);
  if (serial < 0) return Status::Failure("look up a keyring", errno);
  return serial;
}

StatusOr<KeyDescription> KernelKeyrings::Describe(KeySerial key) {
  char* raw = nullptr;
  if (keyctl_describe_alloc(key, &raw) < 0) {
    return Status::Failure("describe a keyring", errno);
  }
  const std::unique_ptr<char, decltype(&free)> owned(raw, &free);
  KeyDescription description;
  if (!ParseKeyDescription(raw, description)) {
    return Status::Failure("parse a keyring description", EINVAL);
  }
  return description;
}

StatusOr<KeySerial> KernelKeyrings::JoinNewSessionKeyring() {
  const key_serial_t serial = keyctl_join_session_keyring(nullptr);
  if (serial < 0) return Status::Failure("join a new session keyring", errno);
  return serial;
}

Status KernelKeyrings::Link(KeySerial key, KeySerial keyring) {
  if (keyctl_link(key, keyring) < 0) {
    return Status::Failure("link a keyring", errno);
  }
  return {};
}

Status KernelKeyrings::Unlink(KeySerial key, KeySerial keyring) {
  if (keyctl_unlink(key, keyring) < 0) {
    return Status::Failure("unlink a keyring", errno);
  }
  return {};
}

Status KernelKeyrings::Revoke(KeySerial key) {
  if (keyctl_revoke(key) < 0) return Status::Failure("revoke a keyring", errno);
  return {};
}

StatusOr<KeySerial> KernelKeyrings::GetPersistent(uid_t uid,
                                                  KeySerial keyring) {
  const long serial = keyctl_get_persistent(uid, keyring);
  if (serial < 0) {
    return Status::Failure("get the persistent keyring", errno);
  }
  return static_cast<KeySerial>(serial);
}

}  // namespace sessionkeyring

namespace sessionkeyring {

StatusOr<KeyQuota> KernelKeyrings::Quota(uid_t uid) {
  std::ifstream file("/proc/key-users");
  if (!file) return Status::Failure("read /proc/key-users", errno);
  std::ostringstream text;
  text << file.rdbuf();
  KeyQuota quota;
  if (!ParseKeyUsers(text.str(), uid, quota)) {
    return Status::Failure("find the uid in /proc/key-users", ENOENT);
  }
  return quota;
}

}  // namespace sessionkeyring
