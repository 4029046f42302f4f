// forget_fuzz_users: drops the keyrings the kernel keeps for the fuzz users
// (fuzz_users.h) and checks that they own no key any more. tools/fuzz runs
// it after the whole-module target, which does the same at a normal exit
// but cannot after a crash.

#include <unistd.h>

#include <cstdio>
#include <string>

#include "fuzz_users.h"

int main() {
  if (geteuid() != 0) {
    std::fprintf(stderr, "forget_fuzz_users: needs root\n");
    return 1;
  }
  const std::string left = sessionkeyring::fuzz::ForgetFuzzUsersKeys();
  if (!left.empty()) {
    std::fprintf(stderr, "forget_fuzz_users: keys left behind:\n%s",
                 left.c_str());
    return 1;
  }
  return 0;
}
