#include "hooks.h"

namespace sessionkeyring {
namespace {

void Latch(const Options& options, HandleState& state) {
  if (options.revoke != RevokeMode::kNever) state.revoke = options.revoke;
  state.debug = state.debug || options.debug;
}

HookResult Result(Verdict verdict) { return {verdict, 0}; }

}  // namespace

HookResult EstablishCredentials(Services& services, UserSource& users,
                                const Options& options, HandleState& state,
                                pid_t self) {
  Latch(options, state);
  // A second line of the module in the stack, or open_session after
  // setcred, finds the keyring already made for this handle.
  if (state.keyring != 0) {
    services.log.Log(LogLevel::kDebug,
                     "Session keyring " + std::to_string(state.keyring) +
                         " is already set up for this handle");
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
    if (state.revoke != RevokeMode::kNever) {
      // After a failed open, its one error line is what matters.
      StatusOr<KeySerial> holder =
          HoldSessionKeyring(services, outcome.created,
                             outcome.kind == OpenOutcome::Kind::kFailed);
      if (holder.ok()) state.holder = holder.value();
    }
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
      RevokeSessionKeyring(services, state.keyring, state.holder).IgnoreError();
      break;
    case RevokeMode::kAtEnd:
      return Result(Verdict::kSuccess);  // the end of the handle revokes it
    case RevokeMode::kNever:
      services.log.Log(LogLevel::kDebug, "Leaving session keyring " +
                                             std::to_string(state.keyring) +
                                             " unrevoked");
      break;
  }
  // The next open on this handle starts a new session.
  state.keyring = 0;
  state.holder = 0;
  return Result(Verdict::kSuccess);
}

HookResult DeleteCredentials(Services& services, const Options& options,
                             HandleState& state) {
  Latch(options, state);
  if (state.keyring == 0 || state.revoke != RevokeMode::kAtClose) {
    return Result(Verdict::kIgnore);
  }
  const Status status =
      RevokeSessionKeyring(services, state.keyring, state.holder);
  state.keyring = 0;
  state.holder = 0;
  return Result(status.ok() ? Verdict::kSuccess : Verdict::kFailure);
}

void EndTransaction(Services& services, HandleState& state, pid_t self,
                    bool silent) {
  if (state.keyring == 0 || state.revoke != RevokeMode::kAtEnd) {
    if (state.holder != 0) ReleaseHolder(services, state.holder, false);
  } else if (silent || self != state.opener) {
    services.log.Log(LogLevel::kDebug, "Not revoking session keyring " +
                                           std::to_string(state.keyring) +
                                           " from a copy of the handle");
    if (state.holder != 0) ReleaseHolder(services, state.holder, false);
  } else {
    RevokeSessionKeyring(services, state.keyring, state.holder).IgnoreError();
    state.keyring = 0;
  }
  state.holder = 0;
}

}  // namespace sessionkeyring
