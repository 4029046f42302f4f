// The system call numbers that change or read one thread's IDs.
//
// glibc's wrappers change the IDs of every thread of the process; the raw
// calls change only the caller's (see credentials.h). On 32-bit x86 and ARM
// the plain calls take 16-bit IDs and the *32 variants full ones.

#ifndef SESSIONKEYRING_LIB_THREAD_ID_SYSCALLS_H_
#define SESSIONKEYRING_LIB_THREAD_ID_SYSCALLS_H_

#include <sys/syscall.h>

namespace sessionkeyring::thread_ids {

#ifdef SYS_setresuid32
inline constexpr long kSetresuid = SYS_setresuid32;
inline constexpr long kSetresgid = SYS_setresgid32;
inline constexpr long kGetresuid = SYS_getresuid32;
inline constexpr long kGetresgid = SYS_getresgid32;
inline constexpr long kSetfsuid = SYS_setfsuid32;
inline constexpr long kSetfsgid = SYS_setfsgid32;
#else
inline constexpr long kSetresuid = SYS_setresuid;
inline constexpr long kSetresgid = SYS_setresgid;
inline constexpr long kGetresuid = SYS_getresuid;
inline constexpr long kGetresgid = SYS_getresgid;
inline constexpr long kSetfsuid = SYS_setfsuid;
inline constexpr long kSetfsgid = SYS_setfsgid;
#endif

}  // namespace sessionkeyring::thread_ids

#endif  // SESSIONKEYRING_LIB_THREAD_ID_SYSCALLS_H_
