// Kernel refusals on demand for the whole-module fuzz target.
//
// The target defines the libkeyutils functions the module calls; each one
// forwards to the real library unless a fault is due, in which case it
// fails with the fault's errno without calling the kernel. So a script can
// make, say, the second keyctl_link of an open fail with EDQUOT, after the
// keyring was really joined, and the target checks what the module leaves
// behind. Faults apply only on the thread that armed them, only while a
// hook runs, and each fires once.

#ifndef SESSIONKEYRING_TESTS_FUZZ_TARGETS_KEYUTILS_FAULTS_H_
#define SESSIONKEYRING_TESTS_FUZZ_TARGETS_KEYUTILS_FAULTS_H_

#include <optional>
#include <string_view>

namespace sessionkeyring::fuzz {

enum class KeyCall {
  kAddKey,
  kDescribe,    // keyctl_describe_alloc
  kGetId,       // keyctl_get_keyring_ID
  kPersistent,  // keyctl_get_persistent
  kJoin,        // keyctl_join_session_keyring
  kLink,
  kUnlink,
  kRevoke,
  kAny,
};

// "link", "join"... or "any"; nullopt for another word.
std::optional<KeyCall> KeyCallNamed(std::string_view name);

// Makes the call after `skip` matching calls fail with `error_number`.
void ScheduleFault(KeyCall call, int error_number, unsigned skip);

// Drops every fault not fired yet, and the record of those that fired.
void ClearFaults();

// Faults fire only between Arm() and Disarm(), so that the target's own
// keyring calls are never refused.
void ArmFaults();
void DisarmFaults();

// Whether a fault with this errno fired since ClearFaults().
bool FaultFired(int error_number);

}  // namespace sessionkeyring::fuzz

#endif  // SESSIONKEYRING_TESTS_FUZZ_TARGETS_KEYUTILS_FAULTS_H_
