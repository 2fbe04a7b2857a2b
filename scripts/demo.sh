#!/usr/bin/env bash
# The main job: set up (idempotently), create a local cluster from examples/demo.yaml, run a 2-node
# batch job on it, show the job's output, and delete the cluster (also on failure or Ctrl-C).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"
name="${CORRAL_DEMO_NAME:-corral-demo}"

cleanup() {
  echo "== delete-cluster -n $name"
  corral delete-cluster -n "$name" --wait >/dev/null || true
}

if corral describe-cluster -n "$name" >/dev/null 2>&1; then
  echo "== a cluster named $name is left from an earlier run: deleting it first"
  cleanup
fi

echo "== create-cluster -c examples/demo.yaml -n $name --wait"
corral create-cluster -c examples/demo.yaml -n "$name" --wait --output table
trap cleanup EXIT

echo "== sinfo on the head node"
corral ssh -n "$name" -- sinfo

echo "== sbatch examples/hello.sbatch (2 nodes: the static node and a dynamic node that powers up)"
job=$(corral ssh -n "$name" -- sbatch --parsable < examples/hello.sbatch)
echo "job $job submitted"
for _ in $(seq 1 240); do
  [ -z "$(corral ssh -n "$name" -- squeue -h -j "$job" 2>/dev/null)" ] && break
  sleep 0.5
done
state=$(corral ssh -n "$name" -- scontrol -o show job "$job" | grep -o 'JobState=[A-Z_]*' || true)
echo "job $job finished: ${state:-JobState=unknown}"

echo "== job output (hello-$job.out in the default user's home, shared by every node)"
corral ssh -n "$name" -- cat "hello-$job.out"

echo "== describe-cluster-instances"
corral describe-cluster-instances -n "$name" --output table
