#include "machine_lock.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>

namespace sessionkeyring::testing {

std::string HoldMachineTestLock() {
  constexpr char kPath[] = "/run/lock/pam_sessionkeyring-tests.lock";
  // Deliberately never closed: the lock lasts as long as the process.
  const int fd = open(kPath, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return std::string("open ") + kPath + ": " + strerror(errno);
  while (flock(fd, LOCK_EX) != 0) {
    if (errno != EINTR) return std::string("flock: ") + strerror(errno);
  }
  return {};
}

}  // namespace sessionkeyring::testing
