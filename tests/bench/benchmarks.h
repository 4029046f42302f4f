// The benchmarks session_bench runs, one per subcommand. Each prints its
// part of the report on stdout; main.cc lists their flags.

#ifndef SESSIONKEYRING_TESTS_BENCH_BENCHMARKS_H_
#define SESSIONKEYRING_TESTS_BENCH_BENCHMARKS_H_

#include "common.h"

namespace sessionkeyring::bench {

// (1) Whole pamtester processes, each service in turn.
int RunProcesses(const Flags& flags);
// (2) and (3) Open/close cycles on one handle, and the kernel calls alone.
int RunCycles(const Flags& flags);
// (4) What loading a module adds to a process.
int RunFootprint(const Flags& flags);
// One measurement of RunFootprint() in a fresh process: `--dlopen PATH`, or
// `--confdir D --service S --user U` for one session; results on stdout.
int RunProbe(const Flags& flags);
// (5) Sessions per second with parallel workers.
int RunScale(const Flags& flags);
// (5) How many sessions one user can hold open under the key quota.
int RunQuota(const Flags& flags);
// Forgets the bench users' user and user-session keyrings.
int RunForget(const Flags& flags);

}  // namespace sessionkeyring::bench

#endif  // SESSIONKEYRING_TESTS_BENCH_BENCHMARKS_H_
