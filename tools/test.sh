#!/usr/bin/env bash
# The one test command (`npm test`): installs what is missing, type-checks, runs the kernel/unit tests on real
# WebGPU (Dawn in Node, SwiftShader without a GPU), builds the page and runs the e2e tests in Chromium, then prints
# one summary line "Tests: N passed, N failed". Exit code is non-zero if anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."
bash tools/setup.sh || exit 1
mkdir -p reports   # not test-results/: Playwright empties that folder when it starts
rm -f reports/*.json   # a runner that does not finish leaves no report (the summary counts it as failed)
rc=0
echo "== typecheck"; npx tsc --noEmit -p tsconfig.json || rc=1
echo "== unit + kernel tests (Vitest, Dawn/WebGPU in Node)"
bash tools/webgpu-env.sh npx vitest run --reporter=default --reporter=json --outputFile.json=reports/vitest.json || rc=1
echo "== build"; npx vite build --logLevel warn || rc=1
# Two Chromium workers, then the tests tagged @alone (they time the page) with the machine to themselves. Two workers
# overlap one page's single-threaded work (SwiftShader compiling a pipeline, the page's JS) with another's.
echo "== e2e (Playwright, Chromium/WebGPU): two workers"
PLAYWRIGHT_JSON_OUTPUT_NAME=reports/e2e.json bash tools/webgpu-env.sh npx playwright test --workers=2 --grep-invert @alone --reporter=list,json || rc=1
echo "== e2e: the timing tests (@alone), one worker"
PLAYWRIGHT_JSON_OUTPUT_NAME=reports/e2e-alone.json bash tools/webgpu-env.sh npx playwright test --workers=1 --grep @alone --output=test-results/alone --reporter=list,json || rc=1
node tools/summary.mjs reports/vitest.json reports/e2e.json reports/e2e-alone.json || rc=1
exit $rc
