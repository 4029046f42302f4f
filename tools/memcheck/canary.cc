// A PAM module with one deliberate memory fault, for tools/sanitize and
// tools/valgrind to prove on each run that a fault of a module loaded by a
// real PAM client reaches them: through their launcher, past their
// suppressions, to a failing exit code and a report that names this file.
// Built by those tools alone, never installed.
//
//   session required /path/canary.so leak|overflow|undefined
//
// open_session commits the fault its one argument names; without one it
// does nothing. Everything else succeeds and does nothing.

#include <security/pam_modules.h>

#include <climits>
#include <cstdlib>
#include <cstring>

namespace {

// Kept out of line so that the allocation has a frame of this module's
// above it, as an allocation of the real module's does.
[[gnu::noinline]] char* CopyOf(const char* text) { return strdup(text); }

// The compiler must not see that the allocation is never used.
char* volatile sink;

// A volatile operand, so that the overflow happens at run time.
volatile int near_max = INT_MAX;

void Fault(const char* kind) {
  if (std::strcmp(kind, "leak") == 0) {
    sink = CopyOf("leaked by the canary module");
    sink = nullptr;
  } else if (std::strcmp(kind, "overflow") == 0) {
    // Volatile, or the store, dead once the block is freed, goes away.
    volatile char* block = CopyOf("0123456");
    block[8] = 'x';  // one past the end of the 8-byte block
    std::free(const_cast<char*>(block));
  } else if (std::strcmp(kind, "undefined") == 0) {
    sink = reinterpret_cast<char*>(static_cast<long>(near_max + 1));
  }
}

}  // namespace

extern "C" {

__attribute__((visibility("default"))) int pam_sm_open_session(
    pam_handle_t* /*handle*/, int /*flags*/, int argc, const char** argv) {
  if (argc > 0) Fault(argv[0]);
  return PAM_SUCCESS;
}

__attribute__((visibility("default"))) int pam_sm_close_session(
    pam_handle_t* /*handle*/, int /*flags*/, int /*argc*/,
    const char** /*argv*/) {
  return PAM_SUCCESS;
}

__attribute__((visibility("default"))) int pam_sm_setcred(
    pam_handle_t* /*handle*/, int /*flags*/, int /*argc*/,
    const char** /*argv*/) {
  return PAM_SUCCESS;
}

__attribute__((visibility("default"))) int pam_sm_authenticate(
    pam_handle_t* /*handle*/, int /*flags*/, int /*argc*/,
    const char** /*argv*/) {
  return PAM_SUCCESS;
}

}  // extern "C"
