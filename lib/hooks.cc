#include "hooks.h"

namespace sessionkeyring {
namespace {

void Latch(const Options& options, HandleState& state) {
  if (options.revoke != RevokeMode::kNever) state.revoke = options.revoke;
  state.debug = state.debug || options.debug;
}

HookResult Result(Verdict verdict) { return {verdict, 0}; }

// Holds a keyring this handle made, so that its close can revoke it even
// after another session on the same thread replaced it. A caller opening
// its own session needs no holder: the same user's second session on the
// thread would have kept the keyring rather than replaced it, unless
// `force`, and a holder would cost the user one more key of the quota.
void HoldIfRevocable(Services& services, HandleState& state, bool quiet) {
  if (state.revoke == RevokeMode::kNever || state.holder != 0 ||
      state.opened_for_self) {
    return;
  }
  StatusOr<KeySerial> holder =
      HoldSessionKeyring(services, state.keyring, quiet);
  if (holder.ok()) state.holder = holder.value();
}

// Revokes the handle's keyring (releasing its holder) and forgets both, so
// that the next open on the handle starts a new session.
Status RevokeAndForget(Services& services, HandleState& state) {
  const Status status =
      RevokeSessionKeyring(services, state.keyring, state.holder);
  state.keyring = 0;
  state.holder = 0;
  state.awaiting_end = false;
  return status;
}

}  // namespace

HookResult EstablishCredentials(Services& services, UserSource& users,
                                const Options& options, HandleState& state,
                                pid_t self) {
  Latch(options, state);
  // With `revoke=end`, a session closed on this handle left its keyring
  // for the end of the transaction; a new open ends that wait.
  if (state.awaiting_end) RevokeAndForget(services, state).IgnoreError();
  // A second line of the module in the stack, or open_session after
  // setcred, finds the keyring already made for this handle. `revoke` may
  // first appear on this line.
  if (state.keyring != 0) {
    services.log.Log(LogLevel::kDebug,
                     "Session keyring " + std::to_string(state.keyring) +
                         " is already set up for this handle");
    HoldIfRevocable(services, state, false);
    return Result(Verdict::kSuccess);
  }

  UserLookup user = users.LookUp();
  switch (user.kind) {
    case UserLookup::Kind::kHostError:
      return {Verdict::kHostError, user.host_code};
    case UserLookup::Kind::kUnknown:
      services.log.Log(
          LogLevel::kNotice,
          "Failed to look up user " + QuoteForLog(user.target.name) + ": " +
              (user.error_number != 0 ? ErrnoText(user.error_number)
                                      : std::string("no such user")));
      return Result(Verdict::kUserUnknown);
    case UserLookup::Kind::kFound:
      break;
  }

  const OpenOutcome outcome =
      OpenSessionKeyring(services, options, user.target);
  if (outcome.created != 0) {
    state.keyring = outcome.created;
    state.opener = self;
    state.opened_for_self = outcome.for_self;
    // After a failed open, its one error line is what matters.
    HoldIfRevocable(services, state,
                    outcome.kind == OpenOutcome::Kind::kFailed);
  }
  return Result(outcome.kind == OpenOutcome::Kind::kFailed ? Verdict::kFailure
                                                           : Verdict::kSuccess);
}

HookResult OpenSession(Services& services, UserSource& users,
                       const Options& options, HandleState& state, pid_t self) {
  ++state.opens;
  return EstablishCredentials(services, users, options, state, self);
}

HookResult CloseSession(Services& services, const Options& options,
                        HandleState& state) {
  Latch(options, state);
  if (state.opens > 0) --state.opens;
  if (state.opens > 0 || state.keyring == 0) return Result(Verdict::kSuccess);

  switch (state.revoke) {
    case RevokeMode::kAtClose:
      RevokeAndForget(services, state).IgnoreError();
      return Result(Verdict::kSuccess);
    case RevokeMode::kAtEnd:
      state.awaiting_end = true;  // the end of the handle revokes it
      return Result(Verdict::kSuccess);
    case RevokeMode::kNever:
      services.log.Log(LogLevel::kDebug, "Leaving session keyring " +
                                             std::to_string(state.keyring) +
                                             " unrevoked");
      break;
  }
  // The next open on this handle starts a new session.
  state.keyring = 0;
  return Result(Verdict::kSuccess);
}

HookResult DeleteCredentials(Services& services, const Options& options,
                             HandleState& state) {
  Latch(options, state);
  if (state.keyring == 0 || state.revoke != RevokeMode::kAtClose) {
    return Result(Verdict::kIgnore);
  }
  const Status status = RevokeAndForget(services, state);
  return Result(status.ok() ? Verdict::kSuccess : Verdict::kFailure);
}

void EndTransaction(Services& services, HandleState& state, pid_t self,
                    bool silent) {
  // The holder belongs to the process that opened; a forked child ending
  // its copy of the handle leaves it alone.
  const bool opener = self == state.opener;
  if (state.keyring != 0 && state.revoke == RevokeMode::kAtEnd) {
    if (!silent && opener) {
      RevokeAndForget(services, state).IgnoreError();
    } else {
      services.log.Log(LogLevel::kDebug, "Not revoking session keyring " +
                                             std::to_string(state.keyring) +
                                             " from a copy of the handle");
    }
  }
  if (state.holder != 0 && opener) {
    ReleaseHolder(services, state.holder, false);
  }
  state.holder = 0;
}

}  // namespace sessionkeyring
