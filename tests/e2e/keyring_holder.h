// A keyring of the test process's own that a probe can link a session
// keyring into. Holding the session keyring keeps it alive after the PAM
// client has ended, so that the test can still see whether it was revoked.

#ifndef SESSIONKEYRING_TESTS_E2E_KEYRING_HOLDER_H_
#define SESSIONKEYRING_TESTS_E2E_KEYRING_HOLDER_H_

#include <cstdint>
#include <string>

namespace sessionkeyring::e2e {

class KeyringHolder {
 public:
  // Creates the holder in the test process's process keyring, which no
  // child inherits, writable by root (as the probe runs) without
  // possessing it. serial() is not positive if that failed.
  //
  // A keyring holds one key of each type and description: linking a second
  // "_ses" keyring, or making a second holder of the same name, displaces
  // the first. So there is one holder, with its own `name`, per keyring
  // to hold.
  explicit KeyringHolder(const std::string& name = "skr-e2e-holder");
  KeyringHolder(const KeyringHolder&) = delete;
  KeyringHolder& operator=(const KeyringHolder&) = delete;
  // Unlinks the holder, which drops every keyring it holds.
  ~KeyringHolder();

  int32_t serial() const { return serial_; }
  // Whether `key` is linked into the holder.
  bool Holds(int32_t key) const;
  // Whether `key`, held here, has been revoked.
  bool IsRevoked(int32_t key) const;

 private:
  int32_t serial_ = -1;
};

}  // namespace sessionkeyring::e2e

#endif  // SESSIONKEYRING_TESTS_E2E_KEYRING_HOLDER_H_
