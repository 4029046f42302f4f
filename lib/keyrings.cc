#include "keyrings.h"

#include <errno.h>
#include <fcntl.h>
#include <keyutils.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <memory>
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

// Cuts the next word, separated by spaces, off the front of `text`.
bool NextWord(std::string_view& text, std::string_view& word) {
  const size_t start = text.find_first_not_of(' ');
  if (start == std::string_view::npos) return false;
  text.remove_prefix(start);
  const size_t end = std::min(text.find(' '), text.size());
  word = text.substr(0, end);
  text.remove_prefix(end);
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
  std::string_view rest = text;
  while (!rest.empty()) {
    const size_t end = std::min(rest.find('\n'), rest.size());
    std::string_view line = rest.substr(0, end);
    rest.remove_prefix(std::min(end + 1, rest.size()));

    std::string_view owner, usage, instantiated, keys, bytes;
    if (!NextWord(line, owner) || !NextWord(line, usage) ||
        !NextWord(line, instantiated) || !NextWord(line, keys) ||
        !NextWord(line, bytes)) {
      continue;
    }
    uid_t line_uid = 0;
    if (owner.back() != ':' ||
        !ParseNumber(owner.substr(0, owner.size() - 1), 10, line_uid) ||
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

StatusOr<KeySerial> KernelKeyrings::CreateKeyring(
    const std::string& description, KeySerial keyring) {
  const key_serial_t serial =
      add_key("keyring", description.c_str(), nullptr, 0, keyring);
  if (serial < 0) return Status::Failure("create a keyring", errno);
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

Status KernelKeyrings::SetPermissions(KeySerial key, uint32_t permissions) {
  if (keyctl_setperm(key, permissions) < 0) {
    return Status::Failure("set a keyring's permissions", errno);
  }
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
  // Plain read(2): the module does not pull in iostreams, which would make
  // it several times larger and slower to load into every host.
  const int fd = open("/proc/key-users", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::Failure("read /proc/key-users", errno);
  std::string text;
  char chunk[4096];
  ssize_t got = 0;
  while ((got = read(fd, chunk, sizeof(chunk))) > 0 ||
         (got < 0 && errno == EINTR)) {
    if (got > 0) text.append(chunk, static_cast<size_t>(got));
  }
  const int read_errno = errno;
  close(fd);
  if (got < 0) return Status::Failure("read /proc/key-users", read_errno);
  KeyQuota quota;
  if (!ParseKeyUsers(text, uid, quota)) {
    return Status::Failure("find the uid in /proc/key-users", ENOENT);
  }
  return quota;
}

}  // namespace sessionkeyring
