#!/usr/bin/env bash
# Spark GPU discovery script: the addresses of this host's GPUs, as Spark expects them.
set -euo pipefail
addresses=$(nvidia-smi --query-gpu=index --format=csv,noheader | sed -e 's/^/"/' -e 's/$/"/' | paste -sd, -)
echo "{\"name\": \"gpu\", \"addresses\": [${addresses}]}"
