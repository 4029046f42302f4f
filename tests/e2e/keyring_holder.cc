#include "keyring_holder.h"

#include <keyutils.h>

#include <cerrno>
#include <cstdlib>
#include <memory>

namespace sessionkeyring::e2e {

KeyringHolder::KeyringHolder(const std::string& name) {
  const key_serial_t serial =
      add_key("keyring", name.c_str(), nullptr, 0, KEY_SPEC_PROCESS_KEYRING);
  if (serial < 0) return;
  // The probe links into it as root from another process: owner rights.
  if (keyctl_setperm(serial, KEY_POS_ALL | KEY_USR_ALL) < 0) {
    keyctl_unlink(serial, KEY_SPEC_PROCESS_KEYRING);
    return;
  }
  serial_ = serial;
}

KeyringHolder::~KeyringHolder() {
  if (serial_ > 0) keyctl_unlink(serial_, KEY_SPEC_PROCESS_KEYRING);
}

bool KeyringHolder::Holds(int32_t key) const {
  void* raw = nullptr;
  const long size = keyctl_read_alloc(serial_, &raw);
  if (size < 0) return false;
  const std::unique_ptr<void, decltype(&free)> owned(raw, &free);
  const auto* keys = static_cast<const key_serial_t*>(raw);
  const size_t count = static_cast<size_t>(size) / sizeof(key_serial_t);
  for (size_t i = 0; i < count; ++i) {
    if (keys[i] == key) return true;
  }
  return false;
}

bool KeyringHolder::IsRevoked(int32_t key) const {
  char* description = nullptr;
  if (keyctl_describe_alloc(key, &description) >= 0) {
    free(description);
    return false;
  }
  return errno == EKEYREVOKED;
}

}  // namespace sessionkeyring::e2e
