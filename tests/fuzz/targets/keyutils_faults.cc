#include "keyutils_faults.h"

#include <dlfcn.h>
#include <keyutils.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <vector>

namespace sessionkeyring::fuzz {
namespace {

struct Fault {
  KeyCall call;
  int error_number;
  unsigned skip;  // matching calls still to let through
};

// Per thread: each input runs on a thread of its own.
thread_local std::vector<Fault> pending;
thread_local std::vector<int> fired;
thread_local bool armed = false;

// Takes the due fault for `call`, if any: fails with its errno.
bool Refuse(KeyCall call) {
  if (!armed) return false;
  for (auto it = pending.begin(); it != pending.end(); ++it) {
    if (it->call != call && it->call != KeyCall::kAny) continue;
    if (it->skip > 0) {
      --it->skip;
      continue;
    }
    const int error_number = it->error_number;
    pending.erase(it);
    fired.push_back(error_number);
    errno = error_number;
    return true;
  }
  return false;
}

// The real function of libkeyutils, which the definitions below hide.
template <typename Function>
Function* Real(const char* name) {
  static void* const library = dlopen("libkeyutils.so.1", RTLD_NOW);
  void* const symbol = library != nullptr ? dlsym(library, name) : nullptr;
  if (symbol == nullptr) {
    std::fprintf(stderr, "keyutils_faults: no %s in libkeyutils.so.1\n", name);
    std::abort();
  }
  return reinterpret_cast<Function*>(symbol);
}

}  // namespace

std::optional<KeyCall> KeyCallNamed(std::string_view name) {
  struct Named {
    std::string_view name;
    KeyCall call;
  };
  static constexpr Named kCalls[] = {
      {"add_key", KeyCall::kAddKey}, {"describe", KeyCall::kDescribe},
      {"get_id", KeyCall::kGetId},   {"persistent", KeyCall::kPersistent},
      {"join", KeyCall::kJoin},      {"link", KeyCall::kLink},
      {"unlink", KeyCall::kUnlink},  {"revoke", KeyCall::kRevoke},
      {"any", KeyCall::kAny},
  };
  for (const Named& named : kCalls) {
    if (named.name == name) return named.call;
  }
  return std::nullopt;
}

void ScheduleFault(KeyCall call, int error_number, unsigned skip) {
  pending.push_back({call, error_number, skip});
}

void ClearFaults() {
  pending.clear();
  fired.clear();
}

void ArmFaults() { armed = true; }
void DisarmFaults() { armed = false; }

bool FaultFired(int error_number) {
  for (const int fired_errno : fired) {
    if (fired_errno == error_number) return true;
  }
  return false;
}

}  // namespace sessionkeyring::fuzz

using sessionkeyring::fuzz::KeyCall;
using sessionkeyring::fuzz::Real;
using sessionkeyring::fuzz::Refuse;

extern "C" {

key_serial_t add_key(const char* type, const char* description,
                     const void* payload, size_t plen, key_serial_t ringid) {
  if (Refuse(KeyCall::kAddKey)) return -1;
  static auto* const real = Real<decltype(add_key)>("add_key");
  return real(type, description, payload, plen, ringid);
}

int keyctl_describe_alloc(key_serial_t id, char** buffer) {
  if (Refuse(KeyCall::kDescribe)) return -1;
  static auto* const real =
      Real<decltype(keyctl_describe_alloc)>("keyctl_describe_alloc");
  return real(id, buffer);
}

key_serial_t keyctl_get_keyring_ID(key_serial_t id, int create) {
  if (Refuse(KeyCall::kGetId)) return -1;
  static auto* const real =
      Real<decltype(keyctl_get_keyring_ID)>("keyctl_get_keyring_ID");
  return real(id, create);
}

long keyctl_get_persistent(uid_t uid, key_serial_t id) {
  if (Refuse(KeyCall::kPersistent)) return -1;
  static auto* const real =
      Real<decltype(keyctl_get_persistent)>("keyctl_get_persistent");
  return real(uid, id);
}

key_serial_t keyctl_join_session_keyring(const char* name) {
  if (Refuse(KeyCall::kJoin)) return -1;
  static auto* const real = Real<decltype(keyctl_join_session_keyring)>(
      "keyctl_join_session_keyring");
  return real(name);
}

long keyctl_link(key_serial_t id, key_serial_t ringid) {
  if (Refuse(KeyCall::kLink)) return -1;
  static auto* const real = Real<decltype(keyctl_link)>("keyctl_link");
  return real(id, ringid);
}

long keyctl_unlink(key_serial_t id, key_serial_t ringid) {
  if (Refuse(KeyCall::kUnlink)) return -1;
  static auto* const real = Real<decltype(keyctl_unlink)>("keyctl_unlink");
  return real(id, ringid);
}

long keyctl_revoke(key_serial_t id) {
  if (Refuse(KeyCall::kRevoke)) return -1;
  static auto* const real = Real<decltype(keyctl_revoke)>("keyctl_revoke");
  return real(id);
}

}  // extern "C"
