#!/usr/bin/env bash
# Any CI system: run a workload on a throwaway local cluster and fail the build when a job fails.
# As root, from a checkout of Corral (or with `corral` on PATH). Usage: run-workload.sh CONFIG JOB...
set -euo pipefail
config=$1; shift
bash scripts/setup.sh >/dev/null
export PATH="$PWD/.venv/bin:$PATH"
mkdir -p results
# corral run deletes the cluster on success, failure, timeout and signals, and exits with the first
# failing job's exit code; the cluster's time-to-live covers a runner that is killed outright.
corral run -c "$config" "$@" --timeout 30m --collect '**/*.out' --to results --junit results/junit.xml
