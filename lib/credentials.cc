#include "credentials.h"

#include <errno.h>
#include <linux/capability.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "thread_id_syscalls.h"

namespace sessionkeyring {
namespace {

using thread_ids::kGetresgid;
using thread_ids::kGetresuid;
using thread_ids::kSetfsgid;
using thread_ids::kSetfsuid;
using thread_ids::kSetresgid;
using thread_ids::kSetresuid;

// setfsuid/setfsgid cannot report failure; they return the previous ID.
// Asking for an invalid ID changes nothing, so it reads the current one.
long CurrentFsId(long set_fs_id) { return syscall(set_fs_id, -1L); }

// Runs setresuid or setresgid. If the caller had set its filesystem ID
// apart from its effective ID, which the call resets, puts it back.
Status SetKeepingFsId(long get_ids, long set_ids, long set_fs_id, long real,
                      long effective, long saved, std::string_view what) {
  unsigned int old_real = 0, old_effective = 0, old_saved = 0;
  if (syscall(get_ids, &old_real, &old_effective, &old_saved) != 0) {
    return Status::Failure("read the thread's " + std::string(what), errno);
  }
  const long fs_id = CurrentFsId(set_fs_id);
  if (syscall(set_ids, real, effective, saved) != 0) {
    return Status::Failure("set the thread's " + std::string(what), errno);
  }
  if (fs_id == long{old_effective} || CurrentFsId(set_fs_id) == fs_id) {
    return {};
  }
  syscall(set_fs_id, fs_id);
  if (CurrentFsId(set_fs_id) != fs_id) {
    return Status::Failure("keep the thread's filesystem " + std::string(what),
                           -1,
                           "it did not come back to " + std::to_string(fs_id));
  }
  return {};
}

template <typename Id>
bool IsOneOf(Id id, const IdTriple<Id>& ids) {
  return id == ids.real || id == ids.effective || id == ids.saved;
}

// Whether a thread without CAP_SETUID/CAP_SETGID may go from `from` to `to`
// and back again.
template <typename Id>
bool CanGoAndComeBack(const IdTriple<Id>& from, const IdTriple<Id>& to) {
  return IsOneOf(to.real, from) && IsOneOf(to.effective, from) &&
         IsOneOf(to.saved, from) && IsOneOf(from.real, to) &&
         IsOneOf(from.effective, to) && IsOneOf(from.saved, to);
}

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
  return SetKeepingFsId(kGetresuid, kSetresuid, kSetfsuid, ids.real,
                        ids.effective, ids.saved, "uids");
}

Status ThreadCredentials::SetGids(const IdTriple<gid_t>& ids) {
  return SetKeepingFsId(kGetresgid, kSetresgid, kSetfsgid, ids.real,
                        ids.effective, ids.saved, "gids");
}

bool ThreadCredentials::MaySetAnyId() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3] = {};
  if (syscall(SYS_capget, &header, data) != 0) return false;
  constexpr uint32_t kNeeded = (1u << CAP_SETUID) | (1u << CAP_SETGID);
  return (data[0].effective & kNeeded) == kNeeded;
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

  const std::string operation =
      "switch to uid " + std::to_string(uid) + " gid " + std::to_string(gid);
  if (!credentials_.MaySetAnyId() &&
      (!CanGoAndComeBack(saved_.uid, wanted.uid) ||
       !CanGoAndComeBack(saved_.gid, wanted.gid))) {
    return Status::Failure(operation, EPERM,
                           "without CAP_SETUID and CAP_SETGID the thread "
                           "could not switch back");
  }

  // From here on something may have changed, so every exit restores.
  active_ = true;
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
  // What the IDs read back as is the truth: a step that failed may have
  // had nothing to undo (the switch had failed before changing it).
  if (after.ok() && after.value() == saved_) {
    active_ = false;
    return {};
  }
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
