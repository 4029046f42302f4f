// The nine libkeyutils functions the core calls, as raw system calls, for
// a build of the module that needs no libkeyutils.so.
//
// Why: the question is what linking libkeyutils statically would save a
// host that loads the module, but Debian's libkeyutils.a cannot go into a
// shared object (it is built for executables: its code reaches `stderr`
// with a PC-relative relocation, not through the GOT). These functions are
// what the linker would have taken from the archive, written here from
// keyctl(2) so that the bench can measure a module without the dependency.
// They are linked only into bench_module_keyutils_inside, never into the
// real module.

#include <errno.h>
#include <keyutils.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>

namespace {

long Keyctl(int operation, unsigned long a, unsigned long b = 0,
            unsigned long c = 0) {
  return syscall(SYS_keyctl, operation, a, b, c, 0UL);
}

// Key serials and user IDs travel as the kernel's unsigned long arguments;
// negative special IDs such as @s sign-extend, which the kernel expects.
unsigned long Arg(long value) { return static_cast<unsigned long>(value); }

}  // namespace

key_serial_t keyctl_get_keyring_ID(key_serial_t id, int create) {
  return static_cast<key_serial_t>(
      Keyctl(KEYCTL_GET_KEYRING_ID, Arg(id), Arg(create)));
}

key_serial_t keyctl_join_session_keyring(const char* name) {
  return static_cast<key_serial_t>(
      Keyctl(KEYCTL_JOIN_SESSION_KEYRING, reinterpret_cast<uintptr_t>(name)));
}

key_serial_t add_key(const char* type, const char* description,
                     const void* payload, size_t length, key_serial_t ringid) {
  return static_cast<key_serial_t>(
      syscall(SYS_add_key, type, description, payload, length, Arg(ringid)));
}

long keyctl_setperm(key_serial_t id, key_perm_t perm) {
  return Keyctl(KEYCTL_SETPERM, Arg(id), perm);
}

long keyctl_revoke(key_serial_t id) { return Keyctl(KEYCTL_REVOKE, Arg(id)); }

long keyctl_link(key_serial_t id, key_serial_t ringid) {
  return Keyctl(KEYCTL_LINK, Arg(id), Arg(ringid));
}

long keyctl_unlink(key_serial_t id, key_serial_t ringid) {
  return Keyctl(KEYCTL_UNLINK, Arg(id), Arg(ringid));
}

long keyctl_get_persistent(uid_t uid, key_serial_t id) {
  return Keyctl(KEYCTL_GET_PERSISTENT, uid, Arg(id));
}

// KEYCTL_DESCRIBE reports the full length even when the buffer is too
// small, so ask, allocate, and ask again until the text fits: the key can
// be changed in between.
int keyctl_describe_alloc(key_serial_t id, char** buffer) {
  long size = Keyctl(KEYCTL_DESCRIBE, Arg(id));
  if (size < 0) return -1;
  for (;;) {
    char* text = static_cast<char*>(malloc(static_cast<size_t>(size)));
    if (text == nullptr) return -1;
    const long needed = Keyctl(KEYCTL_DESCRIBE, Arg(id),
                               reinterpret_cast<uintptr_t>(text), Arg(size));
    if (needed < 0) {
      const int error = errno;
      free(text);
      errno = error;
      return -1;
    }
    if (needed <= size) {
      // The kernel's length counts the terminating NUL.
      *buffer = text;
      return static_cast<int>(needed - 1);
    }
    free(text);
    size = needed;
  }
}
