#!/bin/sh
# CTest's bench.smoke: session_bench with tiny counts, as whoever runs the
# tests and for that same user (so it needs no root and no namespace).
# It checks that the drivers work, never how fast anything is; the
# benchmarks themselves are tests/bench/run.
#   smoke.sh SESSION_BENCH MODULE
set -eu
bench=$1
module=$2

# A build chroot or container may have no usable keyrings (seccomp); the
# module copes, pam_keyinit with `force` does not.
if ! command -v keyctl >/dev/null || ! keyctl show @s >/dev/null 2>&1; then
  echo "bench smoke: no usable kernel keyrings here, skipped"
  exit 77
fi
keyinit=
for dir in /usr/lib/*/security /lib/*/security /usr/lib64/security \
  /usr/lib/security; do
  if [ -f "$dir/pam_keyinit.so" ]; then keyinit=$dir/pam_keyinit.so; fi
done
if [ -z "$keyinit" ]; then
  echo "bench smoke: pam_keyinit.so not found, skipped"
  exit 77
fi

confdir=$(mktemp -d)
trap 'rm -rf "$confdir"' EXIT
echo "# nothing" >"$confdir/other"
echo "session required pam_permit.so" >"$confdir/permit"
echo "session required $keyinit force revoke" >"$confdir/keyinit"
echo "session required $module force revoke" >"$confdir/ours"
user=$(id -un)

# Each run's report is shown only if it fails. The counts stay small also
# because a user's closed sessions keep their keyrings charged to the key
# quota (200 for a user other than root) until the kernel releases them.
run() {
  if ! report=$("$bench" "$@" 2>&1); then
    echo "bench smoke: session_bench $1 failed:"
    echo "$report"
    exit 1
  fi
}
run cycles --confdir "$confdir" --user "$user" --permit permit --ours ours \
  --reference keyinit --short 3 --long 6 --short-handles 1 --long-handles 1
run footprint --confdir "$confdir" --user "$user" --reps 1 \
  --modules "ours=$module,keyinit=$keyinit" --pairs ours/keyinit \
  --services "permit=permit,ours=ours"
run scale --mode inprocess --confdir "$confdir" --user "$user" \
  --services "permit=permit,ours=ours" --pair ours/permit --workers 1,2 \
  --millis 5 --slices 1
echo "bench smoke: cycles, footprint and scale ran"
