#include "keyring_probe.h"

#include <keyutils.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>

namespace sessionkeyring::e2e {

std::optional<std::string> DescribeKey(int32_t key) {
  char* raw = nullptr;
  if (keyctl_describe_alloc(key, &raw) < 0) return std::nullopt;
  const std::unique_ptr<char, decltype(&free)> description(raw, &free);
  return std::to_string(key) + " " + description.get();
}

std::string ProbeSessionKeyring(std::string_view hook) {
  const std::string prefix = "probe " + std::string(hook) + " ";
  const key_serial_t session =
      keyctl_get_keyring_ID(KEY_SPEC_SESSION_KEYRING, 0);
  const std::optional<std::string> described =
      session < 0 ? std::nullopt : DescribeKey(session);
  if (!described) return prefix + "error " + std::strerror(errno) + "\n";
  std::string lines = prefix + "session " + *described + "\n";

  void* raw = nullptr;
  const long size = keyctl_read_alloc(session, &raw);
  if (size < 0) return lines;
  const std::unique_ptr<void, decltype(&free)> owned(raw, &free);
  const auto* keys = static_cast<const key_serial_t*>(raw);
  for (size_t i = 0; i < static_cast<size_t>(size) / sizeof(key_serial_t);
       ++i) {
    if (std::optional<std::string> link = DescribeKey(keys[i])) {
      lines += prefix + "link " + *link + "\n";
    }
  }
  return lines;
}

}  // namespace sessionkeyring::e2e
