#!/usr/bin/env bash
# Every test, in two pytest processes side by side: the end-to-end suite (one Airflow,
# much of its time spent waiting on the scheduler and on Spark start-ups) and all the
# others. On 2 cores this takes about the time of the longer of the two, not their sum.
# Arguments go to both pytest processes. The end-to-end output is printed when both end.
set -uo pipefail
logs="var/test-logs"
mkdir -p "$logs"
pytest -ra --durations=10 tests/e2e "$@" >"$logs/e2e.log" 2>&1 &
e2e=$!
trap 'kill "$e2e" 2>/dev/null' EXIT INT TERM
pytest -ra --durations=15 --ignore=tests/e2e "$@"
others=$?
wait "$e2e"
e2e_status=$?
trap - EXIT INT TERM
echo
echo "==================== tests/e2e (ran alongside; also in $logs/e2e.log) ===================="
cat "$logs/e2e.log"
echo "exit status: tests/e2e $e2e_status, the others $others"
[ "$others" -eq 0 ] && [ "$e2e_status" -eq 0 ]
