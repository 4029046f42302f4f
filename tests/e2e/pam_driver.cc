// e2e_pam_driver: the PAM applications the end-to-end tests need and
// pamtester cannot be: several handles at once, one thread per handle,
// thousands of sessions beside a watching thread, privileges dropped before
// the close.
//
//   e2e_pam_driver SERVICE SCENARIO ARG...
//
//   two-users USER1 USER2   each user's handle on a thread of its own, both
//                           open at once; the first closes, then the second
//   one-thread USER1 USER2 HOLDER1 HOLDER2
//                           both handles open at once on one thread, each
//                           session keyring linked into its HOLDER keyring;
//                           the first closes, then the second
//   close-unopened USER1 USER2
//                           USER1's handle opens; USER2's handle, which
//                           never opened, closes; then USER1's closes
//   in-a-row USER COUNT     COUNT sessions one after another, each on a new
//                           handle, each checked for a usable keyring
//   watch-ids USER COUNT    COUNT opens and closes on one handle while
//                           another thread watches its own IDs
//   drop-before-close USER uid|uid-gid
//                           opens, becomes USER (uid alone, or gid then
//                           uid), and closes
//
// It prints one fact per line; the tests read them:
//   pam <step> <PAM return code>
//   probe <step> ...            the session keyring, as probe.sh prints it
//   usable <step> yes|no <why>  whether a key could be added to @s and read
//   hold <step> <why>           the keyring could not be linked to HOLDER
//   watch <what> <count>        samples, changed (any ID not root),
//                               uid-changed (a uid not root), failed calls
// and exits 0, 1 if the driver itself failed, or 2 for a usage error.

#include <keyutils.h>
#include <pwd.h>
#include <security/pam_appl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <condition_variable>
#include <cstring>
#include <functional>
#include <iostream>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "keyring_probe.h"

namespace sessionkeyring::e2e {
namespace {

constexpr int kUsageError = 2;

// The user is always given to pam_start, so no module has a reason to ask
// anything; a question would mean the stack is not the one under test.
int RefuseConversation(int /*count*/, const pam_message** /*messages*/,
                       pam_response** /*responses*/, void* /*data*/) {
  return PAM_CONV_ERR;
}

constexpr pam_conv kConversation = {RefuseConversation, nullptr};

void Print(const std::string& line) { std::cout << line << '\n' << std::flush; }

void Result(std::string_view step, int code) {
  Print("pam " + std::string(step) + " " + std::to_string(code));
}

void Probe(std::string_view step) {
  std::cout << ProbeSessionKeyring(step) << std::flush;
}

// Whether the thread's session keyring takes a key and gives it back, as a
// user's program would use it.
void CheckUsable(std::string_view step) {
  constexpr char kPayload[] = "usable";
  const key_serial_t key = add_key("user", "skr-e2e-usable", kPayload,
                                   sizeof kPayload, KEY_SPEC_SESSION_KEYRING);
  char buffer[sizeof kPayload] = {};
  const bool usable = key >= 0 && keyctl_read(key, buffer, sizeof buffer) ==
                                      static_cast<long>(sizeof kPayload);
  Print("usable " + std::string(step) +
        (usable ? " yes" : std::string(" no ") + std::strerror(errno)));
}

// One PAM transaction, ended when it goes out of scope.
class Handle {
 public:
  Handle(const std::string& service, const std::string& user) {
    status_ = pam_start(service.c_str(), user.c_str(), &kConversation, &pamh_);
    if (status_ != PAM_SUCCESS) pamh_ = nullptr;
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  ~Handle() {
    if (pamh_ != nullptr) pam_end(pamh_, status_);
  }

  int Open() { return Call(pam_open_session); }
  int Close() { return Call(pam_close_session); }

 private:
  int Call(int (*function)(pam_handle_t*, int)) {
    if (pamh_ == nullptr) return status_;  // pam_start's failure
    status_ = function(pamh_, 0);
    return status_;
  }

  pam_handle_t* pamh_ = nullptr;
  int status_ = PAM_SUCCESS;
};

// A thread that runs the tasks handed to it, one at a time, while the
// caller waits. A session keyring belongs to a thread, so a handle that
// lives on a worker of its own gets a keyring of its own, and the steps of
// a scenario still happen in the order written.
class Worker {
 public:
  Worker() : thread_([this] { Serve(); }) {}
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;
  ~Worker() {
    Run(nullptr);  // an empty task stops the loop
    thread_.join();
  }

  void Run(std::function<void()> task) {
    std::unique_lock lock(mutex_);
    task_ = std::move(task);
    pending_ = true;
    changed_.notify_all();
    changed_.wait(lock, [this] { return !pending_; });
  }

 private:
  void Serve() {
    for (;;) {
      std::unique_lock lock(mutex_);
      changed_.wait(lock, [this] { return pending_; });
      const std::function<void()> task = std::move(task_);
      if (task) task();
      pending_ = false;
      changed_.notify_all();
      if (!task) return;
    }
  }

  std::mutex mutex_;
  std::condition_variable changed_;
  std::function<void()> task_;
  bool pending_ = false;
  // Last, so that it starts once everything it uses exists.
  std::thread thread_;
};

bool ParsePositive(std::string_view text, int& number) {
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, number);
  return ec == std::errc() && ptr == end && number > 0;
}

// Both workers start before any session opens, so both begin in the
// caller's keyring, as the threads of a server that serves several users.
int TwoUsers(const std::string& service, const std::string& first_user,
             const std::string& second_user) {
  Worker first_thread;
  Worker second_thread;
  std::optional<Handle> first;
  std::optional<Handle> second;

  first_thread.Run([&] {
    first.emplace(service, first_user);
    Result("first-open", first->Open());
    Probe("first-open");
  });
  second_thread.Run([&] {
    second.emplace(service, second_user);
    Result("second-open", second->Open());
    Probe("second-open");
  });
  first_thread.Run([&] {
    Result("first-close", first->Close());
    Probe("first-close");
  });
  second_thread.Run([&] {
    Probe("second-after-first-close");
    Result("second-close", second->Close());
    Probe("second-close");
  });
  first_thread.Run([&] { Probe("first-after-both-closed"); });
  // pam_end on the thread that used the handle, as a server would.
  first_thread.Run([&] { first.reset(); });
  second_thread.Run([&] { second.reset(); });
  return 0;
}

// Links the thread's session keyring into `holder`, a keyring of the
// test's, so that the test can see after the driver ends whether it was
// revoked. Holding it there does not make it the driver's to possess.
void Hold(std::string_view step, key_serial_t holder) {
  if (keyctl_link(KEY_SPEC_SESSION_KEYRING, holder) < 0) {
    Print("hold " + std::string(step) + " " + std::strerror(errno));
  }
}

// As a server that runs every session on its main thread: the second open
// replaces the thread's session keyring, so the thread no longer possesses
// the first session's keyring when the first handle closes.
int OneThread(const std::string& service, const std::string& first_user,
              const std::string& second_user, key_serial_t first_holder,
              key_serial_t second_holder) {
  Handle first(service, first_user);
  Result("first-open", first.Open());
  Probe("first-open");
  Hold("first-open", first_holder);

  Handle second(service, second_user);
  Result("second-open", second.Open());
  Probe("second-open");
  Hold("second-open", second_holder);

  Result("first-close", first.Close());
  Probe("first-close");
  Result("second-close", second.Close());
  Probe("second-close");
  return 0;
}

int CloseUnopened(const std::string& service, const std::string& opened_user,
                  const std::string& other_user) {
  Handle opened(service, opened_user);
  Result("open", opened.Open());
  Probe("open");

  Handle unopened(service, other_user);
  Result("unopened-close", unopened.Close());
  Probe("unopened-close");

  Result("close", opened.Close());
  Probe("close");
  return 0;
}

int InARow(const std::string& service, const std::string& user, int count) {
  for (int i = 1; i <= count; ++i) {
    const std::string step = "session-" + std::to_string(i);
    Handle handle(service, user);
    Result(step + "-open", handle.Open());
    Probe(step);
    CheckUsable(step);
    Result(step + "-close", handle.Close());
  }
  return 0;
}

// What the watcher counts: samples of the thread's six IDs, those with any
// ID not root, and those with a uid not root. pam_keyinit 1.5.2 can leave a
// gid behind for good (its saved-gid leak), so only the uids show whether
// the thread ran as the user while a session was being set up.
struct IdSamples {
  long samples = 0;
  long changed = 0;
  long uid_changed = 0;
};

void Sample(IdSamples& counts) {
  uid_t ruid = 0, euid = 0, suid = 0;
  gid_t rgid = 0, egid = 0, sgid = 0;
  const bool read = getresuid(&ruid, &euid, &suid) == 0 &&
                    getresgid(&rgid, &egid, &sgid) == 0;
  const bool uid_root = ruid == 0 && euid == 0 && suid == 0;
  ++counts.samples;
  if (!read || !uid_root || rgid != 0 || egid != 0 || sgid != 0) {
    ++counts.changed;
  }
  if (!read || !uid_root) ++counts.uid_changed;
}

// getresuid and getresgid report the calling thread's own IDs, so the
// watcher sees exactly what a host's other threads would run as.
int WatchIds(const std::string& service, const std::string& user, int count) {
  std::atomic<bool> stop = false;
  IdSamples counts;
  std::thread watcher([&] {
    while (!stop.load(std::memory_order_relaxed)) Sample(counts);
  });

  int failed = 0;
  {
    Handle handle(service, user);
    for (int i = 0; i < count; ++i) {
      if (handle.Open() != PAM_SUCCESS) ++failed;
      if (handle.Close() != PAM_SUCCESS) ++failed;
    }
  }
  stop = true;
  watcher.join();

  Print("watch samples " + std::to_string(counts.samples));
  Print("watch changed " + std::to_string(counts.changed));
  Print("watch uid-changed " + std::to_string(counts.uid_changed));
  Print("watch failed " + std::to_string(failed));
  return 0;
}

// The application gives up root for good before it closes the session, as
// a program that runs the user's work itself may do. This process has a
// single thread, so glibc's process-wide set*id calls are what is meant.
int DropBeforeClose(const std::string& service, const std::string& user,
                    std::string_view drop) {
  const passwd* entry = getpwnam(user.c_str());
  if (entry == nullptr || (drop != "uid" && drop != "uid-gid")) {
    return kUsageError;
  }
  const uid_t uid = entry->pw_uid;
  const gid_t gid = entry->pw_gid;

  Handle handle(service, user);
  Result("open", handle.Open());
  Probe("open");

  if ((drop == "uid-gid" && setresgid(gid, gid, gid) != 0) ||
      setresuid(uid, uid, uid) != 0) {
    std::cerr << "could not become " << user << ": " << std::strerror(errno)
              << "\n";
    return 1;
  }

  Result("close", handle.Close());
  Probe("close");
  return 0;
}

int Main(const std::vector<std::string>& args) {
  if (args.size() < 4) return kUsageError;
  const std::string& service = args[0];
  const std::string& scenario = args[1];
  int count = 0;
  if (scenario == "two-users") return TwoUsers(service, args[2], args[3]);
  int first_holder = 0;
  int second_holder = 0;
  if (scenario == "one-thread" && args.size() == 6 &&
      ParsePositive(args[4], first_holder) &&
      ParsePositive(args[5], second_holder)) {
    return OneThread(service, args[2], args[3], first_holder, second_holder);
  }
  if (scenario == "close-unopened") {
    return CloseUnopened(service, args[2], args[3]);
  }
  if (scenario == "in-a-row" && ParsePositive(args[3], count)) {
    return InARow(service, args[2], count);
  }
  if (scenario == "watch-ids" && ParsePositive(args[3], count)) {
    return WatchIds(service, args[2], count);
  }
  if (scenario == "drop-before-close") {
    return DropBeforeClose(service, args[2], args[3]);
  }
  return kUsageError;
}

}  // namespace
}  // namespace sessionkeyring::e2e

int main(int argc, char** argv) {
  const int code = sessionkeyring::e2e::Main(
      std::vector<std::string>(argv + 1, argv + argc));
  if (code == sessionkeyring::e2e::kUsageError) {
    std::cerr << "usage: e2e_pam_driver SERVICE SCENARIO ARG... (see the "
                 "source)\n";
  }
  return code;
}
