#include "fakes.h"

#include <errno.h>
#include <gtest/gtest.h>

#include <algorithm>

namespace sessionkeyring {

void PrintTo(const ThreadIds& ids, std::ostream* os) { *os << FormatIds(ids); }

void PrintTo(LogLevel level, std::ostream* os) {
  switch (level) {
    case LogLevel::kError:
      *os << "error";
      return;
    case LogLevel::kWarning:
      *os << "warning";
      return;
    case LogLevel::kNotice:
      *os << "notice";
      return;
    case LogLevel::kInfo:
      *os << "info";
      return;
    case LogLevel::kDebug:
      *os << "debug";
      return;
  }
  *os << "level " << static_cast<int>(level);
}

void PrintTo(OpenOutcome::Kind kind, std::ostream* os) {
  switch (kind) {
    case OpenOutcome::Kind::kCreated:
      *os << "created";
      return;
    case OpenOutcome::Kind::kKept:
      *os << "kept";
      return;
    case OpenOutcome::Kind::kUnavailable:
      *os << "unavailable";
      return;
    case OpenOutcome::Kind::kFailed:
      *os << "failed";
      return;
  }
  *os << "kind " << static_cast<int>(kind);
}

void PrintTo(Verdict verdict, std::ostream* os) {
  switch (verdict) {
    case Verdict::kSuccess:
      *os << "success";
      return;
    case Verdict::kIgnore:
      *os << "ignore";
      return;
    case Verdict::kFailure:
      *os << "failure";
      return;
    case Verdict::kUserUnknown:
      *os << "user unknown";
      return;
    case Verdict::kHostError:
      *os << "host error";
      return;
  }
  *os << "verdict " << static_cast<int>(verdict);
}

void PrintTo(RevokeMode mode, std::ostream* os) {
  switch (mode) {
    case RevokeMode::kNever:
      *os << "never";
      return;
    case RevokeMode::kAtClose:
      *os << "at close";
      return;
    case RevokeMode::kAtEnd:
      *os << "at end";
      return;
  }
  *os << "mode " << static_cast<int>(mode);
}

namespace test {
namespace {

template <typename Id>
bool IsOneOf(Id id, const IdTriple<Id>& ids) {
  return id == ids.real || id == ids.effective || id == ids.saved;
}

template <typename Id>
std::vector<int64_t> Widen(const IdTriple<Id>& ids) {
  return {ids.real, ids.effective, ids.saved};
}

}  // namespace

std::string_view OpName(Op op) {
  switch (op) {
    case Op::kGetIds:
      return "GetIds";
    case Op::kSetUids:
      return "SetUids";
    case Op::kSetGids:
      return "SetGids";
    case Op::kResolve:
      return "Resolve";
    case Op::kDescribe:
      return "Describe";
    case Op::kJoin:
      return "Join";
    case Op::kCreateKeyring:
      return "CreateKeyring";
    case Op::kLink:
      return "Link";
    case Op::kRevoke:
      return "Revoke";
    case Op::kSetPermissions:
      return "SetPermissions";
    case Op::kGetPersistent:
      return "GetPersistent";
    case Op::kUnlink:
      return "Unlink";
    case Op::kQuota:
      return "Quota";
  }
  return "?";
}

void PrintTo(Op op, std::ostream* os) { *os << OpName(op); }

Call Call::GetIds() { return {Op::kGetIds, {}}; }
Call Call::SetUids(const IdTriple<uid_t>& ids) {
  return {Op::kSetUids, Widen(ids)};
}
Call Call::SetGids(const IdTriple<gid_t>& ids) {
  return {Op::kSetGids, Widen(ids)};
}
Call Call::Resolve(KeySerial special) { return {Op::kResolve, {special}}; }
Call Call::Describe(KeySerial key) { return {Op::kDescribe, {key}}; }
Call Call::Join() { return {Op::kJoin, {}}; }
// The description is left out: the tests compare calls by number.
Call Call::CreateKeyring(KeySerial keyring) {
  return {Op::kCreateKeyring, {keyring}};
}
Call Call::Link(KeySerial key, KeySerial keyring) {
  return {Op::kLink, {key, keyring}};
}
Call Call::Revoke(KeySerial key) { return {Op::kRevoke, {key}}; }
Call Call::SetPermissions(KeySerial key, uint32_t permissions) {
  return {Op::kSetPermissions, {key, permissions}};
}
Call Call::GetPersistent(uid_t uid, KeySerial keyring) {
  return {Op::kGetPersistent, {uid, keyring}};
}

Call Call::Unlink(KeySerial key, KeySerial keyring) {
  return {Op::kUnlink, {key, keyring}};
}

Call Call::Quota(uid_t uid) { return {Op::kQuota, {uid}}; }

void PrintTo(const Call& call, std::ostream* os) {
  *os << OpName(call.op) << "(";
  for (size_t i = 0; i < call.args.size(); ++i) {
    *os << (i == 0 ? "" : ", ") << call.args[i];
  }
  *os << ")";
}

int CallLog::Record(Call call) {
  const Op op = call.op;
  calls_.push_back(std::move(call));
  const int nth = Count(op);
  for (const Failure& failure : failures_) {
    if (failure.op != op) continue;
    if (failure.nth == nth || (failure.nth == 0 && nth >= failure.first)) {
      return failure.error_number;
    }
  }
  return 0;
}

void CallLog::FailNth(Op op, int nth, int error_number) {
  failures_.push_back({op, nth, nth, error_number});
}

void CallLog::FailNext(Op op, int error_number) {
  FailNth(op, Count(op) + 1, error_number);
}

void CallLog::FailEvery(Op op, int error_number) {
  failures_.push_back({op, 0, Count(op) + 1, error_number});
}

int CallLog::Count(Op op) const {
  return static_cast<int>(
      std::count_if(calls_.begin(), calls_.end(),
                    [op](const Call& call) { return call.op == op; }));
}

std::vector<Call> CallLog::CallsSince(size_t mark) const {
  if (mark >= calls_.size()) return {};
  return {calls_.begin() + static_cast<std::ptrdiff_t>(mark), calls_.end()};
}

StatusOr<ThreadIds> FakeCredentials::Get() {
  if (const int error_number = calls_.Record(Call::GetIds())) {
    return Status::Failure("read the thread's IDs", error_number);
  }
  return ids_;
}

Status FakeCredentials::SetUids(const IdTriple<uid_t>& ids) {
  if (const int error_number = calls_.Record(Call::SetUids(ids))) {
    return Status::Failure("set the thread's uids", error_number);
  }
  return Apply(Op::kSetUids, "set the thread's uids", ids_.uid, ids);
}

Status FakeCredentials::SetGids(const IdTriple<gid_t>& ids) {
  if (const int error_number = calls_.Record(Call::SetGids(ids))) {
    return Status::Failure("set the thread's gids", error_number);
  }
  return Apply(Op::kSetGids, "set the thread's gids", ids_.gid, ids);
}

void FakeCredentials::MisapplyNth(Op op, int nth, uint32_t real) {
  misapplied_.push_back({op, nth, real});
}

template <typename Id>
Status FakeCredentials::Apply(Op op, std::string_view operation,
                              IdTriple<Id>& current,
                              const IdTriple<Id>& wanted) {
  // Without privilege a thread may only shuffle the IDs it already has.
  const bool privileged = ids_.uid.effective == 0;
  if (!privileged &&
      !(IsOneOf(wanted.real, current) && IsOneOf(wanted.effective, current) &&
        IsOneOf(wanted.saved, current))) {
    return Status::Failure(operation, EPERM);
  }

  current = wanted;
  const int nth = calls_.Count(op);
  for (const Misapplied& misapplied : misapplied_) {
    if (misapplied.op == op && misapplied.nth == nth) {
      current.real = static_cast<Id>(misapplied.real);
    }
  }
  return {};
}

StatusOr<KeySerial> FakeKeyrings::Resolve(KeySerial special) {
  constexpr std::string_view kOperation = "look up a keyring";
  if (const int error_number = calls_.Record(Call::Resolve(special))) {
    return Status::Failure(kOperation, error_number);
  }
  return Lookup(special, kOperation);
}

StatusOr<KeyDescription> FakeKeyrings::Describe(KeySerial key) {
  constexpr std::string_view kOperation = "describe a keyring";
  if (const int error_number = calls_.Record(Call::Describe(key))) {
    return Status::Failure(kOperation, error_number);
  }
  StatusOr<KeySerial> serial = Lookup(key, kOperation);
  if (!serial.ok()) return serial.status();

  const FakeKeyring& keyring = Get(serial.value());
  return KeyDescription{"keyring", keyring.uid, keyring.gid,
                        keyring.permissions, keyring.description};
}

StatusOr<KeySerial> FakeKeyrings::JoinNewSessionKeyring() {
  if (const int error_number = calls_.Record(Call::Join())) {
    return Status::Failure("join a new session keyring", error_number);
  }
  session_ = Create(RealUid(), RealGid(), kSessionKeyringPermissions, "_ses");
  return session_;
}

StatusOr<KeySerial> FakeKeyrings::CreateKeyring(const std::string& description,
                                                KeySerial keyring) {
  constexpr std::string_view kOperation = "create a keyring";
  if (const int error_number = calls_.Record(Call::CreateKeyring(keyring))) {
    return Status::Failure(kOperation, error_number);
  }
  StatusOr<KeySerial> into = Lookup(keyring, kOperation);
  if (!into.ok()) return into.status();
  const KeySerial created =
      Create(RealUid(), RealGid(), kHolderKeyringPermissions, description);
  keyrings_.at(into.value()).links.push_back(created);
  return created;
}

Status FakeKeyrings::Link(KeySerial key, KeySerial keyring) {
  constexpr std::string_view kOperation = "link a keyring";
  if (const int error_number = calls_.Record(Call::Link(key, keyring))) {
    return Status::Failure(kOperation, error_number);
  }
  StatusOr<KeySerial> from = Lookup(key, kOperation);
  if (!from.ok()) return from.status();
  StatusOr<KeySerial> into = Lookup(keyring, kOperation);
  if (!into.ok()) return into.status();

  std::vector<KeySerial>& links = keyrings_.at(into.value()).links;
  if (std::find(links.begin(), links.end(), from.value()) == links.end()) {
    links.push_back(from.value());
  }
  return {};
}

Status FakeKeyrings::Unlink(KeySerial key, KeySerial keyring) {
  constexpr std::string_view kOperation = "unlink a keyring";
  if (const int error_number = calls_.Record(Call::Unlink(key, keyring))) {
    return Status::Failure(kOperation, error_number);
  }
  StatusOr<KeySerial> into = Lookup(keyring, kOperation);
  if (!into.ok()) return into.status();

  std::vector<KeySerial>& links = keyrings_.at(into.value()).links;
  const auto found = std::find(links.begin(), links.end(), key);
  if (found == links.end()) return Status::Failure(kOperation, ENOENT);
  links.erase(found);
  return {};
}

StatusOr<KeyQuota> FakeKeyrings::Quota(uid_t uid) {
  constexpr std::string_view kOperation = "read /proc/key-users";
  if (const int error_number = calls_.Record(Call::Quota(uid))) {
    return Status::Failure(kOperation, error_number);
  }
  const auto found = quotas_.find(uid);
  if (found == quotas_.end()) return Status::Failure(kOperation, ENOENT);
  return found->second;
}

Status FakeKeyrings::Revoke(KeySerial key) {
  constexpr std::string_view kOperation = "revoke a keyring";
  if (const int error_number = calls_.Record(Call::Revoke(key))) {
    return Status::Failure(kOperation, error_number);
  }
  StatusOr<KeySerial> serial = Lookup(key, kOperation);
  if (!serial.ok()) return serial.status();

  MarkRevoked(serial.value());
  return {};
}

Status FakeKeyrings::SetPermissions(KeySerial key, uint32_t permissions) {
  constexpr std::string_view kOperation = "set a keyring's permissions";
  if (const int error_number =
          calls_.Record(Call::SetPermissions(key, permissions))) {
    return Status::Failure(kOperation, error_number);
  }
  StatusOr<KeySerial> serial = Lookup(key, kOperation);
  if (!serial.ok()) return serial.status();
  keyrings_.at(serial.value()).permissions = permissions;
  return {};
}

StatusOr<KeySerial> FakeKeyrings::GetPersistent(uid_t uid, KeySerial keyring) {
  constexpr std::string_view kOperation = "get the persistent keyring";
  if (const int error_number =
          calls_.Record(Call::GetPersistent(uid, keyring))) {
    return Status::Failure(kOperation, error_number);
  }
  StatusOr<KeySerial> into = Lookup(keyring, kOperation);
  if (!into.ok()) return into.status();

  auto [entry, inserted] = persistent_keyrings_.try_emplace(uid, 0);
  if (inserted) {
    entry->second = Create(uid, kNoGroup, kUserKeyringPermissions,
                           "_persistent." + std::to_string(uid));
  }
  keyrings_.at(into.value()).links.push_back(entry->second);
  return entry->second;
}

KeySerial FakeKeyrings::AddKeyring(uid_t uid, gid_t gid,
                                   std::string description) {
  return Create(uid, gid, kSessionKeyringPermissions, std::move(description));
}

KeySerial FakeKeyrings::UserKeyring(uid_t uid) {
  auto [entry, inserted] = user_keyrings_.try_emplace(uid, 0);
  if (inserted) {
    entry->second = Create(uid, kNoGroup, kUserKeyringPermissions,
                           "_uid." + std::to_string(uid));
  }
  return entry->second;
}

KeySerial FakeKeyrings::UserSessionKeyring(uid_t uid) {
  auto [entry, inserted] = user_session_keyrings_.try_emplace(uid, 0);
  if (inserted) {
    entry->second = Create(uid, kNoGroup, kUserKeyringPermissions,
                           "_uid_ses." + std::to_string(uid));
    keyrings_.at(entry->second).links.push_back(UserKeyring(uid));
  }
  return entry->second;
}

void FakeKeyrings::MarkRevoked(KeySerial keyring) {
  FakeKeyring& revoked = keyrings_.at(keyring);
  // Revocation empties a keyring at once.
  revoked.revoked = true;
  revoked.links.clear();
}

bool FakeKeyrings::IsLinked(KeySerial key, KeySerial keyring) const {
  const std::vector<KeySerial>& links = Get(keyring).links;
  return std::find(links.begin(), links.end(), key) != links.end();
}

StatusOr<KeySerial> FakeKeyrings::Lookup(KeySerial id,
                                         std::string_view operation) {
  KeySerial serial = id;
  switch (id) {
    case kSessionKeyring:
      // Any lookup of "@s" by a thread that has no session keyring
      // subscribes it to its real uid's user-session keyring, even one
      // that asks the kernel not to create anything.
      if (session_ == 0) session_ = UserSessionKeyring(RealUid());
      serial = session_;
      break;
    case kUserKeyring:
      serial = UserKeyring(RealUid());
      break;
    case kUserSessionKeyring:
      serial = UserSessionKeyring(RealUid());
      break;
    case kThreadKeyring:
      // Made on first use, owned by the real IDs of the moment.
      if (thread_ == 0)
        thread_ =
            Create(RealUid(), RealGid(), kHolderKeyringPermissions, "_tid");
      serial = thread_;
      break;
    default:
      break;
  }

  const auto found = keyrings_.find(serial);
  if (found == keyrings_.end()) return Status::Failure(operation, ENOKEY);
  if (found->second.revoked) return Status::Failure(operation, EKEYREVOKED);
  return serial;
}

KeySerial FakeKeyrings::Create(uid_t uid, gid_t gid, uint32_t permissions,
                               std::string description) {
  const KeySerial serial = next_serial_++;
  keyrings_[serial] =
      FakeKeyring{uid, gid, permissions, std::move(description), false, {}};
  return serial;
}

void PrintTo(const LogLine& line, std::ostream* os) {
  sessionkeyring::PrintTo(line.level, os);
  *os << ": " << line.message;
}

std::vector<LogLine> RecordingLog::Visible() const {
  std::vector<LogLine> visible;
  for (const LogLine& line : lines_) {
    if (line.level != LogLevel::kDebug) visible.push_back(line);
  }
  return visible;
}

std::vector<LogLevel> RecordingLog::VisibleLevels() const {
  std::vector<LogLevel> levels;
  for (const LogLine& line : Visible()) levels.push_back(line.level);
  return levels;
}

std::string RecordingLog::OnlyVisibleMessage() const {
  const std::vector<LogLine> visible = Visible();
  if (visible.size() != 1) {
    ADD_FAILURE() << "expected one visible log line, got " << visible.size();
    return {};
  }
  return visible[0].message;
}

UserLookup FoundUser(const Target& target) {
  return {UserLookup::Kind::kFound, target, 0};
}

UserLookup UnknownUser(std::string name) {
  return {UserLookup::Kind::kUnknown, Target{std::move(name), 0, 0}, 0};
}

UserLookup HostError(int host_code) {
  return {UserLookup::Kind::kHostError, Target{}, host_code};
}

ThreadIds SameIds(uid_t uid, gid_t gid) {
  return {{uid, uid, uid}, {gid, gid, gid}};
}

ThreadIds RootIds() { return SameIds(0, 0); }

std::string_view HookName(OpeningHook hook) {
  return hook == OpeningHook::kOpen ? "Open" : "Establish";
}

void PrintTo(OpeningHook hook, std::ostream* os) { *os << HookName(hook); }

HookResult RunOpeningHook(OpeningHook hook, Services& services,
                          UserSource& users, const Options& options,
                          HandleState& state) {
  return hook == OpeningHook::kOpen
             ? OpenSession(services, users, options, state, kSelf)
             : EstablishCredentials(services, users, options, state, kSelf);
}

Options Args(std::initializer_list<const char*> words) {
  const std::vector<const char*> argv(words);
  return ParseOptions(argv).options;
}

}  // namespace test
}  // namespace sessionkeyring
