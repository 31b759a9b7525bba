#!/usr/bin/env bash
# Runs the vault's criterion benchmarks and writes docs/benchmarks.md, each
# figure next to the baseline measured in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo bench -p latchkey-vault --bench vault -- --noplot "$@"
python3 scripts/bench-report.py
echo "wrote docs/benchmarks.md"
