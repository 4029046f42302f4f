// Fakes of the outside world the core talks to, for unit tests.
//
// FakeKeyrings is a small model of the kernel's keyring rules that matter
// to the module: a thread's session keyring, per-uid user and user-session
// keyrings created on demand, revocation, links, and the side effect of
// looking up "@s" when the thread has none. It reads the thread's real uid
// and gid from FakeCredentials, because the kernel resolves "@u" and "@us"
// and owns new keyrings by the real IDs; a test thus sees whether the core
// switched IDs before acting.
//
// Both fakes write every call into one shared CallLog, in order, so that a
// test can check the order across credentials and keyrings (gid before
// uid, switch before join), and the CallLog fails chosen calls on demand.

#ifndef SESSIONKEYRING_TESTS_UNIT_FAKES_H_
#define SESSIONKEYRING_TESTS_UNIT_FAKES_H_

#include <sys/types.h>

#include <cstdint>
#include <initializer_list>
#include <map>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "credentials.h"
#include "hooks.h"
#include "keyrings.h"
#include "log_sink.h"
#include "options.h"
#include "session.h"
#include "status.h"

namespace sessionkeyring {

// gtest printers, so that failed expectations show values, not bytes. They
// live in the library's namespace because gtest finds them by ADL.
void PrintTo(const ThreadIds& ids, std::ostream* os);
void PrintTo(LogLevel level, std::ostream* os);
void PrintTo(OpenOutcome::Kind kind, std::ostream* os);
void PrintTo(Verdict verdict, std::ostream* os);
void PrintTo(RevokeMode mode, std::ostream* os);

namespace test {

// Every operation the fakes offer, credentials and keyrings alike.
enum class Op {
  kGetIds,
  kSetUids,
  kSetGids,
  kResolve,
  kDescribe,
  kJoin,
  kCreateKeyring,
  kLink,
  kUnlink,
  kRevoke,
  kSetPermissions,
  kGetPersistent,
  kQuota,
};
std::string_view OpName(Op op);
void PrintTo(Op op, std::ostream* os);

// One call as the fake saw it: the operation and its arguments, widened.
struct Call {
  Op op;
  std::vector<int64_t> args;
  bool operator==(const Call&) const = default;

  static Call GetIds();
  static Call SetUids(const IdTriple<uid_t>& ids);
  static Call SetGids(const IdTriple<gid_t>& ids);
  static Call Resolve(KeySerial special);
  static Call Describe(KeySerial key);
  static Call Join();
  static Call CreateKeyring(KeySerial keyring);
  static Call Link(KeySerial key, KeySerial keyring);
  static Call Unlink(KeySerial key, KeySerial keyring);
  static Call Revoke(KeySerial key);
  static Call SetPermissions(KeySerial key, uint32_t permissions);
  static Call GetPersistent(uid_t uid, KeySerial keyring);
  static Call Quota(uid_t uid);
};
void PrintTo(const Call& call, std::ostream* os);

class CallLog {
 public:
  // Appends `call` and returns the errno it must fail with, or 0.
  int Record(Call call);

  // Fails the `nth` call of `op` (counting from 1 over the log's life).
  void FailNth(Op op, int nth, int error_number);
  // Fails the next call of `op` from now on.
  void FailNext(Op op, int error_number);
  // Fails every call of `op` from now on.
  void FailEvery(Op op, int error_number);

  // How many calls of `op` were made so far.
  int Count(Op op) const;
  const std::vector<Call>& calls() const { return calls_; }
  // The calls made after the first `mark` ones.
  std::vector<Call> CallsSince(size_t mark) const;

 private:
  struct Failure {
    Op op;
    int nth;  // 0: every call from `first` on
    int first;
    int error_number;
  };
  std::vector<Call> calls_;
  std::vector<Failure> failures_;
};

// The calling thread's six IDs, with the kernel's rules for changing them
// applied loosely: an effective uid of 0 may set anything; otherwise every
// new value must be one of the current real, effective or saved IDs.
class FakeCredentials final : public Credentials {
 public:
  FakeCredentials(CallLog& calls, const ThreadIds& ids)
      : calls_(calls), ids_(ids) {}

  StatusOr<ThreadIds> Get() override;
  Status SetUids(const IdTriple<uid_t>& ids) override;
  Status SetGids(const IdTriple<gid_t>& ids) override;
  // Privileged exactly when the effective uid is 0, as for a process
  // without file capabilities. Not recorded as a call.
  bool MaySetAnyId() override { return ids_.uid.effective == 0; }

  // Makes the `nth` call of `op` (kSetUids or kSetGids) report success but
  // set the real ID to `real` instead of the one asked for, as a buggy
  // kernel or security module could; the core must notice on read-back.
  void MisapplyNth(Op op, int nth, uint32_t real);

  const ThreadIds& ids() const { return ids_; }

 private:
  struct Misapplied {
    Op op;
    int nth;
    uint32_t real;
  };

  template <typename Id>
  Status Apply(Op op, std::string_view operation, IdTriple<Id>& current,
               const IdTriple<Id>& wanted);

  CallLog& calls_;
  ThreadIds ids_;
  std::vector<Misapplied> misapplied_;
};

// What the fake kernel knows about one keyring.
struct FakeKeyring {
  uid_t uid = 0;
  gid_t gid = 0;
  uint32_t permissions = 0;
  std::string description;
  bool revoked = false;
  std::vector<KeySerial> links;
};

// Permissions the kernel gives a new anonymous session keyring (possessor
// all, owner view and read) and the per-uid keyrings.
inline constexpr uint32_t kSessionKeyringPermissions = 0x3f030000;
inline constexpr uint32_t kUserKeyringPermissions = 0x1f3f0000;
// What the kernel gives a keyring made by add_key(2), and a thread
// keyring: possessor all, owner view.
inline constexpr uint32_t kHolderKeyringPermissions = 0x3f010000;
// The group of a per-uid keyring: the kernel gives it none.
inline constexpr gid_t kNoGroup = static_cast<gid_t>(-1);

class FakeKeyrings final : public Keyrings {
 public:
  FakeKeyrings(CallLog& calls, const FakeCredentials& credentials)
      : calls_(calls), credentials_(credentials) {}

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

  // Arranging a scene. None of these is recorded as a call.
  KeySerial AddKeyring(uid_t uid, gid_t gid, std::string description);
  // "_uid.<uid>" and "_uid_ses.<uid>", made on first use as the kernel
  // does; the user-session keyring links the user keyring.
  KeySerial UserKeyring(uid_t uid);
  KeySerial UserSessionKeyring(uid_t uid);
  void SubscribeTo(KeySerial keyring) { session_ = keyring; }
  void MarkRevoked(KeySerial keyring);
  // What Quota() reports for `uid`; a uid without one is not found.
  void SetQuota(uid_t uid, const KeyQuota& quota) { quotas_[uid] = quota; }

  // Inspecting the result. 0 means the thread has no session keyring
  // (or thread keyring).
  KeySerial session_keyring() const { return session_; }
  KeySerial thread_keyring() const { return thread_; }
  // The keyring with that serial. There must be one: a missing serial
  // throws std::out_of_range, which gtest reports as a failure.
  const FakeKeyring& Get(KeySerial serial) const {
    return keyrings_.at(serial);
  }
  bool IsLinked(KeySerial key, KeySerial keyring) const;

 private:
  // Turns a special ID into a serial with the kernel's side effects, and
  // checks that the key exists and is not revoked.
  StatusOr<KeySerial> Lookup(KeySerial id, std::string_view operation);
  KeySerial Create(uid_t uid, gid_t gid, uint32_t permissions,
                   std::string description);
  uid_t RealUid() const { return credentials_.ids().uid.real; }
  gid_t RealGid() const { return credentials_.ids().gid.real; }

  CallLog& calls_;
  const FakeCredentials& credentials_;
  std::map<KeySerial, FakeKeyring> keyrings_;
  std::map<uid_t, KeySerial> user_keyrings_;
  std::map<uid_t, KeySerial> user_session_keyrings_;
  std::map<uid_t, KeySerial> persistent_keyrings_;
  std::map<uid_t, KeyQuota> quotas_;
  KeySerial session_ = 0;
  KeySerial thread_ = 0;
  // Far from any uid or gid used in tests, so that mixing a serial up with
  // an ID cannot pass by accident.
  KeySerial next_serial_ = 800000001;
};

struct LogLine {
  LogLevel level;
  std::string message;
};
void PrintTo(const LogLine& line, std::ostream* os);

class RecordingLog final : public LogSink {
 public:
  void Log(LogLevel level, const std::string& message) override {
    lines_.push_back({level, message});
  }

  const std::vector<LogLine>& lines() const { return lines_; }
  // What reaches syslog without `debug`.
  std::vector<LogLine> Visible() const;
  std::vector<LogLevel> VisibleLevels() const;
  // The message of the only visible line; the test fails if there is not
  // exactly one.
  std::string OnlyVisibleMessage() const;

 private:
  std::vector<LogLine> lines_;
};

class FakeUserSource final : public UserSource {
 public:
  explicit FakeUserSource(UserLookup answer) : answer_(std::move(answer)) {}

  UserLookup LookUp() override {
    ++calls_;
    return answer_;
  }

  void set_answer(UserLookup answer) { answer_ = std::move(answer); }
  int calls() const { return calls_; }

 private:
  UserLookup answer_;
  int calls_ = 0;
};

UserLookup FoundUser(const Target& target);
UserLookup UnknownUser(std::string name);
UserLookup HostError(int host_code);

// One simulated thread: its IDs and keyrings, a log, and the Services the
// core takes, all wired together.
struct FakeThread {
  explicit FakeThread(const ThreadIds& ids)
      : start(ids),
        credentials(calls, ids),
        keyrings(calls, credentials),
        services{keyrings, credentials, log} {}
  FakeThread(const FakeThread&) = delete;
  FakeThread& operator=(const FakeThread&) = delete;

  // The IDs the thread started with, which every operation must restore.
  const ThreadIds start;
  CallLog calls;
  FakeCredentials credentials;
  FakeKeyrings keyrings;
  RecordingLog log;
  Services services;
};

// The same uid (and gid) as real, effective and saved IDs.
ThreadIds SameIds(uid_t uid, gid_t gid);
// A thread running as root.
ThreadIds RootIds();

// Users of the tests. Their gids differ from their uids so that a test
// notices a uid passed where a gid belongs.
inline const Target kAlice{"alice", 1000, 100};
inline const Target kBob{"bob", 1001, 1002};
inline const Target kRoot{"root", 0, 0};

// open_session and setcred(ESTABLISH) do the same work; many tests run
// both.
enum class OpeningHook { kOpen, kEstablish };
std::string_view HookName(OpeningHook hook);
void PrintTo(OpeningHook hook, std::ostream* os);
HookResult RunOpeningHook(OpeningHook hook, Services& services,
                          UserSource& users, const Options& options,
                          HandleState& state);

// The process ID the hooks are told they run in.
inline constexpr pid_t kSelf = 4242;

// Parses module arguments as the PAM edge would, ignoring diagnostics.
Options Args(std::initializer_list<const char*> words);

}  // namespace test
}  // namespace sessionkeyring

#endif  // SESSIONKEYRING_TESTS_UNIT_FAKES_H_
