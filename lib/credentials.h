// The calling thread's user and group IDs, and a scoped switch of them.
//
// Why per-thread system calls: glibc's setresuid() and friends change the
// IDs of every thread in the process (they signal each thread to make the
// same call). A PAM module runs inside a host such as sshd or a display
// manager that may have other threads; for the moment the module acts as
// the user, those threads must keep running as themselves. The raw
// setresuid/setresgid system calls change only the calling thread.
//
// Why the real IDs: the kernel gives a new session keyring the caller's
// real uid and gid as owner and group, charges it to the real uid's key
// quota, and resolves @u and @us through the real uid. Switching only the
// real IDs gives the keyring to the user, while the effective uid stays 0
// (or whatever it was), so the thread keeps the privilege to switch back.

#ifndef SESSIONKEYRING_LIB_CREDENTIALS_H_
#define SESSIONKEYRING_LIB_CREDENTIALS_H_

#include <sys/types.h>

#include <string>

#include "status.h"

namespace sessionkeyring {

// Real, effective and saved IDs, as getresuid/getresgid report them.
template <typename Id>
struct IdTriple {
  Id real = 0;
  Id effective = 0;
  Id saved = 0;
  bool operator==(const IdTriple&) const = default;
};

struct ThreadIds {
  IdTriple<uid_t> uid;
  IdTriple<gid_t> gid;
  bool operator==(const ThreadIds&) const = default;
};

// "uid 0/0/0 gid 0/0/0" (real/effective/saved), for log lines.
std::string FormatIds(const ThreadIds& ids);

class Credentials {
 public:
  virtual ~Credentials() = default;
  virtual StatusOr<ThreadIds> Get() = 0;
  // Set the calling thread's three IDs at once, as setresuid(2) and
  // setresgid(2) do; no value is left unchanged.
  virtual Status SetUids(const IdTriple<uid_t>& ids) = 0;
  virtual Status SetGids(const IdTriple<gid_t>& ids) = 0;
  // Whether the thread may set any ID (CAP_SETUID and CAP_SETGID in its
  // effective set). Without them the kernel only lets a thread move among
  // its current real, effective and saved IDs. False if unknown.
  virtual bool MaySetAnyId() = 0;
};

// The real thing: raw per-thread system calls.
class ThreadCredentials final : public Credentials {
 public:
  StatusOr<ThreadIds> Get() override;
  // Each keeps the thread's filesystem ID as it was: the kernel resets it
  // to the effective ID on every setresuid/setresgid, which would lose one
  // the caller had set apart with setfsuid/setfsgid.
  Status SetUids(const IdTriple<uid_t>& ids) override;
  Status SetGids(const IdTriple<gid_t>& ids) override;
  bool MaySetAnyId() override;
};

// Runs a block of code with the thread's real uid and gid switched to a
// target user, and puts all six IDs back exactly as they were.
//
//   ScopedRealIds identity(credentials);
//   if (Status s = identity.Switch(uid, gid); !s.ok()) ...
//   ... act ...
//   if (Status s = identity.Restore(); !s.ok()) ...
//
// Switch() changes the gid before the uid and reads both back; if any step
// fails it restores what it already changed before returning. A thread
// without CAP_SETUID and CAP_SETGID could switch to IDs it could not come
// back from; Switch() refuses such a switch before changing anything. Restore()
// sets the uid triple and then the gid triple to the saved values and reads
// them back; it attempts both even if the first fails. The destructor
// restores if Restore() was not called, as a fallback for early returns;
// callers should call Restore() so that its failure fails the operation.
class ScopedRealIds {
 public:
  explicit ScopedRealIds(Credentials& credentials)
      : credentials_(credentials) {}
  ScopedRealIds(const ScopedRealIds&) = delete;
  ScopedRealIds& operator=(const ScopedRealIds&) = delete;
  ~ScopedRealIds();

  Status Switch(uid_t uid, gid_t gid);
  Status Restore();

  // The IDs found before the switch (valid after Switch() returned ok).
  const ThreadIds& saved() const { return saved_; }
  // Whether the thread may still be away from the saved IDs: a Restore()
  // is owed. False after a failed Switch() that put everything back.
  bool switched() const { return active_; }

 private:
  Credentials& credentials_;
  ThreadIds saved_;
  bool active_ = false;
};

}  // namespace sessionkeyring

#endif  // SESSIONKEYRING_LIB_CREDENTIALS_H_
