#!/bin/bash
# Usage: check_package.sh deb|rpm SOURCE_DIR
#
# Builds the Debian or the RPM package from a scratch copy of the source
# tree (packaging/build-deb or packaging/build-rpm, without the tests),
# unpacks it into a scratch root and checks what it installs: the module in
# the PAM module directory, mode 0644, exporting only the pam_sm_* entry
# points; the man page; for the .deb also the pam-auth-update profile and the
# maintainer scripts that register it, and no lintian error or warning; and
# nothing else outside the documentation directory. Leaves nothing behind. Exits 77 (reported as
# skipped) when the packaging tools or build dependencies are missing.
set -euo pipefail

kind=$1
src=$(cd "$2" && pwd)

skip() {
  echo "SKIP: $*"
  exit 77
}
failures=0
fail() {
  echo "FAIL: $*" >&2
  failures=$((failures + 1))
}
need() {
  local tool
  for tool in "$@"; do
    command -v "$tool" >/dev/null 2>&1 || skip "$tool is not installed"
  done
}

scratch=$(mktemp -d "${TMPDIR:-/tmp}/packaging-test.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
# The build scripts and lintian put their own temporary files here too.
export TMPDIR=$scratch
out=$scratch/out
root=$scratch/root
mkdir -p "$out" "$root"

build() {
  local script=$1
  if ! "$src/packaging/$script" --nocheck "$out" >"$scratch/build.log" 2>&1; then
    tail -n 60 "$scratch/build.log" >&2
    echo "FAIL: packaging/$script failed" >&2
    exit 1
  fi
}

# Compares a listing line "MODE OWNER PATH" against what it should be.
expect_entry() {
  local listing=$1 path=$2 mode=$3 owner=$4
  local line
  line=$(awk -v p="$path" '$3 == p' "$listing")
  if [ -z "$line" ]; then
    fail "$path is not in the package"
  elif [ "$line" != "$mode $owner $path" ]; then
    fail "$path: expected $mode $owner, got: $line"
  fi
}

# The files (not directories) the package installs outside /usr/share/doc.
expect_only_files() {
  local listing=$1
  shift
  local actual expected
  actual=$(awk '$1 !~ /^d/ && $3 !~ "^/usr/share/doc/" {print $3}' "$listing" | sort)
  expected=$(printf '%s\n' "$@" | sort)
  [ "$actual" = "$expected" ] ||
    fail "unexpected set of files; expected:
$expected
got:
$actual"
}

expect_exports() {
  local module=$1 actual
  actual=$(nm -D --defined-only "$module" | awk '{print $3}' | sort | tr '\n' ' ')
  [ "$actual" = "pam_sm_authenticate pam_sm_close_session pam_sm_open_session pam_sm_setcred " ] ||
    fail "$module exports: $actual"
}

expect_clean_man_page() {
  local page=$1 warnings
  command -v man >/dev/null 2>&1 || return 0
  warnings=$(MANWIDTH=80 man --warnings -l "$page" 2>&1 >/dev/null)
  [ -z "$warnings" ] || fail "man page warnings: $warnings"
}

check_deb() {
  need dpkg-buildpackage dpkg-checkbuilddeps dpkg-deb dpkg-architecture nm
  local unmet
  if ! unmet=$(dpkg-checkbuilddeps -P nocheck "$src/packaging/debian/control" 2>&1); then
    skip "build dependencies of the Debian package: $unmet"
  fi

  build build-deb
  local arch multiarch deb
  arch=$(dpkg-architecture -qDEB_HOST_ARCH)
  multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
  deb=$(ls "$out"/libpam-sessionkeyring_*_"$arch".deb)

  # "-rw-r--r-- root/root 240120 2026-12-03 14:00 ./usr/..." -> MODE OWNER PATH
  dpkg-deb --contents "$deb" |
    awk '{path = $6; sub(/^\./, "", path); print $1, $2, path}' >"$scratch/listing"
  local module=/usr/lib/$multiarch/security/pam_sessionkeyring.so
  local man_page=/usr/share/man/man8/pam_sessionkeyring.8.gz
  local profile=/usr/share/pam-configs/sessionkeyring
  expect_entry "$scratch/listing" "$module" -rw-r--r-- root/root
  expect_entry "$scratch/listing" "$man_page" -rw-r--r-- root/root
  expect_entry "$scratch/listing" "$profile" -rw-r--r-- root/root
  expect_only_files "$scratch/listing" "$module" "$man_page" "$profile" \
    /usr/share/lintian/overrides/libpam-sessionkeyring

  dpkg-deb --extract "$deb" "$root"
  expect_exports "$root$module"
  cmp -s "$root$profile" "$src/config/pam-configs/sessionkeyring" ||
    fail "$profile differs from config/pam-configs/sessionkeyring"
  gzip -dc "$root$man_page" >"$scratch/pam_sessionkeyring.8"
  expect_clean_man_page "$scratch/pam_sessionkeyring.8"

  [ "$(dpkg-deb --field "$deb" Multi-Arch)" = same ] || fail "not Multi-Arch: same"
  dpkg-deb --control "$deb" "$scratch/control"
  grep -q '^[[:space:]]*pam-auth-update --package$' "$scratch/control/postinst" ||
    fail "postinst does not run pam-auth-update --package"
  grep -q 'pam-auth-update --package --remove sessionkeyring' "$scratch/control/prerm" ||
    fail "prerm does not remove the profile"

  if command -v lintian >/dev/null 2>&1; then
    lintian --allow-root --pedantic -I -E "$deb" >"$scratch/lintian.log" 2>&1 || true
    if grep -q '^[EW]: ' "$scratch/lintian.log"; then
      fail "lintian reports errors or warnings: $(cat "$scratch/lintian.log")"
    fi
  fi
}

check_rpm() {
  need rpmbuild rpmspec rpm rpm2cpio cpio nm
  build build-rpm
  local rpm_file libdir mandir
  rpm_file=$(ls "$out"/pam_sessionkeyring-*.rpm)
  # Queries of a package file need no RPM database; a scratch one keeps
  # Debian's rpm from creating ~/.rpmdb.
  local db=(--dbpath "$scratch/rpmdb")
  mkdir -p "$scratch/rpmdb"
  libdir=$(rpm "${db[@]}" --eval '%{_libdir}')
  mandir=$(rpm "${db[@]}" --eval '%{_mandir}')

  # "-rw-r--r-- 1 root root 314184 Dec  3 14:10 /usr/..." -> MODE OWNER PATH
  rpm "${db[@]}" -qlvp "$rpm_file" | awk '{print $1, $3 "/" $4, $NF}' >"$scratch/listing"
  local module=$libdir/security/pam_sessionkeyring.so
  local man_page
  man_page=$(awk '$3 ~ "/man8/pam_sessionkeyring[.]8" {print $3}' "$scratch/listing")
  expect_entry "$scratch/listing" "$module" -rw-r--r-- root/root
  case $man_page in
    "$mandir/man8/pam_sessionkeyring.8" | "$mandir/man8/pam_sessionkeyring.8.gz")
      expect_entry "$scratch/listing" "$man_page" -rw-r--r-- root/root ;;
    *) fail "the man page is not in $mandir/man8: '$man_page'" ;;
  esac
  expect_only_files "$scratch/listing" "$module" "$man_page"

  (cd "$root" && rpm2cpio "$rpm_file" | cpio -idm --quiet)
  expect_exports "$root$module"
  case $man_page in
    *.gz) gzip -dc "$root$man_page" >"$scratch/pam_sessionkeyring.8" ;;
    *) cp "$root$man_page" "$scratch/pam_sessionkeyring.8" ;;
  esac
  expect_clean_man_page "$scratch/pam_sessionkeyring.8"
}

case $kind in
  deb) check_deb ;;
  rpm) check_rpm ;;
  *)
    echo "usage: $0 deb|rpm SOURCE_DIR" >&2
    exit 2
    ;;
esac

if [ "$failures" -gt 0 ]; then
  echo "$kind package: $failures check(s) failed" >&2
  exit 1
fi
echo "$kind package: module, man page$([ "$kind" = deb ] && echo ', pam-auth-update profile') and permissions as expected"
