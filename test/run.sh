#!/usr/bin/env bash
# Runs the whole suite with bun test and ends with the plain "N passed, N failed" line.
# Test files run one after another: they create namespaces and kernel objects, and the
# machine has two cores.
set -uo pipefail
cd "$(dirname "$0")/.."
log=$(mktemp)
node_modules/.bin/bun test --timeout 120000 "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
pass=$(grep -Eo '^ *[0-9]+ pass$' "$log" | tail -1 | grep -Eo '[0-9]+' || echo 0)
fail=$(grep -Eo '^ *[0-9]+ fail$' "$log" | tail -1 | grep -Eo '[0-9]+' || echo 0)
rm -f "$log"
echo "${pass:-0} passed, ${fail:-0} failed"
if [ "$rc" -eq 0 ] && [ "${pass:-0}" -eq 0 ]; then echo "no test ran"; exit 1; fi
exit "$rc"
