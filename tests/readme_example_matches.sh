#!/bin/sh
# The first C block of README.md must be examples/readme.c, word for word,
# so the program the README shows is the one that is built and run.
set -eu
src="$1"
awk '/^```c$/ {on=1; next} on && /^```$/ {exit} on {print}' "$src/README.md" > "${TMPDIR:-/tmp}/readme_block.$$.c"
if diff -u "$src/examples/readme.c" "${TMPDIR:-/tmp}/readme_block.$$.c"; then
  rm -f "${TMPDIR:-/tmp}/readme_block.$$.c"; echo "README example matches examples/readme.c"
else
  rm -f "${TMPDIR:-/tmp}/readme_block.$$.c"; echo "README example differs from examples/readme.c" >&2; exit 1
fi
