// fault_driver: one PAM session for the fault table, with one hook run
// under a fault.
//
//   fault_driver SERVICE USER HOOK [CALL ERRNO all|first|N]
//
// HOOK is the hook under test, and the steps run are:
//   open       open_session*, close_session
//   establish  setcred(PAM_ESTABLISH_CRED)*, open_session, close_session
//   close      open_session, close_session*
//   delete     setcred(PAM_ESTABLISH_CRED), setcred(PAM_DELETE_CRED)*
// then pam_end. Only while the starred step runs does CALL (a name that
// seccomp_fault knows, such as keyctl:join) fail with ERRNO: every call of
// it (all), only the first (first, the same as 1), or only the Nth. Without
// CALL nothing fails.
//
// The driver installs a seccomp filter on its own thread before pam_start
// and answers the stopped calls from a second thread, started before the
// filter and so not filtered itself. Outside the step under test every
// stopped call runs, so the other steps see the kernel as it is, and
// counting calls never has to guess where one step ends.
//
// It prints one fact per line:
//   start <ids> <keyring>
//   step <name> <PAM code> <ids> <keyring>      after each step and pam_end
//   fault matched <n> failed <n> keyring-calls <n> first-keyring-call <how>
// where <ids> is "uid R/E/S gid R/E/S", <keyring> is "keyring SERIAL WHAT"
// for the thread's session keyring, SERIAL "?" if it cannot be looked up
// and WHAT either KEYCTL_DESCRIBE's "type;uid;gid;perm;description" or
// "error ENAME", and <how> says whether the first keyring call of the step
// (keyctl, add_key) was the one made to fail: failed, ran or none.
// It exits 0, 1 if the driver itself failed, or 2 for a usage error.

#include <keyutils.h>
#include <security/pam_appl.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <cstring>
#include <future>
#include <iostream>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "fault_injection.h"

namespace sessionkeyring::fault {
namespace {

constexpr int kDriverFailed = 1;
constexpr int kUsageError = 2;

struct Plan {
  Call call;
  int error_number = 0;
  long nth = 0;  // 0: every matching call
};

// Answers the calls the filter stops. Nothing it does after Start() takes
// a lock or allocates, because the thread it supervises may be stopped
// holding one.
class Supervisor {
 public:
  explicit Supervisor(const Plan& plan) : plan_(plan) {}
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;
  ~Supervisor() {
    stop_ = true;
    const uint64_t one = 1;
    // Wakes the thread at once; if that fails, it still sees `stop_` after
    // at most its poll's timeout.
    if (wake_fd_ >= 0) {
      [[maybe_unused]] const ssize_t written =
          write(wake_fd_, &one, sizeof one);
    }
    if (thread_.joinable()) thread_.join();
    if (wake_fd_ >= 0) close(wake_fd_);
  }

  // Starts the answering thread, then filters the calling thread. Returns
  // an error message, or an empty string.
  std::string Start() {
    std::promise<int> listener;
    std::promise<bool> ready;
    std::future<bool> is_ready = ready.get_future();
    thread_ = std::thread(
        [this, fd = listener.get_future(), ready = std::move(ready)]() mutable {
          Serve(fd.get(), ready);
        });
    const int fd =
        InstallFilter(SyscallsToStop(plan_.call, /*keyring_calls=*/true));
    const int install_errno = errno;
    listener.set_value(fd);
    if (fd < 0) {
      return std::string("seccomp: ") + std::strerror(install_errno);
    }
    if (!is_ready.get()) return "SECCOMP_GET_NOTIF_SIZES failed";
    return {};
  }

  void Arm() { armed_ = true; }
  void Disarm() { armed_ = false; }

  std::string Facts() const {
    const long keyring_calls = keyring_calls_;
    const char* first = keyring_calls == 0           ? "none"
                        : first_keyring_call_failed_ ? "failed"
                                                     : "ran";
    return "fault matched " + std::to_string(matched_) + " failed " +
           std::to_string(failed_) + " keyring-calls " +
           std::to_string(keyring_calls) + " first-keyring-call " + first;
  }

 private:
  void Serve(int fd, std::promise<bool>& ready) {
    if (fd < 0) return;
    Listener listener(fd);
    ready.set_value(listener.ok());
    if (!listener.ok()) return;
    while (!stop_) {
      const seccomp_notif* request = listener.Receive(1000, wake_fd_);
      if (request == nullptr) continue;
      if (!armed_) {
        listener.Continue();
        continue;
      }
      const long keyring_call =
          IsKeyringCall(request->data) ? ++keyring_calls_ : 0;
      if (!Matches(plan_.call, request->data)) {
        listener.Continue();
        continue;
      }
      const long seen = ++matched_;
      if (plan_.nth != 0 && seen != plan_.nth) {
        listener.Continue();
        continue;
      }
      ++failed_;
      if (keyring_call == 1) first_keyring_call_failed_ = true;
      listener.Fail(plan_.error_number);
    }
  }

  const Plan plan_;
  const int wake_fd_ = eventfd(0, EFD_CLOEXEC);
  std::atomic<bool> armed_ = false;
  std::atomic<bool> stop_ = false;
  std::atomic<long> matched_ = 0;
  std::atomic<long> failed_ = 0;
  std::atomic<long> keyring_calls_ = 0;
  std::atomic<bool> first_keyring_call_failed_ = false;
  std::thread thread_;
};

// The user is given to pam_start, so no module has a reason to ask.
int RefuseConversation(int /*count*/, const pam_message** /*messages*/,
                       pam_response** /*responses*/, void* /*data*/) {
  return PAM_CONV_ERR;
}

constexpr pam_conv kConversation = {RefuseConversation, nullptr};

std::string IdFacts() {
  uid_t ruid = 0, euid = 0, suid = 0;
  gid_t rgid = 0, egid = 0, sgid = 0;
  if (getresuid(&ruid, &euid, &suid) != 0 ||
      getresgid(&rgid, &egid, &sgid) != 0) {
    return "uid ? gid ?";
  }
  return "uid " + std::to_string(ruid) + "/" + std::to_string(euid) + "/" +
         std::to_string(suid) + " gid " + std::to_string(rgid) + "/" +
         std::to_string(egid) + "/" + std::to_string(sgid);
}

std::string KeyringFacts() {
  const key_serial_t serial =
      keyctl_get_keyring_ID(KEY_SPEC_SESSION_KEYRING, 0);
  std::string facts =
      "keyring " + (serial >= 0 ? std::to_string(serial) : std::string("?"));
  char* description = nullptr;
  if (keyctl_describe_alloc(KEY_SPEC_SESSION_KEYRING, &description) < 0) {
    return facts + " error " + ErrnoName(errno);
  }
  facts += " " + std::string(description);
  std::free(description);
  return facts;
}

void Print(const std::string& line) { std::cout << line << '\n' << std::flush; }

enum class Step { kOpen, kClose, kEstablish, kDelete };

struct HookPlan {
  std::string_view name;
  std::vector<Step> steps;
  Step under_test;
};

std::optional<HookPlan> FindHook(std::string_view name) {
  using enum Step;
  if (name == "open") return HookPlan{name, {kOpen, kClose}, kOpen};
  if (name == "establish") {
    return HookPlan{name, {kEstablish, kOpen, kClose}, kEstablish};
  }
  if (name == "close") return HookPlan{name, {kOpen, kClose}, kClose};
  if (name == "delete") return HookPlan{name, {kEstablish, kDelete}, kDelete};
  return std::nullopt;
}

std::string_view StepName(Step step) {
  switch (step) {
    case Step::kOpen:
      return "open";
    case Step::kClose:
      return "close";
    case Step::kEstablish:
      return "establish";
    case Step::kDelete:
      return "delete";
  }
  return "?";
}

int RunStep(pam_handle_t* pamh, Step step) {
  switch (step) {
    case Step::kOpen:
      return pam_open_session(pamh, 0);
    case Step::kClose:
      return pam_close_session(pamh, 0);
    case Step::kEstablish:
      return pam_setcred(pamh, PAM_ESTABLISH_CRED);
    case Step::kDelete:
      return pam_setcred(pamh, PAM_DELETE_CRED);
  }
  return PAM_SYSTEM_ERR;
}

void ReportStep(std::string_view name, int code) {
  Print("step " + std::string(name) + " " + std::to_string(code) + " " +
        IdFacts() + " " + KeyringFacts());
}

// "all" is 0 (every call), "first" 1, and a positive number itself.
std::optional<long> ParseWhich(std::string_view text) {
  if (text == "all") return 0;
  if (text == "first") return 1;
  long nth = 0;
  const auto [end, error] =
      std::from_chars(text.data(), text.data() + text.size(), nth);
  if (error != std::errc() || end != text.data() + text.size() || nth <= 0) {
    return std::nullopt;
  }
  return nth;
}

int Main(const std::vector<std::string>& args) {
  if (args.size() != 3 && args.size() != 6) return kUsageError;
  const std::optional<HookPlan> hook = FindHook(args[2]);
  if (!hook) return kUsageError;

  std::optional<Supervisor> supervisor;
  if (args.size() == 6) {
    const std::optional<Call> call = FindCall(args[3]);
    const std::optional<int> error_number = FindErrno(args[4]);
    const std::optional<long> nth = ParseWhich(args[5]);
    if (!call || !error_number || !nth) return kUsageError;
    supervisor.emplace(Plan{*call, *error_number, *nth});
    if (const std::string failure = supervisor->Start(); !failure.empty()) {
      std::cerr << "fault_driver: " << failure << "\n";
      return kDriverFailed;
    }
  }

  Print("start " + IdFacts() + " " + KeyringFacts());
  pam_handle_t* pamh = nullptr;
  int status =
      pam_start(args[0].c_str(), args[1].c_str(), &kConversation, &pamh);
  if (status != PAM_SUCCESS) {
    std::cerr << "fault_driver: pam_start: " << status << "\n";
    return kDriverFailed;
  }
  for (const Step step : hook->steps) {
    const bool faulted = supervisor && step == hook->under_test;
    if (faulted) supervisor->Arm();
    status = RunStep(pamh, step);
    if (faulted) supervisor->Disarm();
    ReportStep(StepName(step), status);
  }
  ReportStep("end", pam_end(pamh, status));
  if (supervisor) Print(supervisor->Facts());
  return 0;
}

}  // namespace
}  // namespace sessionkeyring::fault

int main(int argc, char** argv) {
  const int code = sessionkeyring::fault::Main(
      std::vector<std::string>(argv + 1, argv + argc));
  if (code == sessionkeyring::fault::kUsageError) {
    std::cerr << "usage: fault_driver SERVICE USER open|establish|close|delete "
                 "[CALL ERRNO all|first|N]\n";
  }
  return code;
}
