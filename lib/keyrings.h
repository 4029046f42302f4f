// The kernel keyring operations the module uses, one method each.
//
// Everything the session logic does to keyrings goes through this
// interface, so that unit tests can replace the kernel with a fake that
// records calls and fails on demand. Every method acts on the calling
// thread's keyrings: since Linux 3.7 the session keyring belongs to the
// thread, and the processes it forks inherit it.

#ifndef SESSIONKEYRING_LIB_KEYRINGS_H_
#define SESSIONKEYRING_LIB_KEYRINGS_H_

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "status.h"

namespace sessionkeyring {

// A key serial number as the kernel hands it out (keyutils' key_serial_t).
using KeySerial = int32_t;

// The special IDs that name the calling thread's keyrings.
inline constexpr KeySerial kSessionKeyring = -3;      // @s
inline constexpr KeySerial kUserKeyring = -4;         // @u
inline constexpr KeySerial kUserSessionKeyring = -5;  // @us

inline constexpr KeySerial kThreadKeyring = -1;  // @t

// What KEYCTL_DESCRIBE reports about a key.
struct KeyDescription {
  std::string type;
  uid_t uid = 0;
  gid_t gid = 0;
  uint32_t permissions = 0;
  std::string description;
};

// A user's key quota, as /proc/key-users reports it.
struct KeyQuota {
  unsigned long keys = 0;
  unsigned long max_keys = 0;
  unsigned long bytes = 0;
  unsigned long max_bytes = 0;
};

class Keyrings {
 public:
  virtual ~Keyrings() = default;

  // Resolves a special ID to a serial without asking the kernel to create
  // a new session keyring. Note the kernel's side effect: a thread with no
  // session keyring is subscribed to its real uid's user-session keyring
  // by this lookup.
  virtual StatusOr<KeySerial> Resolve(KeySerial special) = 0;

  virtual StatusOr<KeyDescription> Describe(KeySerial key) = 0;

  // Creates an anonymous keyring named "_ses", owned by the thread's real
  // uid and gid, and makes it the thread's session keyring.
  virtual StatusOr<KeySerial> JoinNewSessionKeyring() = 0;

  // Creates an empty keyring named `description`, owned by the thread's
  // real uid and gid, and links it into `keyring` (which the kernel
  // creates first if it is the thread keyring and there is none yet).
  virtual StatusOr<KeySerial> CreateKeyring(const std::string& description,
                                            KeySerial keyring) = 0;

  virtual Status Link(KeySerial key, KeySerial keyring) = 0;

  virtual Status Unlink(KeySerial key, KeySerial keyring) = 0;

  virtual Status Revoke(KeySerial key) = 0;

  // KEYCTL_SETPERM.
  virtual Status SetPermissions(KeySerial key, uint32_t permissions) = 0;

  // The user's persistent keyring, linked into `keyring` by the kernel.
  virtual StatusOr<KeySerial> GetPersistent(uid_t uid, KeySerial keyring) = 0;

  // How much of its key quota `uid` uses.
  virtual StatusOr<KeyQuota> Quota(uid_t uid) = 0;
};

// The real kernel, through libkeyutils.
class KernelKeyrings final : public Keyrings {
 public:
  StatusOr<KeySerial> Resolve(KeySerial special) override;
  StatusOr<KeyDescription> Describe(KeySerial key) override;
  StatusOr<KeySerial> JoinNewSessionKeyring() override;
  StatusOr<KeySerial> CreateKeyring(const std::string& description,
                                    KeySerial keyring) override;
  Status Link(KeySerial key, KeySerial keyring) override;
  Status Unlink(KeySerial key, KeySerial keyring) override;
  Status Revoke(KeySerial key) override;
  Status SetPermissions(KeySerial key, uint32_t permissions) override;
  StatusOr<KeySerial> GetPersistent(uid_t uid, KeySerial keyring) override;
  StatusOr<KeyQuota> Quota(uid_t uid) override;
};

// Parses the "type;uid;gid;perm;description" text of KEYCTL_DESCRIBE.
// Returns false if the text does not have that shape.
bool ParseKeyDescription(const std::string& text, KeyDescription& out);

// Finds `uid`'s line in the text of /proc/key-users
// ("<uid>: <usage> <keys>/<instantiated> <keys>/<max> <bytes>/<max>").
// Returns false if there is none or it does not have that shape.
bool ParseKeyUsers(const std::string& text, uid_t uid, KeyQuota& out);

}  // namespace sessionkeyring

#endif  // SESSIONKEYRING_LIB_KEYRINGS_H_
