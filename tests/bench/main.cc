// session_bench: the drivers of the performance benchmarks. tests/bench/run
// sets up the private namespace, the bench users and the PAM services and
// calls these subcommands; each can also be run alone inside such a setup.

#include <cstdio>
#include <cstring>
#include <string>

#include "benchmarks.h"

namespace {

constexpr char kUsage[] =
    "usage: session_bench COMMAND [--flag value]...\n"
    "\n"
    "  processes --user U --services label=service,... --baseline label\n"
    "            --pairs a/b,... [--rounds 20 --runs 20]\n"
    "      time whole `pamtester SERVICE U open_session close_session`\n"
    "      processes, every service in turn, and their peak RSS\n"
    "  cycles    --confdir D --user U --permit S --ours S --reference S\n"
    "            [--short 100 --long 1000 --short-handles 15\n"
    "             --long-handles 3]\n"
    "      open/close cycles on one handle, and the same kernel calls\n"
    "      without PAM\n"
    "  footprint --confdir D --user U --modules label=path,...\n"
    "            --services label=service,... [--pairs a/b,... --reps 15]\n"
    "      what dlopen of each module, and one session, add to a process\n"
    "  scale     --confdir D --user U --services label=service,...\n"
    "            --pair a/b [--workers 1,2,8 --millis 200 --slices 5\n"
    "             --mode inprocess|pamtester]\n"
    "      sessions per second with parallel worker processes\n"
    "  quota     --confdir D --user U --service S [--label L --limit 1000\n"
    "             --log-socket /dev/log]\n"
    "      sessions one user can hold open at once\n"
    "  forget    --uids U,... [--timeout-ms 10000]\n"
    "      invalidate the users' user and user-session keyrings (gid = uid)\n"
    "\n"
    "Every command takes --summary FILE: verdict lines are appended to it.\n";

}  // namespace

int main(int argc, char** argv) {
  using sessionkeyring::bench::Flags;
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0) {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  const std::string command = argv[1];
  const Flags flags(argc - 2, argv + 2);
  namespace bench = sessionkeyring::bench;
  if (command == "processes") return bench::RunProcesses(flags);
  if (command == "cycles") return bench::RunCycles(flags);
  if (command == "footprint") return bench::RunFootprint(flags);
  if (command == "probe") return bench::RunProbe(flags);
  if (command == "scale") return bench::RunScale(flags);
  if (command == "quota") return bench::RunQuota(flags);
  if (command == "forget") return bench::RunForget(flags);
  std::fprintf(stderr, "session_bench: unknown command %s\n%s", command.c_str(),
               kUsage);
  return 2;
}
