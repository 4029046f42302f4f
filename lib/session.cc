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

class Opener {
 public:
  Opener(Services& services, const Options& options, const Target& target)
      : services_(services), options_(options), target_(target) {}

  OpenOutcome Run() {
    ScopedRealIds identity(services_.credentials);
    if (Status status = identity.Switch(target_.uid, target_.gid);
        !status.ok()) {
      Error("Failed to switch to uid " + std::to_string(target_.uid) + " gid " +
            std::to_string(target_.gid) + " for " + UserText(target_) + ": " +
            ErrnoText(status.error_number()));
      return {};
    }
    Debug("Switched real IDs for " + UserText(target_) + ", saved " +
          FormatIds(identity.saved()));

    OpenOutcome outcome = options_.force ? Create() : KeepOrCreate();

    if (Status status = identity.Restore(); !status.ok()) {
      Error(status.Describe());
      outcome.kind = Kind::kFailed;
    }
    return outcome;
  }

 private:
  OpenOutcome KeepOrCreate() {
    StatusOr<KeySerial> current = services_.keyrings.Resolve(kSessionKeyring);
    if (!current.ok()) {
      const int error_number = current.error_number();
      if (error_number == EKEYREVOKED) {
        Debug("The inherited session keyring is revoked, making a fresh one");
        return Create();
      }
      if (MeansNoKeyringSupport(error_number)) return Unavailable(error_number);
      Error("Failed to look up the session keyring: " +
            ErrnoText(error_number));
      return {};
    }

    StatusOr<KeySerial> user_session =
        services_.keyrings.Resolve(kUserSessionKeyring);
    if (!user_session.ok()) {
      Error("Failed to look up the user-session keyring of " +
            UserText(target_) + ": " + ErrnoText(user_session.error_number()));
      return {};
    }
    // The target's own default user-session keyring is shared by every
    // process of the user that has no session: it is not a session.
    if (current.value() == user_session.value()) return Create();
    if (MayKeep(current.value())) return {Kind::kKept, 0};
    return Create();
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
      if (description.error_number() != EKEYREVOKED) {
        Warning("Failed to describe the inherited session keyring " + serial +
                ": " + ErrnoText(description.error_number()) +
                ", replacing it");
      }
      return false;
    }
    const uid_t owner = description.value().uid;
    if (owner == target_.uid) {
      Debug("Keeping the inherited session keyring " + serial +
            ", owned by uid " + std::to_string(owner));
      return true;
    }
    Debug("The inherited session keyring " + serial + " is owned by uid " +
          std::to_string(owner) + ", not by " + UserText(target_) +
          ", replacing it");
    return false;
  }

  OpenOutcome Create() {
    StatusOr<KeySerial> joined = services_.keyrings.JoinNewSessionKeyring();
    if (!joined.ok()) {
      const int error_number = joined.error_number();
      // With `force` the join is the first keyring call of the session, so
      // it is also the probe for keyring support.
      if (options_.force && MeansNoKeyringSupport(error_number)) {
        return Unavailable(error_number);
      }
      Error("Failed to join a new session keyring for " + UserText(target_) +
            ": " + ErrnoText(error_number));
      return {};
    }
    const KeySerial keyring = joined.value();

    if (Status status = services_.keyrings.Link(kUserKeyring, keyring);
        !status.ok()) {
      Error("Failed to link the user keyring of " + UserText(target_) +
            " into session keyring " + std::to_string(keyring) + ": " +
            ErrnoText(status.error_number()));
      return {Kind::kFailed, keyring};
    }
    Debug("Created session keyring " + std::to_string(keyring) + " for " +
          UserText(target_) + " gid " + std::to_string(target_.gid));
    return {Kind::kCreated, keyring};
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
};

}  // namespace

OpenOutcome OpenSessionKeyring(Services& services, const Options& options,
                               const Target& target) {
  return Opener(services, options, target).Run();
}

Status RevokeSessionKeyring(Services& services, KeySerial keyring) {
  Status status = services.keyrings.Revoke(keyring);
  const std::string serial = std::to_string(keyring);
  if (status.ok()) {
    services.log.Log(LogLevel::kDebug, "Revoked session keyring " + serial);
    return status;
  }
  if (status.error_number() == EKEYREVOKED) {
    services.log.Log(LogLevel::kDebug,
                     "Session keyring " + serial + " was already revoked");
    return {};
  }
  services.log.Log(LogLevel::kError, "Failed to revoke session keyring " +
                                         serial + ": " +
                                         ErrnoText(status.error_number()));
  return status;
}

}  // namespace sessionkeyring
