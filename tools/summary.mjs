// Prints the closing summary of `npm test` from the Vitest and Playwright JSON reports: one line per runner, then
// "Tests: N passed, N failed[, N skipped]". Exits non-zero when a report is missing or anything failed.
import { existsSync, readFileSync } from 'node:fs';

let passed = 0, failed = 0, skipped = 0, missing = false;
for (const file of process.argv.slice(2)) {
  if (!existsSync(file)) { console.log(`${file}: missing (runner did not finish)`); missing = true; continue; }
  const r = JSON.parse(readFileSync(file, 'utf8'));
  let p = 0, f = 0, s = 0;
  if ('numPassedTests' in r) { // Vitest (Jest-compatible JSON)
    p = r.numPassedTests; f = r.numFailedTests + (r.numRuntimeErrorTestSuites ?? 0); s = r.numPendingTests + (r.numTodoTests ?? 0);
    if (r.success === false && f === 0) f = 1; // e.g. an unhandled error outside tests
  } else if (r.stats) { // Playwright
    p = r.stats.expected + (r.stats.flaky ?? 0); f = r.stats.unexpected; s = r.stats.skipped;
    if ((r.errors ?? []).length && f === 0) f = r.errors.length;
  }
  console.log(`${file}: ${p} passed, ${f} failed, ${s} skipped`);
  passed += p; failed += f; skipped += s;
}
console.log(`Tests: ${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed || missing ? 1 : 0);
