import { expect, test, type APIRequestContext, type Page } from '@playwright/test';
import { readFileSync } from 'node:fs';

const shot = (page: Page, name: string) => page.screenshot({ path: `test-results/screens/${name}.png`, fullPage: true });

/** Opens the page and waits for the GPU self-test. The demo pair loads by itself on first open; tests that need no
 *  models pass autoload = false (?autoload=0) so that no load runs in the background. */
async function ready(page: Page, url = '/', autoload = false) {
  await page.goto(autoload ? url : `${url}${url.includes('?') ? '&' : '?'}autoload=0`);
  await expect(page.getByTestId('selftest')).toHaveAttribute('data-ok', 'true');
}

/** The demo models are served only once they are trained and committed (vite preview answers unknown paths with the page). */
async function demoModelsServed(request: APIRequestContext): Promise<boolean> {
  for (const dir of ['demo-mamba', 'demo-pythia']) {
    const r = await request.get(`/models/${dir}/config.json`);
    if (!r.ok()) return false;
    try {
      const j = (await r.json()) as Record<string, unknown>;
      if (typeof j.model_type !== 'string' && !Array.isArray(j.architectures)) return false;
    } catch {
      return false;
    }
  }
  return true;
}

/** The demo pair loads on first open with no click: wait for both models. */
async function loadDemo(page: Page) {
  for (const slot of ['slot-mamba', 'slot-transformer']) {
    const el = page.getByTestId(slot);
    await expect(el).toHaveAttribute('data-status', /ready|error/, { timeout: 120_000 });
    if ((await el.getAttribute('data-status')) === 'error') throw new Error(`${slot} failed to load: ${await el.innerText()}`);
  }
}

test.describe('page structure (no models needed)', () => {
  test('the tool renders: header, model picker, toolbar and every tab', async ({ page }) => {
    await ready(page);
    await expect(page.getByRole('heading', { name: 'Mamba vs Transformer' })).toBeVisible();
    await expect(page.getByTestId('models-card')).toBeVisible();
    await expect(page.getByTestId('pair-demo')).toHaveAttribute('aria-checked', 'true');
    await expect(page.getByTestId('pair-130m')).toContainText('Pythia 160M');
    // what the demo pair can do: held-out loss and passkey accuracy by length, from the committed recall-lab run
    await expect(page.getByTestId('demo-results')).toContainText('Passkey 8k');
    await expect(page.getByTestId('demo-results-transformer').locator('td')).toHaveCount(9);
    await expect(page.getByTestId('demo-results-mamba')).toContainText('%');
    await expect(page.getByTestId('panel-compare')).toBeVisible();
    await shot(page, 'compare-empty');
    for (const tab of ['scaling', 'recall', 'claims', 'benchmarks'] as const) {
      await page.getByTestId(`tab-${tab}`).click();
      await expect(page.getByTestId(`panel-${tab}`)).toBeVisible();
      await expect(page.getByTestId(`tab-${tab}`)).toHaveAttribute('aria-selected', 'true');
      await shot(page, `${tab}-empty`);
    }
    await expect(page.getByTestId('bench-tab')).toBeVisible();
  });

  test('the Benchmarks tab charts the committed H200 results', async ({ page }) => {
    await ready(page, '/?tab=benchmarks');
    await expect(page.getByTestId('bench-tab')).toBeVisible();
    await expect(page.getByTestId('bench-device')).toContainText('H200');
    await expect(page.getByTestId('bench-device')).toContainText('docs/benchmarks.md');
    for (const id of ['models-prefill', 'models-decode', 'models-memory', 'scan', 'attention']) {
      const chart = page.getByTestId(`bench-chart-${id}`);
      await expect(chart).toBeVisible();
      expect(Number(await chart.getAttribute('data-points'))).toBeGreaterThan(0);
      await expect(chart.locator('.recharts-surface').first()).toBeVisible();
      expect(await chart.locator('.recharts-line').count()).toBeGreaterThan(0);
    }
    // decode: each of the four models with f32 and with f16 weights
    expect(await page.getByTestId('bench-chart-models-decode').locator('.recharts-line').count()).toBeGreaterThanOrEqual(8);
    await shot(page, 'benchmarks');
  });

  test('a narrow screen gets a one-column layout', async ({ page }) => {
    await page.setViewportSize({ width: 420, height: 900 });
    await ready(page);
    await expect(page.getByTestId('panel-compare')).toBeVisible();
    const a = await page.getByTestId('output-card-mamba').boundingBox();
    const b = await page.getByTestId('output-card-transformer').boundingBox();
    expect(b!.y).toBeGreaterThan(a!.y + a!.height - 1);
    await shot(page, 'narrow');
  });

  test('settings live in the URL: a shared link restores them', async ({ page }) => {
    await ready(page, '/?tab=scaling&scan=sequential&sweepMax=2048');
    await expect(page.getByTestId('panel-scaling')).toBeVisible();
    await expect(page.getByTestId('toggle-scan').getByRole('radio', { name: 'Sequential' })).toHaveAttribute('aria-checked', 'true');
    await expect(page.getByTestId('sweep-max')).toHaveValue('2048');
    await page.getByTestId('toggle-attn').getByRole('radio', { name: 'Reference' }).click();
    await page.getByTestId('toggle-arch').getByRole('radio', { name: 'Mamba' }).click();
    await expect(page).toHaveURL(/attn=reference/);
    await expect(page).toHaveURL(/arch=mamba/);
    await page.reload();
    await expect(page.getByTestId('selftest')).toHaveAttribute('data-ok', 'true');
    await expect(page.getByTestId('toggle-attn').getByRole('radio', { name: 'Reference' })).toHaveAttribute('aria-checked', 'true');
    await expect(page.getByTestId('toggle-scan').getByRole('radio', { name: 'Sequential' })).toHaveAttribute('aria-checked', 'true');
    await expect(page.getByTestId('panel-scaling')).toBeVisible();
    // One architecture: the charts and outputs show only that model.
    await page.getByTestId('tab-compare').click();
    await expect(page.getByTestId('output-card-mamba')).toBeVisible();
    await expect(page.getByTestId('output-card-transformer')).toHaveCount(0);
  });

  test('kernel toggles switch and stay switched', async ({ page }) => {
    await ready(page);
    for (const name of ['Unfused', 'Sequential', 'Fused']) {
      await page.getByTestId('toggle-scan').getByRole('radio', { name, exact: true }).click();
      await expect(page.getByTestId('toggle-scan').getByRole('radio', { name, exact: true })).toHaveAttribute('aria-checked', 'true');
    }
    await page.getByTestId('toggle-attn').getByRole('radio', { name: 'Reference' }).click();
    await expect(page).toHaveURL(/attn=reference/);
    await page.getByTestId('toggle-attn').getByRole('radio', { name: 'Flash' }).click();
    await expect(page).not.toHaveURL(/attn=/);
  });

  test('bad pastes get a clear message, and pasted text is shown as text only', async ({ page }) => {
    await ready(page, '/?tab=recall');
    await expect(page.getByTestId('doc-check')).toHaveAttribute('data-ok', 'true'); // the bundled document
    await page.getByTestId('doc-select').selectOption('pasted');
    const doc = page.getByTestId('doc-text');
    await doc.fill('');
    await expect(page.getByTestId('doc-check')).toContainText('empty');
    await doc.fill('   \n\n  ');
    await expect(page.getByTestId('doc-check')).toContainText('empty');
    await doc.fill('PK\u0003\u0004\u0014\u0000\u0008\u0000 binary \u0001\u0002 junk');
    await expect(page.getByTestId('doc-check')).toContainText('binary');
    await expect(page.getByTestId('run-recall')).toBeDisabled();
    await shot(page, 'bad-paste-binary');
    // Longer than the largest context (no model loaded: estimated at ~4 characters per token).
    await page.evaluate(() => {
      const ta = document.querySelector('[data-testid="doc-text"]') as HTMLTextAreaElement;
      const setter = Object.getOwnPropertyDescriptor(HTMLTextAreaElement.prototype, 'value')!.set!;
      setter.call(ta, 'All work and no play makes Jack a dull boy. '.repeat(14_000));
      ta.dispatchEvent(new Event('input', { bubbles: true }));
    });
    await expect(page.getByTestId('doc-check')).toContainText('tokens');
    await expect(page.getByTestId('doc-check')).toContainText('131,072');
    await shot(page, 'bad-paste-too-long');
    // HTML in a paste stays text.
    const html = '<img src=x onerror="window.__pwned=1"><b>bold?</b> ' + 'Some ordinary words to make the document long enough. '.repeat(8);
    await doc.fill(html);
    await expect(doc).toHaveValue(html);
    await expect(page.getByTestId('doc-check')).toHaveAttribute('data-ok', 'true');
    expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined();
    await expect(page.locator('img[src="x"]')).toHaveCount(0);
    await expect(page.getByRole('alert')).toHaveCount(0);
  });

  test('export JSON and CSV with no runs yet', async ({ page }) => {
    await ready(page);
    const [dl] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-json').click()]);
    expect(dl.suggestedFilename()).toMatch(/^mamba-vs-transformer-.*\.json$/);
    const json = JSON.parse(readFileSync((await dl.path())!, 'utf8'));
    expect(json.format).toBe('mamba-vs-transformer-runs/1');
    expect(json.runs).toEqual([]);
    expect(json.gpu.limits.maxStorageBufferBindingSize).toBeGreaterThan(0);
    expect(json.settings.pair).toBe('demo');
    const [csv] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-csv').click()]);
    expect(readFileSync((await csv.path())!, 'utf8')).toContain('no runs yet');
  });

  test('a lost GPU device shows a message and the page recovers', async ({ page }) => {
    await ready(page);
    await page.evaluate(() => (window as unknown as { __playground: { loseDevice(): Promise<void> } }).__playground.loseDevice());
    await expect(page.getByTestId('device-lost')).toBeVisible();
    await expect(page.getByTestId('device-lost')).toContainText('lost');
    await shot(page, 'device-lost');
    await page.getByTestId('recover').click();
    await expect(page.getByTestId('selftest')).toHaveAttribute('data-ok', 'true');
    await expect(page.getByTestId('device-lost')).toHaveCount(0);
  });

  test('the text the page shows is for users: no internal references, no broken values', async ({ page }) => {
    await ready(page);
    const internal = [/\b[a-z]\w*\(\)/, /\bissue\s*#?\d+/i, /\bTODO\b/, /\bFIXME\b/, /\bhelpers?\b/i, /\bgolden\b/i, /\bfixtures?\b/i, /\boracle\b/i, /\bdeliverable/i];
    const broken = [/\bundefined\b/, /\bNaN\b/, /\[object Object\]/, /\bnull\b/];
    for (const tab of ['compare', 'scaling', 'recall', 'claims', 'benchmarks'] as const) {
      await page.getByTestId(`tab-${tab}`).click();
      await expect(page.getByTestId(`panel-${tab}`)).toBeVisible();
      // visible text and the tooltips (title attributes) users can hover
      const text = await page.evaluate(() => [document.body.innerText, ...[...document.querySelectorAll('[title]')].map((e) => e.getAttribute('title'))].join('\n'));
      for (const re of [...internal, ...broken]) expect(text.match(re)?.[0], `${tab}: "${re}" in the page text`).toBeUndefined();
    }
    // The Benchmarks tab says where the official CUDA scan figure comes from.
    await page.getByTestId('tab-benchmarks').click();
    await expect(page.getByTestId('bench-chart-scan')).toContainText('separate measurement');
  });

  test('runs without models say what to do instead of failing', async ({ page }) => {
    await ready(page);
    await expect(page.getByTestId('generate')).toBeDisabled();
    await page.getByTestId('tab-claims').click();
    await expect(page.getByTestId('run-claims')).toBeDisabled();
    await expect(page.getByTestId('claim-verdict-prefill')).toContainText('Not measured yet');
  });
});

/** Sets toolbar and panel fields as a user would (number fields commit on input, list fields on blur). */
async function fields(page: Page, values: Record<string, string | number>) {
  for (const [id, v] of Object.entries(values)) {
    const el = page.getByTestId(id);
    await el.fill(String(v));
    await el.blur();
  }
}

const arch = (page: Page, name: string) => page.getByTestId('toggle-arch').getByRole('radio', { name, exact: true }).click();

/**
 * The tests that need models share one page: it opens offline with the demo pair loading by itself, as a first visit
 * does. SwiftShader compiles every pipeline on a page's first run of it (~25 s for the demo pair's first generate on
 * the 2-core CI machine), so one page instead of seven saves minutes. Each test sets the fields it depends on through
 * the page's own controls and leaves the arch toggle, kernels and memory cap as it found them. Tagged @alone: two of
 * them time the page (decode side by side vs alone, main-thread long tasks), so `npm test` runs them after the rest,
 * with nothing else on the machine (tools/test.sh).
 */
test.describe.serial('with the demo models (one page)', { tag: '@alone' }, () => {
  let page: Page;
  /** Requests that left the page's own server during the whole session (all of them fail). */
  const outside: string[] = [];

  test.beforeAll(async ({ browser, request }) => {
    test.skip(!(await demoModelsServed(request)), 'demo models are not in public/models yet');
    test.setTimeout(300_000);
    page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    // Offline: any request that leaves this page's own server fails (and is counted).
    await page.route((u) => !['127.0.0.1', 'localhost'].includes(u.hostname), (route) => {
      outside.push(route.request().url());
      return route.abort('internetdisconnected');
    });
    await ready(page, '/', true);
  });
  test.afterAll(async () => {
    await page?.close();
  });

  test('first open loads the demo pair by itself, offline, and generates side by side', async () => {
    await loadDemo(page);
    await expect(page.getByTestId('pair-demo')).toHaveAttribute('aria-checked', 'true');
    expect(outside, 'requests outside the page').toEqual([]);
    await shot(page, 'loaded');
    await page.getByTestId('prompt').fill('Once upon a time');
    await page.getByTestId('max-new').fill('12');
    await page.getByTestId('generate').click();
    for (const a of ['mamba', 'transformer']) {
      await expect(page.getByTestId(`output-${a}`)).toHaveAttribute('data-done', 'true', { timeout: 120_000 });
      await expect(page.getByTestId(`decode-${a}`)).not.toHaveText(/^—/);
      await expect(page.getByTestId(`ttft-${a}`)).not.toHaveText(/^—/);
    }
    const m = (await page.getByTestId('output-mamba').innerText()).replace('Once upon a time', '');
    const t = (await page.getByTestId('output-transformer').innerText()).replace('Once upon a time', '');
    expect(m.length + t.length).toBeGreaterThan(0);
    await expect(page.getByTestId('chart-token-latency')).not.toHaveAttribute('data-points', '0');
    await shot(page, 'generated');

    // Export now holds the run.
    const [dl] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-json').click()]);
    const json = JSON.parse(readFileSync((await dl.path())!, 'utf8'));
    expect(json.runs.length).toBe(1);
    expect(json.runs[0].kind).toBe('generate');
    expect(json.runs[0].data.outputs.mamba.stats.newTokens).toBeGreaterThan(0);
  });

  test('a long pasted prompt: the continuation is in view, the prompt collapsed to its end', async () => {
    await fields(page, { 'max-new': 6 });
    const doc = readFileSync('public/docs/harbour-ledger.txt', 'utf8').slice(0, 2500);
    await page.getByTestId('prompt').fill(doc);
    await page.getByTestId('generate').click();
    for (const a of ['mamba', 'transformer']) {
      await expect(page.getByTestId(`output-${a}`)).toHaveAttribute('data-done', 'true', { timeout: 180_000 });
      const gen = page.getByTestId(`gen-text-${a}`);
      expect((await gen.innerText()).length, `${a} generated text`).toBeGreaterThan(0);
      await page.getByTestId(`output-card-${a}`).scrollIntoViewIfNeeded();
      // in view without scrolling inside the output box (IntersectionObserver: clipped by the box, if hidden in it)
      await expect(gen).toBeInViewport();
      const box = (await page.getByTestId(`output-${a}`).boundingBox())!;
      const g = (await gen.boundingBox())!;
      expect(g.y + g.height, `${a}: the end of the continuation is inside the output box`).toBeLessThanOrEqual(box.y + box.height + 1);
    }
    await shot(page, 'long-prompt');
    // The prompt shows its end; the rest is one click away.
    const more = page.getByTestId('output-card-mamba').getByTestId('prompt-more');
    await expect(more).toContainText('earlier characters');
    await more.click();
    await expect(page.getByTestId('output-mamba')).toContainText(doc.slice(0, 80));
  });

  test('side by side decodes in batches (one readback per k tokens per model) as fast as each model alone', async () => {
    // SwiftShader decodes the demo pair at ~0.3-3 tok/s on this shared 2-core machine: few tokens, best batch of 2 rounds.
    test.setTimeout(1_500_000);
    // 4 tokens per readback: more batches to time than with the models' own 8, each still one submit and one readback.
    const N = 17; // 1 first token + 16 decoded: 4 batches of 4 (fewer made the best-batch rate too noisy)
    await fields(page, { temperature: 0, 'max-new': 9, batch: 4 });
    await arch(page, 'Both');
    await page.getByTestId('prompt').fill('The harbour master opened the ledger and wrote');
    const generate = async (slots: string[]) => {
      await page.getByTestId('generate').click();
      for (const a of slots) await expect(page.getByTestId(`output-${a}`)).toHaveAttribute('data-done', 'true', { timeout: 300_000 });
      await expect(page.getByTestId('generate')).toBeEnabled();
    };
    // Warm-up (pipelines compile on first use), with a watch on how the outputs grow.
    await page.evaluate(() => {
      const w = window as unknown as { __growth: [number, number][]; __watch: MutationObserver };
      w.__growth = [];
      const len = (a: string) => document.querySelector(`[data-testid="gen-text-${a}"]`)?.textContent?.length ?? 0;
      w.__watch = new MutationObserver(() => w.__growth.push([len('mamba'), len('transformer')]));
      w.__watch.observe(document.body, { subtree: true, childList: true, characterData: true });
    });
    await generate(['mamba', 'transformer']); // 1 + 4 + 4 tokens each
    // Streaming: the outputs grew batch by batch, and both were partly there at once (side by side, not one then the other).
    const growth = await page.evaluate(() => {
      const w = window as unknown as { __growth: [number, number][]; __watch: MutationObserver };
      w.__watch.disconnect();
      return w.__growth;
    });
    const finalLen = growth[growth.length - 1];
    expect(new Set(growth.map((g) => g[0])).size, 'distinct lengths of the Mamba output while streaming').toBeGreaterThanOrEqual(3);
    expect(growth.some(([m, t]) => m > 0 && t > 0 && (m < finalLen[0] || t < finalLen[1])), 'both outputs growing together').toBe(true);
    await expect(page.getByTestId('trace-mamba')).toContainText('sent them to the page 4 at a time: 2 transfers for the 8 tokens after the first');
    await page.getByTestId('max-new').fill(String(N));

    // Side by side, then each model alone, twice over (interleaved, so a busy moment of the machine hits all).
    for (let r = 0; r < 2; r++) {
      const t = Date.now();
      await arch(page, 'Both');
      await generate(['mamba', 'transformer']);
      await arch(page, 'Mamba');
      await generate(['mamba']);
      await arch(page, 'Transformer');
      await generate(['transformer']);
      console.log(`round ${r + 1}: ${((Date.now() - t) / 1e3).toFixed(0)} s`);
    }
    const [dl] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-json').click()]);
    type Out = {
      stats: { newTokens: number; decodeTokPerS: number; stopReason: string };
      trace: { batch: number; batches: number; readbacks: { prefill: number; first: number; decode: number } };
      /** Per token: its batch's time divided by the batch size. */
      tokens: { index: number; ms: number }[];
    };
    // The page's earlier runs come first; the last six are this test's rounds (after its warm-up).
    const all = JSON.parse(readFileSync((await dl.path())!, 'utf8')).runs as { settings: { arch: string }; data: { outputs: Record<string, Out> } }[];
    expect(all.length).toBeGreaterThanOrEqual(7);
    const runs = all.slice(-6);
    expect(runs.map((x) => x.settings.arch)).toEqual(['both', 'mamba', 'transformer', 'both', 'mamba', 'transformer']);
    await arch(page, 'Both');
    await fields(page, { temperature: 0.8, batch: 0 });
    const outs = (arch: string, slot: string) => runs.filter((x) => x.settings.arch === arch).map((x) => x.data.outputs[slot]);
    // Decode tok/s of each run, and of each batch (k / its time): the best batch is the figure least touched by other
    // work on this shared machine, and the same decode path runs in both modes.
    const bestRun = (arch: string, slot: string) => Math.max(...outs(arch, slot).map((o) => o.stats.decodeTokPerS));
    const bestBatch = (arch: string, slot: string) => Math.max(...outs(arch, slot).flatMap((o) => o.tokens.filter((t) => t.index > 0).map((t) => 1e3 / t.ms)));
    for (const run of runs) {
      for (const [slot, o] of Object.entries(run.data.outputs)) {
        const decoded = o.stats.newTokens - 1;
        expect(decoded, `${slot}: tokens decoded after the first`).toBeGreaterThanOrEqual(8);
        // at most one readback per k tokens per model; one for the first token, one for the prompt's logits
        expect(o.trace.readbacks.decode, `${slot}: decode readbacks for ${decoded} tokens in batches of ${o.trace.batch}`).toBeLessThanOrEqual(Math.ceil(decoded / o.trace.batch));
        expect(o.trace.readbacks.decode).toBe(o.trace.batches);
        expect(o.trace.batch).toBe(4);
        expect(o.trace.readbacks.first).toBe(1);
        expect(o.trace.readbacks.prefill).toBeLessThanOrEqual(1);
      }
    }
    const rates = (o: Out) => o.tokens.filter((t, i, a) => t.index > 0 && (i === 0 || a[i - 1].ms !== t.ms)).map((t) => (1e3 / t.ms).toFixed(2));
    for (const run of runs) console.log(`${run.settings.arch}: ${Object.entries(run.data.outputs).map(([k, o]) => `${k} batches ${rates(o).join(' ')} tok/s`).join('; ')}`);
    for (const slot of ['mamba', 'transformer']) {
      const [sideBySide, own] = [bestBatch('both', slot), bestBatch(slot, slot)];
      console.log(
        `${slot}: decode tok/s side by side vs alone: best batch ${sideBySide.toFixed(2)} vs ${own.toFixed(2)}, best run ${bestRun('both', slot).toFixed(2)} vs ${bestRun(slot, slot).toFixed(2)}`,
      );
      // As fast as alone: not slower by more than 20%. Faster is no fault (CI saw side by side 23% ahead of alone: the
      // machine's other load moves these figures both ways), so the check is one-sided.
      expect(sideBySide / own, `${slot}: side by side ${sideBySide.toFixed(2)} vs alone ${own.toFixed(2)} tok/s`).toBeGreaterThanOrEqual(0.8);
    }
  });

  test('toggle kernels and generate with each', async () => {
    await fields(page, { 'max-new': 4 });
    for (const [scan, attn] of [['Unfused', 'Reference'], ['Sequential', 'Flash']]) {
      await page.getByTestId('toggle-scan').getByRole('radio', { name: scan }).click();
      await page.getByTestId('toggle-attn').getByRole('radio', { name: attn }).click();
      await page.getByTestId('generate').click();
      for (const a of ['mamba', 'transformer']) await expect(page.getByTestId(`output-${a}`)).toHaveAttribute('data-done', 'true', { timeout: 120_000 });
      await expect(page.getByTestId('compare-error')).toHaveCount(0);
    }
    await page.getByTestId('toggle-scan').getByRole('radio', { name: 'Fused', exact: true }).click();
    await page.getByTestId('toggle-attn').getByRole('radio', { name: 'Flash' }).click();
  });

  test('a short sweep draws chart points as it runs', async () => {
    await page.getByTestId('tab-scaling').click();
    await fields(page, { 'sweep-min': 16, 'sweep-max': 128, 'sweep-decode': 2 });
    // Watch the main thread: the GPU work runs in the worker, so no long tasks while the sweep runs.
    await page.evaluate(() => {
      const w = window as unknown as { __long: number[] };
      w.__long = [];
      new PerformanceObserver((l) => l.getEntries().forEach((e) => w.__long.push(e.duration))).observe({ type: 'longtask' });
    });
    await page.getByTestId('run-sweep').click();
    await expect(page.getByTestId('chart-scaling-prefill')).not.toHaveAttribute('data-points', '0', { timeout: 120_000 });
    await expect(page.getByTestId('run-sweep')).toBeVisible({ timeout: 170_000 });
    expect(Number(await page.getByTestId('chart-scaling-prefill').getAttribute('data-points'))).toBeGreaterThanOrEqual(2);
    await expect(page.locator('[data-testid="chart-scaling-prefill"] .pt').first()).toBeVisible();
    await expect(page.getByTestId('sweep-table').locator('tbody tr')).toHaveCount(8);
    const long = await page.evaluate(() => (window as unknown as { __long: number[] }).__long);
    // Chart updates are the only main-thread work; on this CPU-only CI machine (SwiftShader, 2 cores) one update of the
    // four charts takes ~60-250 ms, and SwiftShader's threads can starve the page for a moment (one 613 ms task was
    // seen while another job shared the cores). So: at most one task over 400 ms, none over 1.5 s. GPU work or
    // decoding on the page would give many long tasks of seconds.
    const over = long.filter((d) => d > 400);
    expect(over.length, `main-thread long tasks: ${long.join(', ')} ms`).toBeLessThanOrEqual(1);
    expect(Math.max(0, ...long), `main-thread long tasks: ${long.join(', ')} ms`).toBeLessThan(1500);
    await shot(page, 'sweep');
    // Charts export as PNG; the run exports as CSV rows.
    const [png] = await Promise.all([page.waitForEvent('download'), page.getByTestId('chart-scaling-prefill').getByRole('button', { name: 'PNG' }).click()]);
    expect(png.suggestedFilename()).toMatch(/^scaling-prefill-.*\.png$/);
    const pngBytes = readFileSync((await png.path())!);
    expect(pngBytes.subarray(1, 4).toString()).toBe('PNG');
    expect(pngBytes.readUInt32BE(16)).toBeGreaterThan(400); // the chart, not a legend icon
    const [csv] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-csv').click()]);
    const rows = readFileSync((await csv.path())!, 'utf8').trim().split('\n');
    expect(rows[0]).toContain('prefillMs');
    expect(rows.length).toBeGreaterThanOrEqual(9);
  });

  test('out of memory as a sweep grows: the model stops at the largest length that fit and the page says so', async () => {
    test.setTimeout(300_000);
    // A 64 MiB "GPU" (the page's memory cap): both demo models fit (~45 MiB with their buffers), the Transformer's KV cache outgrows it.
    await page.getByTestId('tab-scaling').click();
    await arch(page, 'Transformer');
    await fields(page, { 'sweep-min': 256, 'sweep-max': 2048, 'sweep-decode': 1, 'mem-cap': 64 });
    await expect(page.getByTestId('mem-cap')).toHaveValue('64');
    await page.getByTestId('run-sweep').click();
    const note = page.getByTestId('limit-note');
    await expect(note).toBeVisible({ timeout: 240_000 });
    await expect(note).toContainText('out of GPU memory');
    await expect(note).toContainText('memory cap 64.0 MiB');
    await expect(page.getByTestId('run-sweep')).toBeVisible({ timeout: 60_000 });
    const text = await note.innerText();
    const m = text.match(/at L=([\d.,k]+) — stopped at the largest length that fit \(([\d.,k]+)\)/);
    expect(m, text).not.toBeNull();
    // the table holds exactly the lengths that fit, and the page stays usable (no error banner, GPU still ready)
    const rows = await page.getByTestId('sweep-table').locator('tbody tr').count();
    expect(rows).toBeGreaterThanOrEqual(1);
    expect(rows).toBeLessThan(4);
    await expect(page.getByTestId('selftest')).toHaveAttribute('data-ok', 'true');
    await shot(page, 'sweep-oom');
    await fields(page, { 'mem-cap': 0 });
    await arch(page, 'Both');
  });

  test('the recall lab scores a pasted document', async () => {
    test.setTimeout(420_000); // SwiftShader on 2 cores: every probe is a prefill + decode of both models
    await page.getByTestId('tab-recall').click();
    await fields(page, { 'recall-lengths': 128, 'recall-depths': 1, 'recall-trials': 1 });
    await page.getByTestId('doc-select').selectOption('pasted');
    const text = readFileSync('public/docs/harbour-ledger.txt', 'utf8').slice(0, 3000);
    await page.getByTestId('doc-text').fill(text);
    await expect(page.getByTestId('doc-check')).toHaveAttribute('data-ok', 'true');
    await page.getByTestId('run-recall').click();
    await expect(page.getByTestId('recall-scores')).toBeVisible({ timeout: 380_000 });
    await expect(page.getByTestId('run-recall')).toBeVisible({ timeout: 380_000 });
    // 1 length × 1 depth × (passkey + copy) × 2 models
    await expect(page.getByTestId('recall-row')).toHaveCount(4);
    await expect(page.getByTestId('heatmap-passkey-mamba').locator('.hm-cell.filled')).toHaveCount(1);
    await expect(page.getByTestId('chart-loss-by-position')).not.toHaveAttribute('data-points', '0');
    await shot(page, 'recall');
    // The selectivity view: Mamba's Δ per token beside the Transformer's attention from the answer position.
    await page.getByLabel('probe length').selectOption('128'); // its own selector, set when the tab first opened
    await page.getByTestId('run-selectivity').click();
    for (const a of ['mamba', 'transformer']) {
      const strip = page.getByTestId(`selectivity-${a}`);
      await expect(strip).toBeVisible({ timeout: 90_000 });
      await expect(strip.locator('.tok')).toHaveCount(128); // probe length L=128 (the lab's length setting)
      expect(await strip.locator('.tok.needle').count()).toBeGreaterThan(5);
      const shades = await strip.locator('.tok').evaluateAll((els) => new Set(els.map((e) => (e as HTMLElement).style.background)).size);
      expect(shades, `${a}: the strip is shaded by value`).toBeGreaterThan(3);
    }
    await expect(page.getByTestId('chart-selectivity')).not.toHaveAttribute('data-points', '0');
    await shot(page, 'selectivity');
  });
});
