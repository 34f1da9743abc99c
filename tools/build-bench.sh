#!/usr/bin/env bash
# Bundles the Node benchmark CLIs into dist-bench/{kernels-cli,bench-cli}.mjs (self-contained but for `webgpu`).
set -euo pipefail
cd "$(dirname "$0")/.."
rm -rf dist-bench
for e in kernels-cli bench-cli; do BENCH_ENTRY=$e npx vite build -c tools/vite.bench.config.ts --logLevel warn; done
ls -la dist-bench
