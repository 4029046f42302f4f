#!/bin/sh
# Every C++ source must be as clang-format (Google style, see .clang-format)
# leaves it.
set -eu
cd "$1"
files=$(find lib pam_module tests -name '*.cc' -o -name '*.h' | sort)
# shellcheck disable=SC2086
clang-format --dry-run --Werror $files
echo "format: $(echo "$files" | wc -w) files clean"
