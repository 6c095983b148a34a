#!/usr/bin/env bash
# Every test, in two pytest processes side by side: the end-to-end suite (one Airflow,
# much of its time spent waiting on the scheduler and on Spark start-ups) and all the
# others. On 2 cores this takes about the time of the longer of the two, not their sum.
# Arguments go to both pytest processes. The end-to-end output is printed when both end,
# then each suite's time.
set -uo pipefail
logs="var/test-logs"
mkdir -p "$logs"
started="$(date +%s)"
pytest -ra --durations=10 tests/e2e "$@" >"$logs/e2e.log" 2>&1 &
e2e=$!
trap 'kill "$e2e" 2>/dev/null' EXIT INT TERM
pytest -ra --durations=25 --ignore=tests/e2e "$@"
others=$?
others_ended="$(date +%s)"
wait "$e2e"
e2e_status=$?
trap - EXIT INT TERM
e2e_ended="$(stat -c %Y "$logs/e2e.log")"  # its last line was written as it ended
echo
echo "==================== tests/e2e (ran alongside; also in $logs/e2e.log) ===================="
cat "$logs/e2e.log"
took() { printf '%d min %02d s' $((($1 - started) / 60)) $((($1 - started) % 60)); }
echo "suite times: tests/e2e $(took "$e2e_ended"), the others $(took "$others_ended"), both $(took "$(date +%s)")"
echo "exit status: tests/e2e $e2e_status, the others $others"
[ "$others" -eq 0 ] && [ "$e2e_status" -eq 0 ]
