#include "session.h"

#include <errno.h>

namespace sessionkeyring {
namespace {

using Kind = OpenOutcome::Kind;

std::string UserText(const Target& target) {
  return "user " + QuoteForLog(target.name) + " (uid " +
         std::to_string(target.uid) + ")";
}

// A kernel without CONFIG_KEYS answers ENOSYS; a container whose seccomp
// profile blocks keyctl (Docker's and podman's defaults) answers EPERM.
// Either way there is no keyring to isolate, which is only an error if the
// administrator asked for `strict`.
bool MeansNoKeyringSupport(int error_number) {
  return error_number == ENOSYS || error_number == EPERM;
}

// The kernel's default overflow uid. Inside a user namespace, a key whose
// owner has no mapping there is described as owned by it.
constexpr uid_t kOverflowUid = 65534;

// A keyring that was revoked, has expired or was invalidated: the thread
// may still name it, but it holds nothing and counts as no keyring.
bool MeansKeyIsGone(int error_number) {
  return error_number == EKEYREVOKED || error_number == EKEYEXPIRED ||
         error_number == ENOKEY;
}

class Opener {
 public:
  Opener(Services& services, const Options& options, const Target& target)
      : services_(services),
        options_(options),
        target_(target),
        identity_(services.credentials) {}

  OpenOutcome Run() {
    // Before switching IDs, so that a thread keyring the kernel makes to
    // hold it belongs to the caller.
    const KeySerial previous = options_.force ? PreviousToCarry() : 0;
    OpenOutcome outcome = SwitchAndOpen(previous);
    if (previous != 0) ReleasePrevious(previous);
    return outcome;
  }

 private:
  OpenOutcome SwitchAndOpen(KeySerial previous) {
    if (Status status = identity_.Switch(target_.uid, target_.gid);
        !status.ok()) {
      const std::string why = "Failed to " + status.operation() + " for " +
                              UserText(target_) + ": " + status.Reason();
      if (identity_.switched()) {  // and could not come back
        Error(why);
        return {};
      }
      return OpenWithoutSwitch(why, previous);
    }
    const ThreadIds& saved = identity_.saved();
    if (saved.uid.real != target_.uid || saved.gid.real != target_.gid) {
      Debug("Switched real IDs for " + UserText(target_) + ", saved " +
            FormatIds(saved));
    }

    OpenOutcome outcome = options_.force ? Create(previous) : KeepOrCreate();
    if (options_.persistent && owned_by_target_ &&
        outcome.kind != Kind::kFailed && outcome.kind != Kind::kUnavailable) {
      LinkPersistent();
    }

    if (Status status = identity_.Restore(); !status.ok()) {
      Error(status.Describe());
      outcome.kind = Kind::kFailed;
    }
    outcome.for_self = identity_.saved().uid.real == target_.uid;
    return outcome;
  }

  // Without `force`. Whenever the inherited keyring cannot be shown to be
  // one the target may keep, the session gets a fresh one: under an
  // `optional` line a failure would otherwise leave the session in the
  // caller's keyring, with the caller's keys, and a user who can make a
  // lookup fail (by filling the key quota, or invalidating keyrings) could
  // provoke exactly that.
  OpenOutcome KeepOrCreate() {
    StatusOr<KeySerial> current = services_.keyrings.Resolve(kSessionKeyring);
    if (!current.ok()) {
      const int error_number = current.error_number();
      if (MeansNoKeyringSupport(error_number)) return Unavailable(error_number);
      if (MeansKeyIsGone(error_number)) {
        Debug("The inherited session keyring is unusable (" +
              ErrnoText(error_number) + "), making a fresh one");
      } else {
        Warning("Failed to look up the session keyring: " +
                ErrnoText(error_number) + ", making a fresh one");
      }
      return Create(0);
    }

    StatusOr<KeySerial> user_session =
        services_.keyrings.Resolve(kUserSessionKeyring);
    if (!user_session.ok()) {
      Warning("Failed to look up the user-session keyring of " +
              UserText(target_) + ": " +
              ErrnoText(user_session.error_number()) +
              ", deciding by the owner alone");
    } else if (current.value() == user_session.value()) {
      // The target's own default user-session keyring is shared by every
      // process of the user that has no session: it is not a session.
      return Create(0);
    }
    if (MayKeep(current.value())) return {Kind::kKept, 0};
    return Create(0);
  }

  // Whether a keyring described as owned by `owner` is the target's. An
  // owner shown as the overflow uid may be anyone without a mapping in
  // this user namespace (root of the host, say), so it never counts as the
  // target's, even when the target is that uid (nobody).
  bool IsTargetsOwn(uid_t owner) const {
    return owner == target_.uid && owner != kOverflowUid;
  }

  // Whether the target may go on in an inherited keyring. A keyring that
  // belongs to someone else would let the user's processes possess, and so
  // read, that owner's keys (root's, or a daemon's), which is why this
  // differs from pam_keyinit, which keeps any inherited keyring.
  bool MayKeep(KeySerial inherited) {
    const std::string serial = std::to_string(inherited);
    if (options_.allow_foreign) {
      Debug("Keeping the inherited session keyring " + serial +
            " (allow_foreign)");
      return true;
    }
    if (target_.uid == 0) {
      Debug("Keeping the inherited session keyring " + serial + " for root");
      return true;
    }
    StatusOr<KeyDescription> description =
        services_.keyrings.Describe(inherited);
    if (!description.ok()) {
      if (!MeansKeyIsGone(description.error_number())) {
        Warning("Failed to describe the inherited session keyring " + serial +
                ": " + ErrnoText(description.error_number()) +
                ", replacing it");
      }
      return false;
    }
    const uid_t owner = description.value().uid;
    if (IsTargetsOwn(owner)) {
      Debug("Keeping the inherited session keyring " + serial +
            ", owned by uid " + std::to_string(owner));
      owned_by_target_ = true;
      return true;
    }
    Debug("The inherited session keyring " + serial + " is owned by uid " +
          std::to_string(owner) + ", not by " + UserText(target_) +
          ", replacing it");
    return false;
  }

  // With `link_previous`, the keyring that `force` is about to replace, if
  // the target owns it, so that its keys stay reachable from the new one;
  // otherwise 0. Joining a new session keyring ends the thread's possession
  // of the old one, and without possession it cannot be linked anywhere
  // (its owner has only view and read), so it is held in the thread
  // keyring across the join. This runs as the caller, before the switch:
  // a thread keyring that the kernel makes for it then belongs to the
  // caller, not to the user. No child process inherits a thread keyring.
  KeySerial PreviousToCarry() {
    if (!options_.link_previous) return 0;
    StatusOr<KeySerial> current = services_.keyrings.Resolve(kSessionKeyring);
    if (!current.ok()) {
      const int error_number = current.error_number();
      // A kernel without keyrings fails the join next, which reports it.
      if (!MeansNoKeyringSupport(error_number) &&
          !MeansKeyIsGone(error_number)) {
        Warning("Failed to look up the previous session keyring: " +
                ErrnoText(error_number) + ", not linking it");
      }
      return 0;
    }
    const std::string serial = std::to_string(current.value());
    StatusOr<KeyDescription> description =
        services_.keyrings.Describe(current.value());
    if (!description.ok() || !IsTargetsOwn(description.value().uid)) {
      Debug("Not linking the previous session keyring " + serial +
            ": not owned by " + UserText(target_));
      return 0;
    }
    // The user's default user-session keyring, shared by all the user's
    // processes without a session, is not a session to carry on.
    if (description.value().description ==
        "_uid_ses." + std::to_string(target_.uid)) {
      return 0;
    }
    if (Status status =
            services_.keyrings.Link(current.value(), kThreadKeyring);
        !status.ok()) {
      Warning("Failed to hold the previous session keyring " + serial +
              " in the thread keyring: " + ErrnoText(status.error_number()) +
              ", not linking it");
      return 0;
    }
    return current.value();
  }

  OpenOutcome Create(KeySerial previous) {
    StatusOr<KeySerial> joined = services_.keyrings.JoinNewSessionKeyring();
    if (!joined.ok()) {
      const int error_number = joined.error_number();
      // With `force` the join is the first keyring call of the session, so
      // it is also the probe for keyring support.
      if (options_.force && MeansNoKeyringSupport(error_number)) {
        return Unavailable(error_number);
      }
      return CreateAsCaller(error_number, previous);
    }
    owned_by_target_ = true;
    return Finish(joined.value(), previous, /*link_required=*/true);
  }

  // The kernel refused a keyring owned by the user: the user's key quota is
  // full, or the uid has no mapping in this user namespace. Going on in the
  // inherited keyring would hand the session the caller's keys, which is
  // what pam_keyinit does under an `optional` line; instead the fresh
  // keyring is made as the caller, charged to the caller's quota. The
  // session possesses it, so the user can use it all the same.
  OpenOutcome CreateAsCaller(int user_error, KeySerial previous) {
    const std::string why = "as " + UserText(target_) + ": " +
                            ErrnoText(user_error) +
                            (user_error == EDQUOT ? QuotaText() : "");
    if (Status status = identity_.Restore(); !status.ok()) {
      Error(status.Describe());
      return {};
    }
    StatusOr<KeySerial> joined = services_.keyrings.JoinNewSessionKeyring();
    const uid_t caller = identity_.saved().uid.real;
    if (!joined.ok()) {
      Error("Failed to join a new session keyring " + why + "; and as uid " +
            std::to_string(caller) + ": " + ErrnoText(joined.error_number()));
      return {};
    }
    Warning("Failed to join a new session keyring " + why +
            "; made it as uid " + std::to_string(caller) + " instead");
    // Back to the target's IDs, so that @u names the target's keyring.
    if (Status status = identity_.Switch(target_.uid, target_.gid);
        !status.ok()) {
      Error("Failed to " + status.operation() + " for " + UserText(target_) +
            " again: " + status.Reason());
      return {Kind::kFailed, joined.value()};
    }
    owned_by_target_ = true;  // fresh, so the user's keys may go in
    return Finish(joined.value(), previous, /*link_required=*/false);
  }

  // The thread cannot take the target's IDs (a uid or gid with no mapping
  // in this user namespace, one the kernel refuses, a caller without the
  // privilege) but is back on its own. Nothing can then be made as the
  // user, and the user keyring cannot be named; still the session must not
  // go on in the caller's keyring. It keeps an inherited keyring the target
  // may keep, or gets a fresh one made as the caller, without the user
  // keyring.
  OpenOutcome OpenWithoutSwitch(const std::string& why, KeySerial previous) {
    if (!options_.force) {
      StatusOr<KeySerial> current = services_.keyrings.Resolve(kSessionKeyring);
      if (!current.ok() && MeansNoKeyringSupport(current.error_number())) {
        return Unavailable(current.error_number());
      }
      if (current.ok() && MayKeep(current.value())) {
        Warning(why + "; kept the inherited session keyring " +
                std::to_string(current.value()));
        return {Kind::kKept, 0};
      }
    }
    StatusOr<KeySerial> joined = services_.keyrings.JoinNewSessionKeyring();
    if (!joined.ok()) {
      const int error_number = joined.error_number();
      if (options_.force && MeansNoKeyringSupport(error_number)) {
        return Unavailable(error_number);
      }
      Error(why + "; and failed to join a new session keyring as the caller: " +
            ErrnoText(error_number));
      return {};
    }
    Warning(why + "; made session keyring " + std::to_string(joined.value()) +
            " as the caller instead, without the user keyring");
    owned_by_target_ = true;  // fresh, so the user's keys may go in
    if (previous != 0) CarryPrevious(previous, joined.value());
    return {Kind::kCreated, joined.value()};
  }

  OpenOutcome Finish(KeySerial keyring, KeySerial previous,
                     bool link_required) {
    const std::string serial = std::to_string(keyring);
    if (previous != 0) CarryPrevious(previous, keyring);

    if (Status status = services_.keyrings.Link(kUserKeyring, keyring);
        !status.ok()) {
      const std::string message = "Failed to link the user keyring of " +
                                  UserText(target_) + " into session keyring " +
                                  serial + ": " +
                                  ErrnoText(status.error_number());
      if (link_required) {
        Error(message);
        return {Kind::kFailed, keyring};
      }
      Warning(message + ", ignoring");
    }
    Debug("Created session keyring " + serial + " for " + UserText(target_) +
          " gid " + std::to_string(target_.gid));
    return {Kind::kCreated, keyring};
  }

  void CarryPrevious(KeySerial previous, KeySerial keyring) {
    const std::string serial = std::to_string(previous);
    if (Status status = services_.keyrings.Link(previous, keyring);
        !status.ok()) {
      Warning("Failed to link the previous session keyring " + serial +
              " into session keyring " + std::to_string(keyring) + ": " +
              ErrnoText(status.error_number()) + ", ignoring");
    } else {
      Debug("Linked the previous session keyring " + serial);
    }
  }

  // Undoes PreviousToCarry's hold, whatever became of the open.
  void ReleasePrevious(KeySerial previous) {
    if (Status status = services_.keyrings.Unlink(previous, kThreadKeyring);
        !status.ok()) {
      Warning("Failed to unlink the previous session keyring " +
              std::to_string(previous) + " from the thread keyring: " +
              ErrnoText(status.error_number()) + ", ignoring");
    }
  }

  void LinkPersistent() {
    StatusOr<KeySerial> persistent =
        services_.keyrings.GetPersistent(target_.uid, kSessionKeyring);
    if (!persistent.ok()) {
      Warning("Failed to link the persistent keyring of " + UserText(target_) +
              ": " + ErrnoText(persistent.error_number()) + ", ignoring");
      return;
    }
    Debug("Linked persistent keyring " + std::to_string(persistent.value()));
  }

  // " (user ... uses 200/200 keys and ...)" for an EDQUOT message.
  std::string QuotaText() {
    StatusOr<KeyQuota> quota = services_.keyrings.Quota(target_.uid);
    const std::string sysctl =
        target_.uid == 0 ? "kernel.keys.root_max" : "kernel.keys.max";
    std::string text = " (";
    if (quota.ok()) {
      text += "uid " + std::to_string(target_.uid) + " uses " +
              std::to_string(quota.value().keys) + "/" +
              std::to_string(quota.value().max_keys) + " keys and " +
              std::to_string(quota.value().bytes) + "/" +
              std::to_string(quota.value().max_bytes) + " bytes; ";
    }
    return text + "the sysctls " + sysctl + "keys and " + sysctl +
           "bytes raise the quota)";
  }

  OpenOutcome Unavailable(int error_number) {
    if (options_.strict) {
      Error(
          "Failed to set up a session keyring: kernel keyrings are not "
          "available (" +
          ErrnoText(error_number) + ")");
      return {};
    }
    services_.log.Log(LogLevel::kNotice,
                      "Kernel keyrings are not available (" +
                          ErrnoText(error_number) +
                          "), continuing without a session keyring");
    return {Kind::kUnavailable, 0};
  }

  void Error(const std::string& message) {
    services_.log.Log(LogLevel::kError, message);
  }
  void Warning(const std::string& message) {
    services_.log.Log(LogLevel::kWarning, message);
  }
  void Debug(const std::string& message) {
    services_.log.Log(LogLevel::kDebug, message);
  }

  Services& services_;
  const Options& options_;
  const Target& target_;
  ScopedRealIds identity_;
  // Whether the session's keyring is fresh or the target's own, so that
  // the target's persistent keyring may be linked into it.
  bool owned_by_target_ = false;
};

}  // namespace

OpenOutcome OpenSessionKeyring(Services& services, const Options& options,
                               const Target& target) {
  return Opener(services, options, target).Run();
}

StatusOr<KeySerial> HoldSessionKeyring(Services& services, KeySerial keyring,
                                       bool quiet) {
  const std::string serial = std::to_string(keyring);
  StatusOr<KeySerial> holder = services.keyrings.CreateKeyring(
      "pam_sessionkeyring:" + serial, kThreadKeyring);
  Status status = holder.status();
  if (holder.ok()) {
    status =
        services.keyrings.SetPermissions(holder.value(), kHolderPermissions);
    if (status.ok()) status = services.keyrings.Link(keyring, holder.value());
    if (!status.ok()) {
      services.keyrings.Unlink(holder.value(), kThreadKeyring).IgnoreError();
    }
  }
  if (!status.ok()) {
    services.log.Log(
        quiet ? LogLevel::kDebug : LogLevel::kWarning,
        "Failed to hold session keyring " + serial +
            " in the thread keyring: " + ErrnoText(status.error_number()) +
            "; it can be revoked only while it is still the session keyring "
            "of this thread");
    return status;
  }
  services.log.Log(LogLevel::kDebug, "Holding session keyring " + serial +
                                         " in keyring " +
                                         std::to_string(holder.value()));
  return holder;
}

namespace {

// On a thread other than the one that opened the session, the keyring is
// possessed only through the holder in the opener's thread keyring. Its
// owner, the caller, may link it into this thread's for the moment it
// takes to revoke.
Status RevokeThroughHolder(Services& services, KeySerial keyring,
                           KeySerial holder, const Status& refused) {
  if (!services.keyrings.Link(holder, kThreadKeyring).ok()) return refused;
  Status status = services.keyrings.Revoke(keyring);
  services.keyrings.Unlink(holder, kThreadKeyring).IgnoreError();
  return status;
}

}  // namespace

Status RevokeSessionKeyring(Services& services, KeySerial keyring,
                            KeySerial holder) {
  Status status = services.keyrings.Revoke(keyring);
  if (status.error_number() == EACCES && holder != 0) {
    status = RevokeThroughHolder(services, keyring, holder, status);
  }
  const std::string serial = std::to_string(keyring);
  if (status.ok()) {
    services.log.Log(LogLevel::kDebug, "Revoked session keyring " + serial);
  } else if (status.error_number() == EKEYREVOKED) {
    services.log.Log(LogLevel::kDebug,
                     "Session keyring " + serial + " was already revoked");
    status = {};
  } else {
    services.log.Log(LogLevel::kError, "Failed to revoke session keyring " +
                                           serial + ": " +
                                           ErrnoText(status.error_number()));
  }
  if (holder != 0) ReleaseHolder(services, holder, !status.ok());
  return status;
}

void ReleaseHolder(Services& services, KeySerial holder, bool quiet) {
  // Revoking empties the holder at once, so that it stops keeping the
  // session keyring alive (and charged to the user's quota) now rather
  // than when the kernel gets round to destroying it. Its owner may do
  // that from any thread; in a forked child it is the parent's holder,
  // already revoked or about to be, with the same keyring in it.
  Status status = services.keyrings.Revoke(holder);
  if (status.ok() || status.error_number() == EKEYREVOKED) {
    // Then out of the thread keyring, where the opener's thread has it.
    // On another thread, or in a child, it is not there.
    status = services.keyrings.Unlink(holder, kThreadKeyring);
    if (status.ok() || status.error_number() == ENOKEY ||
        status.error_number() == ENOENT) {
      return;
    }
  }
  services.log.Log(quiet ? LogLevel::kDebug : LogLevel::kWarning,
                   "Failed to release holder keyring " +
                       std::to_string(holder) + ": " +
                       ErrnoText(status.error_number()) + ", ignoring");
}

}  // namespace sessionkeyring
