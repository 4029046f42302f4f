#!/bin/bash
# Usage: check_pam_auth_update.sh PROFILE
#
# Runs pam-auth-update with the module's profile inside a private mount
# namespace, over scratch copies of /etc/pam.d, /usr/share/pam-configs,
# /var/lib/pam and debconf's database, so the real system is never touched.
# The profile is off by default, enabling it puts the module into
# common-session and common-session-noninteractive, and removing it takes the
# module out again. Needs root and Debian's pam-auth-update; otherwise
# exits 77 (skipped).
set -euo pipefail
profile=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")

readonly DIRS=(/etc/pam.d /usr/share/pam-configs /var/lib/pam /var/cache/debconf)

if [ "${SESSIONKEYRING_IN_NAMESPACE:-}" != 1 ]; then
  skip() {
    echo "SKIP: $*"
    exit 77
  }
  [ "$(id -u)" -eq 0 ] || skip "needs root"
  command -v pam-auth-update >/dev/null 2>&1 || skip "no pam-auth-update"
  command -v unshare >/dev/null 2>&1 || skip "no unshare"
  for dir in "${DIRS[@]}"; do
    [ -d "$dir" ] || skip "no $dir"
  done
  SESSIONKEYRING_IN_NAMESPACE=1 exec unshare --mount -- \
    bash "${BASH_SOURCE[0]}" "$profile"
fi

# From here on, inside the private mount namespace.
mount --make-rprivate /
scratch=$(mktemp -d "${TMPDIR:-/tmp}/pam-auth-update-test.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
for dir in "${DIRS[@]}"; do
  mkdir -p "$scratch$dir"
  cp -a "$dir/." "$scratch$dir/"
  mount --bind "$scratch$dir" "$dir"
done
cp "$profile" /usr/share/pam-configs/sessionkeyring
export DEBIAN_FRONTEND=noninteractive

failures=0
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}
# The module's line in a common-* file, or nothing.
module_line() {
  grep -E '^session[[:space:]].*pam_sessionkeyring[.]so' "/etc/pam.d/$1" || true
}

pam-auth-update --package
for file in common-session common-session-noninteractive; do
  [ -z "$(module_line "$file")" ] || fail "enabled by default in $file"
done

pam-auth-update --enable sessionkeyring
for file in common-session common-session-noninteractive; do
  line=$(module_line "$file" | tr -s '[:space:]' ' ' | sed 's/ $//')
  [ "$line" = "session optional pam_sessionkeyring.so" ] ||
    fail "$file has '$line' after --enable"
done

pam-auth-update --package --remove sessionkeyring
for file in common-session common-session-noninteractive; do
  [ -z "$(module_line "$file")" ] || fail "still in $file after --remove"
done

if [ "$failures" -gt 0 ]; then
  exit 1
fi
echo "pam-auth-update: off by default, enabled into both common-session files, removed cleanly"
