#!/usr/bin/env bash
# Set up (idempotently) and run every check: lint, format, types, layering, then the tests,
# the end-to-end ones included (they create real local Slurm clusters; they need root). Work
# stealing: a worker that runs out of tests takes some of the other's, so the slow end-to-end
# tail is not left to one worker while the other idles.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"
echo "== ruff";        ruff check src tests bench scripts
echo "== ruff format"; ruff format --check src tests bench scripts
echo "== mypy";        mypy
echo "== import-linter"; lint-imports
echo "== pytest"
exec pytest -n 2 --dist worksteal -p no:cacheprovider "$@"
