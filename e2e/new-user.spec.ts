/**
 * What a new user meets: the five problems a first try found, each checked in the page.
 * 1. memory figures are what a run needed at its length, the same after a longer run as on a fresh page;
 * 2. claims read the measurements of the Scaling tab (and wait for a run still going);
 * 3. Compare shows the prompt's progress while it is read, and cancel works then;
 * 4. switching pairs never leaves the page without a model; errors say what happened and what to do;
 * 5. the trained context of each model is shown, with a warning (not a refusal) past it.
 * Plus the smaller points: first view, folds, disabled buttons that say why, help in place, share links, adapter chip,
 * charts with one unit per axis and titles clear of the ticks, results labelled with their kernels.
 * The tests that need models share one page with the demo pair (SwiftShader is slow: every forward pass counts).
 */
import { expect, test, type Page } from '@playwright/test';
import { readFileSync } from 'node:fs';
import { startHubServer, type HubServer } from '../tools/hub-server.mjs';

const shot = (page: Page, name: string) => page.screenshot({ path: `test-results/screens/${name}.png`, fullPage: true });

async function open(page: Page, url: string) {
  await page.goto(url);
  await expect(page.getByTestId('selftest')).toHaveAttribute('data-ok', 'true');
}

async function demoLoaded(page: Page, timeout = 180_000) {
  for (const slot of ['slot-mamba', 'slot-transformer']) {
    const el = page.getByTestId(slot);
    await expect(el).toHaveAttribute('data-status', /ready|error/, { timeout });
    if ((await el.getAttribute('data-status')) === 'error') throw new Error(`${slot} failed to load: ${await el.innerText()}`);
  }
}

/** Sets a React-controlled textarea/input at once (fill() types large texts slowly). */
async function setText(page: Page, testId: string, text: string) {
  await page.getByTestId(testId).evaluate((el, t) => {
    const proto = el instanceof HTMLTextAreaElement ? HTMLTextAreaElement.prototype : HTMLInputElement.prototype;
    Object.getOwnPropertyDescriptor(proto, 'value')!.set!.call(el, t);
    el.dispatchEvent(new Event('input', { bubbles: true }));
  }, text);
}

test.describe('before any model loads', () => {
  test('an unknown ?pair= says so, and the demo pair stands in', async ({ page }) => {
    await open(page, '/?pair=mamba-7b-vs-llama&autoload=0');
    const notice = page.getByTestId('pair-notice');
    await expect(notice).toContainText('mamba-7b-vs-llama');
    await expect(notice).toContainText('does not know');
    await expect(page.getByTestId('pair-demo')).toHaveAttribute('aria-checked', 'true');
    // a custom pair without repo ids is unknown too
    await open(page, '/?pair=custom&autoload=0');
    await expect(page.getByTestId('pair-notice')).toContainText('does not know');
  });

  test('every disabled button says why; every setting has a one-line help in place', async ({ page }) => {
    await open(page, '/?autoload=0');
    await expect(page.getByTestId('generate-why')).toHaveText('Load a model pair first (above)');
    for (const tab of ['compare', 'scaling', 'recall', 'claims', 'benchmarks'] as const) {
      await page.getByTestId(`tab-${tab}`).click();
      await expect(page.getByTestId(`panel-${tab}`)).toBeVisible();
      const silent = await page.evaluate(() =>
        [...document.querySelectorAll('button:disabled')].filter((b) => !(b.getAttribute('title') ?? '').trim()).map((b) => b.textContent),
      );
      expect(silent, `${tab}: disabled buttons without a reason`).toEqual([]);
      const bare = await page.evaluate(() =>
        [...document.querySelectorAll('[role="tabpanel"] .field, .toolbar .field')]
          .filter((f) => !(f.querySelector('.field-help')?.textContent ?? '').trim())
          .map((f) => f.querySelector('.field-label')?.textContent),
      );
      expect(bare, `${tab}: settings without help`).toEqual([]);
    }
    // the recall lab: Depths do not apply to multikey alone, and say so
    await page.getByTestId('tab-recall').click();
    await page.getByTestId('probe-passkey').uncheck();
    await page.getByTestId('probe-copy').uncheck();
    await page.getByTestId('probe-multikey').check();
    await expect(page.getByTestId('recall-depths')).toBeDisabled();
    await expect(page.getByTestId('panel-recall')).toContainText('random depths');
    await page.getByTestId('probe-passkey').check();
    await expect(page.getByTestId('recall-depths')).toBeEnabled();
  });

  test('share links carry settings, not typed or pasted text, unless the box is ticked', async ({ page, context }) => {
    await open(page, '/?autoload=0&tab=recall');
    await page.getByTestId('doc-select').selectOption('pasted');
    const doc = 'A pasted document about the harbour and its ledgers. '.repeat(6);
    await setText(page, 'doc-text', doc);
    await page.getByTestId('tab-compare').click();
    await setText(page, 'prompt', 'my private prompt');
    await expect(page).not.toHaveURL(/private/); // the address bar does not carry it either
    await page.getByTestId('share').click();
    const url = page.getByTestId('share-url');
    await expect(url).not.toHaveValue(/private/);
    await expect(url).not.toHaveValue(/harbour/);
    await expect(url).toHaveValue(/doc=pasted/);
    await page.getByTestId('share-include-text').check();
    await expect(url).toHaveValue(/private/);
    await expect(url).toHaveValue(/docText=/);
    const link = await url.inputValue();
    // the link opens with the text in place
    const other = await context.newPage();
    await open(other, `${link}&autoload=0`);
    await expect(other.getByTestId('prompt')).toHaveValue('my private prompt');
    await expect(other).not.toHaveURL(/private/); // the text moved into the page, out of the address bar
    await other.getByTestId('tab-recall').click();
    await expect(other.getByTestId('doc-text')).toHaveValue(doc);
    await other.close();
  });

  test('the adapter chip shows what the adapter reports', async ({ page }) => {
    await open(page, '/?autoload=0');
    const info = await page.evaluate(async () => {
      const a = await navigator.gpu.requestAdapter({ powerPreference: 'high-performance' });
      return { vendor: a!.info.vendor, architecture: a!.info.architecture, subgroups: a!.features.has('subgroups'), f16: a!.features.has('shader-f16') };
    });
    const name = page.getByTestId('gpu-name');
    for (const v of [info.vendor, info.architecture].filter(Boolean)) await expect(name).toContainText(v);
    const tags = await page.getByTestId('gpu-feature').allInnerTexts();
    expect(tags.some((t) => t.startsWith('subgroups'))).toBe(info.subgroups);
    expect(tags.includes('f16')).toBe(info.f16);
    await expect(page.getByTestId('gpu-chip')).toHaveAttribute('title', /Vendor: /);
  });
});

test.describe.serial('with the demo pair (one page)', () => {
  let page: Page;
  let hub: HubServer;

  test.beforeAll(async ({ browser, request }) => {
    test.skip(!(await request.get('/models/demo-mamba/config.json')).ok(), 'demo models are not in public/models');
    test.setTimeout(300_000);
    page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    await open(page, '/?sweepMin=16&sweepMax=32&sweepDecode=0&maxNew=2');
    await demoLoaded(page);
  });
  test.afterAll(async () => {
    await page?.close();
    await hub?.close();
  });

  test('first view: the prompt and Generate without scrolling; the model tables fold', async () => {
    await page.evaluate(() => window.scrollTo(0, 0));
    for (const id of ['prompt', 'generate']) {
      const box = (await page.getByTestId(id).boundingBox())!;
      expect(box.y + box.height, `${id} bottom`).toBeLessThanOrEqual(900);
    }
    await expect(page.getByTestId('demo-results')).toBeHidden();
    await page.getByTestId('models-more').locator('summary').first().click();
    await expect(page.getByTestId('demo-results')).toBeVisible();
    await page.getByTestId('models-more').locator('summary').first().click();
    await shot(page, 'new-user-first-view');
  });

  test('5: the trained context is shown; a prompt or sweep past it warns and still runs', async () => {
    for (const a of ['mamba', 'transformer']) await expect(page.getByTestId(`trained-${a}`)).toContainText('trained on ≤ 2,048 tokens');
    const long = readFileSync('public/docs/harbour-ledger.txt', 'utf8').slice(0, 9000);
    await setText(page, 'prompt', long);
    const warn = page.getByTestId('panel-compare').getByTestId('context-warning');
    await expect(warn).toContainText('2,048');
    await expect(warn).toContainText('It still runs');
    await expect(page.getByTestId('generate')).toBeEnabled();
    await expect(page.getByTestId('prompt-token-count')).toBeInViewport();
    await setText(page, 'prompt', 'The harbour master opened the ledger and wrote');
    await expect(warn).toHaveCount(0);
    await page.getByTestId('tab-scaling').click();
    await expect(page.getByTestId('panel-scaling').getByTestId('context-warning')).toHaveCount(0);
    await page.getByTestId('sweep-max').fill('4096');
    await expect(page.getByTestId('panel-scaling').getByTestId('context-warning')).toContainText('trained on ≤ 2,048 tokens');
    await expect(page.getByTestId('run-sweep')).toBeEnabled();
    await page.getByTestId('sweep-max').fill('32');
  });

  test('1+2: memory is what each length needed, the same after a longer run; claims read the sweeps and wait for one still going', async () => {
    test.setTimeout(600_000);
    const sweep = async (from: number, to: number) => {
      await page.getByTestId('tab-scaling').click();
      await page.getByTestId('sweep-min').fill(String(from));
      await page.getByTestId('sweep-max').fill(String(to));
      await page.getByTestId('run-sweep').click();
      await expect(page.getByTestId('run-sweep-cancel')).toBeVisible();
    };
    const finished = () => expect(page.getByTestId('run-sweep')).toBeVisible({ timeout: 300_000 });
    await sweep(16, 32); // on a fresh page
    await finished();
    await expect(page.getByTestId('sweep-meta')).toContainText('Mamba scan: fused · attention: flash');
    // A longer run: while it goes, the claims that read sweeps show no verdict.
    await sweep(300, 300);
    await page.getByTestId('tab-claims').click();
    await expect(page.getByTestId('claim-verdict-memory')).toHaveText('Measuring…');
    await expect(page.getByTestId('claim-summary-memory')).toContainText('still going');
    await page.getByTestId('tab-scaling').click();
    await finished();
    // one length does not cover the memory claim: it reads the earlier sweep, and says so
    await page.getByTestId('tab-claims').click();
    await expect(page.getByTestId('claim-verdict-memory')).toHaveText('Holds here');
    await expect(page.getByTestId('claim-source-memory')).toContainText('the Scaling tab’s sweep');
    await expect(page.getByTestId('claim-source-memory')).toContainText('L 16–32');
    await expect(page.getByTestId('claim-verdict-prefill')).toHaveText('Not measured yet'); // needs 3 lengths
    await expect(page.getByTestId('claim-source-prefill')).toContainText('Newest measurements, not enough for a verdict: the Scaling tab’s sweep');
    await expect(page.getByTestId('claim-source-prefill')).toContainText('L 300–300');
    await shot(page, 'new-user-claims');
    await sweep(16, 32); // after the longer run
    await finished();
    // the kernel that made a result is on it; a changed toggle is flagged
    await page.getByTestId('toggle-scan').getByRole('radio', { name: 'Unfused' }).click();
    await expect(page.getByTestId('sweep-meta')).toContainText('have changed since');
    await page.getByTestId('toggle-scan').getByRole('radio', { name: 'Fused', exact: true }).click();
    // charts: one unit per axis, titles clear of the tick labels
    const chart = page.getByTestId('chart-scaling-state-memory');
    await expect(chart.getByTestId('y-title')).toHaveText(/^KV cache \/ state \((KB|MB|GB)\)$/);
    const geometry = await chart.evaluate((fig) => {
      const boxes = (sel: string) => [...fig.querySelectorAll(sel)].map((e) => e.getBoundingClientRect());
      const ticks = boxes('.recharts-cartesian-axis-tick text');
      const titles = boxes('.axis-title');
      const overlap = titles.some((a) => ticks.some((b) => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom));
      return { overlap, ticks: [...fig.querySelectorAll('.recharts-yAxis .recharts-cartesian-axis-tick text')].map((e) => e.textContent) };
    });
    expect(geometry.overlap).toBe(false);
    for (const t of geometry.ticks) expect(t).toMatch(/^[\d.,]+$/);
    await shot(page, 'new-user-sweeps');

    const [dl] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-json').click()]);
    type Pt = { arch: string; length: number; stateBytes: number; totalBytes: number; memory: Record<string, number> };
    const runs = (JSON.parse(readFileSync((await dl.path())!, 'utf8')).runs as { kind: string; data: { points: Pt[] } }[]).filter((r) => r.kind === 'sweep');
    expect(runs.length).toBe(3);
    const [fresh, longer, after] = runs.map((r) => r.data.points);
    const figures = (ps: Pt[]) => ps.map((p) => ({ arch: p.arch, length: p.length, stateBytes: p.stateBytes, totalBytes: p.totalBytes, memory: p.memory }));
    expect(figures(after)).toEqual(figures(fresh));
    const kv = (ps: Pt[], l: number) => ps.find((p) => p.arch === 'transformer' && p.length === l)!.stateBytes;
    expect(kv(fresh, 32)).toBe(2 * kv(fresh, 16)); // the KV cache for 32 tokens is twice that for 16
    expect(kv(longer, 300)).toBeGreaterThan(kv(fresh, 32));
    const mambaState = new Set([...fresh, ...longer].filter((p) => p.arch === 'mamba').map((p) => p.stateBytes));
    expect(mambaState.size).toBe(1);
  });

  test('3: Compare shows the prompt being read (tokens done of total, time, estimate); cancel works then', async () => {
    test.setTimeout(400_000);
    await page.getByTestId('tab-compare').click();
    const prompt = readFileSync('public/docs/harbour-ledger.txt', 'utf8').slice(0, 2500);
    await setText(page, 'prompt', prompt);
    await expect(page.getByTestId('prompt-token-count')).toContainText(/^\d{3} prompt tokens$/);
    const total = Number((await page.getByTestId('prompt-token-count').innerText()).split(' ')[0]);
    await page.getByTestId('generate').click();
    const p = page.getByTestId('prefill-mamba');
    await expect(p).toContainText(`of ${total.toLocaleString('en-US')} tokens`);
    await expect(page.getByTestId('prefill-transformer')).toContainText('Waiting for Mamba');
    await expect(p).not.toHaveAttribute('data-done', '0', { timeout: 240_000 }); // the first chunk is through
    await expect(p).toContainText(/left/);
    await shot(page, 'new-user-prefill');
    await page.getByTestId('generate-cancel').click();
    await expect(page.getByTestId('generate')).toBeVisible({ timeout: 240_000 });
    await expect(page.getByTestId('output-card-mamba')).toContainText('stopped: cancelled');
    await expect(page.getByTestId('gen-text-mamba')).toHaveText('');
    await expect(page.getByTestId('compare-error')).toHaveCount(0);
    await setText(page, 'prompt', 'The harbour master opened the ledger and wrote');
    // A whole run: labelled with its kernel and sampling (readable defaults, not greedy); the time-per-token chart
    // keeps the first token (which includes reading the prompt) apart, in one unit.
    await page.getByTestId('generate').click();
    for (const a of ['mamba', 'transformer']) await expect(page.getByTestId(`output-${a}`)).toHaveAttribute('data-done', 'true', { timeout: 240_000 });
    await expect(page.getByTestId('output-label-mamba')).toHaveText('fused scan · temperature 0.8, top-k 40, top-p 0.95, seed 1');
    await expect(page.getByTestId('output-label-transformer')).toContainText('flash attention · temperature 0.8');
    const perModel = await Promise.all(['mamba', 'transformer'].map(async (a) => Number(await page.getByTestId(`new-tokens-${a}`).locator('.stat-value').innerText())));
    const chart = page.getByTestId('chart-token-latency');
    await expect(chart).toHaveAttribute('data-points', String(perModel.reduce((s, n) => s + Math.max(0, n - 1), 0)));
    await expect(chart.getByTestId('y-title')).toHaveText(/^time per token \((µs|ms|s)\)$/);
  });

  test('4: a new pair loads beside the old one; failures say what happened and leave the old pair loaded', async () => {
    test.setTimeout(300_000);
    hub = await startHubServer({ root: 'tests/fixtures/hub' });
    const ctx = page.context();
    const demoStill = async () => {
      for (const a of ['mamba', 'transformer']) {
        await expect(page.getByTestId(`slot-${a}`)).toHaveAttribute('data-status', 'ready');
        await expect(page.getByTestId(`slot-${a}`)).toContainText(a === 'mamba' ? 'demo-mamba' : 'demo-pythia');
      }
    };
    const notice = page.getByTestId('pair-notice');
    await page.getByTestId('models-more').locator('summary').first().click();
    await page.getByTestId('hub-url').fill(hub.url);
    // offline: nothing is unloaded, and the page says what to do
    await ctx.setOffline(true);
    await page.getByTestId('pair-130m').click();
    await expect(page.getByTestId('load-models')).toHaveText('Load this pair');
    await page.getByTestId('load-models').click();
    await expect(notice).toContainText('You are offline');
    await expect(notice).toContainText('cache');
    await demoStill();
    await ctx.setOffline(false);
    // your own pair: ids are checked from config.json before any weight is fetched
    await page.getByTestId('pair-custom').click();
    await expect(page.getByTestId('load-models')).toBeDisabled();
    await expect(page.getByTestId('load-models')).toHaveAttribute('title', /repo id/);
    const tryPair = async (m: string, t: string) => {
      await page.getByTestId('repo-mamba').fill(m);
      await page.getByTestId('repo-transformer').fill(t);
      await page.getByTestId('load-models').click();
    };
    await tryPair('tiny-random/pythia', 'tiny-random/pythia');
    await expect(notice).toContainText('tiny-random/pythia is a GPT-NeoX (Transformer) model, not a model for the Mamba side');
    expect(hub.requests.filter((r) => r.path.endsWith('.safetensors')), 'weights fetched before the check').toEqual([]);
    await tryPair('tiny-random/no-such-model', 'tiny-random/pythia');
    await expect(notice).toContainText('tiny-random/no-such-model was not found');
    await expect(notice).toContainText('case-sensitive');
    await ctx.route('**/gated-org/**', (r) => r.fulfill({ status: 401, body: 'Access to model gated-org/model is restricted', headers: { 'Access-Control-Allow-Origin': '*' } }));
    await tryPair('gated-org/model', 'tiny-random/pythia');
    await expect(notice).toContainText('gated or private');
    await demoStill();
    // The Transformer's weights fail mid-switch: the Mamba that loaded beside the demo pair is dropped, the demo pair stays.
    await ctx.route('**/tiny-random/pythia/resolve/main/model.safetensors', (r) => (r.request().method() === 'GET' ? r.abort('failed') : r.continue()));
    await tryPair('tiny-random/mamba', 'tiny-random/pythia');
    const confirm = page.getByTestId('confirm-download');
    await expect(confirm).toContainText('Download');
    await expect(confirm).toContainText('MB');
    await page.getByTestId('confirm-load').click();
    await expect(notice).toContainText('The download of tiny-random/pythia (model.safetensors)', { timeout: 120_000 });
    await expect(notice).toContainText('Demo (built-in tiny models) is still loaded');
    await demoStill();
    const report = await page.evaluate(() => (window as unknown as { __playground: { memoryReport(): Promise<{ models: Record<string, unknown> }> } }).__playground.memoryReport());
    expect(Object.keys(report.models).sort()).toEqual(['mamba', 'transformer']);
    await shot(page, 'new-user-switch-failed');
    // and with the weights reachable the new pair replaces the old one
    await ctx.unroute('**/tiny-random/pythia/resolve/main/model.safetensors');
    await page.getByTestId('load-models').click();
    await page.getByTestId('confirm-load').click();
    for (const [a, repo] of [['mamba', 'tiny-random/mamba'], ['transformer', 'tiny-random/pythia']]) {
      await expect(page.getByTestId(`slot-${a}`)).toHaveAttribute('data-status', 'ready', { timeout: 120_000 });
      await expect(page.getByTestId(`slot-${a}`)).toContainText(repo);
    }
    await expect(page.getByTestId('trained-transformer')).toContainText('2,048'); // max_position_embeddings
    await expect(page.getByTestId('trained-mamba')).toContainText('training length unknown');
    // the Compare output of before is labelled with the model that made it
    await expect(page.getByTestId('output-stale-mamba')).toContainText('Made by demo-mamba');
    await expect(notice).toHaveCount(0);
    await shot(page, 'new-user-custom-pair');
  });
});
