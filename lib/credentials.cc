#include "credentials.h"

#include <errno.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace sessionkeyring {
namespace {

// On 32-bit x86 and ARM the plain calls take 16-bit IDs; the *32 variants
// are the ones that take full IDs.
#ifdef SYS_setresuid32
constexpr long kSetresuid = SYS_setresuid32;
constexpr long kSetresgid = SYS_setresgid32;
constexpr long kGetresuid = SYS_getresuid32;
constexpr long kGetresgid = SYS_getresgid32;
#else
constexpr long kSetresuid = SYS_setresuid;
constexpr long kSetresgid = SYS_setresgid;
constexpr long kGetresuid = SYS_getresuid;
constexpr long kGetresgid = SYS_getresgid;
#endif

template <typename Id>
std::string FormatTriple(const IdTriple<Id>& ids) {
  return std::to_string(ids.real) + "/" + std::to_string(ids.effective) + "/" +
         std::to_string(ids.saved);
}

}  // namespace

std::string FormatIds(const ThreadIds& ids) {
  return "uid " + FormatTriple(ids.uid) + " gid " + FormatTriple(ids.gid);
}

StatusOr<ThreadIds> ThreadCredentials::Get() {
  ThreadIds ids;
  if (syscall(kGetresuid, &ids.uid.real, &ids.uid.effective, &ids.uid.saved) !=
      0) {
    return Status::Failure("read the thread's uids", errno);
  }
  if (syscall(kGetresgid, &ids.gid.real, &ids.gid.effective, &ids.gid.saved) !=
      0) {
    return Status::Failure("read the thread's gids", errno);
  }
  return ids;
}

Status ThreadCredentials::SetUids(const IdTriple<uid_t>& ids) {
  if (syscall(kSetresuid, ids.real, ids.effective, ids.saved) != 0) {
    return Status::Failure("set the thread's uids", errno);
  }
  return {};
}

Status ThreadCredentials::SetGids(const IdTriple<gid_t>& ids) {
  if (syscall(kSetresgid, ids.real, ids.effective, ids.saved) != 0) {
    return Status::Failure("set the thread's gids", errno);
  }
  return {};
}

ScopedRealIds::~ScopedRealIds() {
  if (!active_) return;
  // Restore() makes its system calls before it allocates anything, so even
  // if describing a failure runs out of memory the IDs are back; the
  // exception must not leave a destructor.
  try {
    Restore().IgnoreError();
  } catch (...) {
  }
}

Status ScopedRealIds::Switch(uid_t uid, gid_t gid) {
  StatusOr<ThreadIds> before = credentials_.Get();
  if (!before.ok()) return before.status();
  saved_ = before.value();

  ThreadIds wanted = saved_;
  wanted.uid.real = uid;
  wanted.gid.real = gid;
  if (wanted == saved_) return {};  // Already the target: nothing to undo.

  // From here on something may have changed, so every exit restores.
  active_ = true;
  const std::string operation =
      "switch to uid " + std::to_string(uid) + " gid " + std::to_string(gid);
  Status status;
  if (wanted.gid != saved_.gid) status = credentials_.SetGids(wanted.gid);
  if (status.ok() && wanted.uid != saved_.uid) {
    status = credentials_.SetUids(wanted.uid);
  }
  if (status.ok()) {
    StatusOr<ThreadIds> after = credentials_.Get();
    if (!after.ok()) {
      status = after.status();
    } else if (!(after.value() == wanted)) {
      status = Status::Failure(
          operation, -1, "the IDs read back as " + FormatIds(after.value()));
    }
  }
  if (status.ok()) return status;

  const Status switched =
      Status::Failure(operation, status.error_number(), status.Reason());
  // Left half switched, the thread would run on with the wrong IDs: that
  // is the failure to report.
  if (Status restored = Restore(); !restored.ok()) {
    return Status::Failure(restored.operation() + " after a failed switch",
                           restored.error_number(),
                           restored.Reason() + " (the switch failed with: " +
                               switched.Reason() + ")");
  }
  return switched;
}

Status ScopedRealIds::Restore() {
  if (!active_) return {};

  // The uid goes back first: if the effective uid had been changed away
  // from 0, restoring it is what gives back the right to set the gids.
  const Status uids = credentials_.SetUids(saved_.uid);
  const Status gids = credentials_.SetGids(saved_.gid);
  StatusOr<ThreadIds> after = credentials_.Get();
  for (const Status* step : {&uids, &gids}) {
    if (!step->ok()) {
      return Status::Failure("restore " + FormatIds(saved_),
                             step->error_number());
    }
  }
  if (!after.ok()) {
    return Status::Failure("restore " + FormatIds(saved_),
                           after.error_number());
  }
  if (!(after.value() == saved_)) {
    return Status::Failure("restore " + FormatIds(saved_), -1,
                           "the IDs read back as " + FormatIds(after.value()));
  }
  active_ = false;
  return {};
}

}  // namespace sessionkeyring
