// Manual check of HubClient's Cache Storage path in real (headless) Chromium, which Node's tests can't cover:
// an aborted download leaves no cache entry, a complete load is cached, a second load works offline.
//   npx tsx tests/hub/browser/cache-check.mts        (needs /usr/bin/chromium, or CHROMIUM=/path)
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { chromium } from 'playwright-core';
import { startHubServer } from '../../../tools/hub-server.mjs';
import { parseConfig } from '../../../src/hub/config';
import { expectedTensors } from '../../../src/hub/weights';
import { writeSafetensors } from '../st-writer';
import { tinyTokenizerJson } from '../tiny-tokenizer';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = mkdtempSync(path.join(tmpdir(), 'hub-browser-'));
const put = (rel: string, data: string | Uint8Array) => {
  const p = path.join(root, rel);
  mkdirSync(path.dirname(p), { recursive: true });
  writeFileSync(p, data);
};
const cfg = { model_type: 'mamba', hidden_size: 16, state_size: 4, num_hidden_layers: 2, expand: 2, conv_kernel: 4, vocab_size: 272 };
const c = parseConfig(cfg);
put('test-org/tiny-mamba/config.json', JSON.stringify(cfg));
put('test-org/tiny-mamba/tokenizer.json', JSON.stringify(tinyTokenizerJson()));
put('test-org/tiny-mamba/model.safetensors', writeSafetensors([...expectedTensors(c)].filter(([, s]) => !s.optional).map(([name, s]) => ({ name, dtype: 'F32' as const, shape: s.shape }))));
put('test-org/big/model.safetensors', writeSafetensors([{ name: 'w', dtype: 'F32', shape: [1 << 20], data: new Float32Array(1 << 20) }]));
put('index.html', '<!doctype html><script src="bundle.js"></script>');
await build({ entryPoints: [path.join(here, 'cache-entry.ts')], bundle: true, format: 'iife', outfile: path.join(root, 'bundle.js'), logLevel: 'error' });
const srv = await startHubServer({ root });
const browser = await chromium.launch({ executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium', args: ['--no-sandbox'] });
let ok = false;
try {
  const page = await browser.newPage();
  page.on('console', (m) => console.log('console:', m.text()));
  await page.goto(`${srv.url}/index.html`);
  const res = await page.evaluate((b) => (globalThis as unknown as { runHubChecks: (b: string) => Promise<Record<string, unknown>> }).runHubChecks(b), srv.url);
  console.log(JSON.stringify(res, null, 1));
  ok = res.caching === true && String(res.abort).startsWith('AbortError') && res.abortCacheWrite === false &&
    (res.afterAbortKeys as unknown[]).length === 0 && res.secondFromCache === true && res.sameNames === true && res.bigLen === res.bigCachedLen;
} finally {
  await browser.close();
  await srv.close();
  rmSync(root, { recursive: true, force: true });
}
console.log(ok ? 'browser cache check: OK' : 'browser cache check: FAILED');
process.exit(ok ? 0 : 1);
