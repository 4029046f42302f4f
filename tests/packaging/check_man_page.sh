#!/bin/sh
# Usage: check_man_page.sh PAGE
#
# The man page must render without a single warning, both through man-db
# (groff with all warnings on, as lintian runs it) and, where it is
# installed, through mandoc's linter. Exits 77 (skipped) without man-db.
set -eu
page=$1
command -v man >/dev/null 2>&1 || { echo "SKIP: man is not installed"; exit 77; }

status=0
warnings=$(MANWIDTH=80 man --warnings -l "$page" 2>&1 >/dev/null)
if [ -n "$warnings" ]; then
  echo "man --warnings:" >&2
  echo "$warnings" >&2
  status=1
fi
if command -v mandoc >/dev/null 2>&1; then
  if ! mandoc -T lint -W all "$page" >&2; then
    status=1
  fi
fi
[ "$status" -eq 0 ] && echo "man page: no warnings"
exit "$status"
