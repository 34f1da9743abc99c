/**
 * Mamba, Mamba-2 and the Transformer side by side (issue 18 item 3): the three-way set "Mamba 130M · Mamba-2 130M ·
 * Pythia 160M" loaded from a local server in the hub's URL layout (tools/hub-server.mjs, the page's hub URL pointed
 * at it) whose repos are the tiny random fixtures under the real repo names:
 *   state-spaces/mamba-130m-hf → tiny-random/mamba
 *   AntonV/mamba2-130m-hf      → tiny-random/mamba2 (Mamba2ForCausalLM)
 *   EleutherAI/pythia-160m     → tiny-random/pythia
 * Compare shows three columns, a Scaling chart three series and each architecture's state bytes, the Recall lab a
 * heatmap per model, and the Claims cards Mamba-2 beside Mamba (verdict lines, state sizes on the capacity card).
 * Then a pair replaces the set: the Mamba-2 slot is freed and Compare is back to two columns.
 */
import { expect, test, type Page } from '@playwright/test';
import { existsSync, rmSync } from 'node:fs';
import { startHubServer, type HubServer } from '../tools/hub-server.mjs';
import { linkedHubRoot } from './fixture-hub';

const THREE = ['mamba', 'mamba2', 'transformer'] as const;
let root: string;
let server: HubServer;

const shot = (page: Page, name: string) => page.screenshot({ path: `test-results/screens/${name}.png`, fullPage: true });

test.beforeAll(async () => {
  test.skip(!existsSync('dist/index.html'), 'run `npx vite build` first');
  root = linkedHubRoot({ 'state-spaces/mamba-130m-hf': 'mamba', 'AntonV/mamba2-130m-hf': 'mamba2', 'EleutherAI/pythia-160m': 'pythia' });
  server = await startHubServer({ root });
});
test.afterAll(async () => {
  await server?.close();
  if (root) rmSync(root, { recursive: true, force: true });
});

async function loaded(page: Page, slots: readonly string[]) {
  for (const a of slots) {
    const el = page.getByTestId(`slot-${a}`);
    await expect(el).toHaveAttribute('data-status', /ready|error/, { timeout: 240_000 });
    expect(await el.getAttribute('data-status'), await el.innerText()).toBe('ready');
  }
}

test('three models side by side: three columns, three series, Mamba-2 in the claims; a pair after them frees the third slot', async ({ page }) => {
  test.setTimeout(1_500_000); // three models compiling their pipelines and running on SwiftShader, on a shared CPU
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  const t0 = Date.now();
  const lap = (what: string) => console.log(`${what}: ${((Date.now() - t0) / 1e3).toFixed(0)} s`);
  const q = 'maxNew=6&batch=3&sweepMin=16&sweepMax=32&sweepDecode=8&probes=passkey,multikey&lengths=192&depths=0.5&trials=1&keys=1,2';
  await page.goto(`/?autoload=0&hub=${encodeURIComponent(server.url)}&pair=130m-3way&${q}`);
  await expect(page.getByTestId('selftest')).toHaveAttribute('data-ok', 'true');

  // The set is in its fold (open: it is the chosen one); one row per slot; nothing downloaded before the confirmation.
  await expect(page.getByTestId('three-way-pairs')).toHaveAttribute('open', '');
  await expect(page.getByTestId('pair-130m-3way')).toHaveAttribute('aria-checked', 'true');
  for (const a of THREE) await expect(page.getByTestId(`slot-${a}`)).toHaveAttribute('data-status', 'empty');
  await page.getByTestId('load-models').click();
  const confirm = page.getByTestId('confirm-download');
  await expect(confirm).toContainText('Mamba-2 AntonV/mamba2-130m-hf');
  expect(server.requests.filter((r) => r.path.endsWith('.safetensors') && r.method === 'GET')).toEqual([]);
  await page.getByTestId('confirm-load').click();
  await loaded(page, THREE);
  await expect(page.getByTestId('slot-mamba2')).toContainText('AntonV/mamba2-130m-hf');
  await expect(page.getByTestId('trained-mamba2')).toContainText('2,048'); // the Mamba-2 paper's training length
  const arch = page.getByTestId('toggle-arch');
  await expect(arch.getByRole('radio', { name: 'All three' })).toHaveAttribute('aria-checked', 'true');
  await expect(arch.getByRole('radio')).toHaveCount(7); // all three, each alone, each two of them
  lap('loaded');

  // Compare: three columns, each streaming its own text; the memory chart names each state.
  const columns = page.getByTestId('compare-columns');
  await expect(columns).toHaveAttribute('data-columns', '3');
  await page.getByTestId('generate').click();
  for (const a of THREE) await expect(page.getByTestId(`output-${a}`)).toHaveAttribute('data-done', 'true', { timeout: 300_000 });
  await expect(page.getByTestId('generate')).toBeVisible({ timeout: 60_000 });
  for (const a of THREE) await expect(page.getByTestId(`decode-${a}`)).not.toHaveText('—');
  await expect(page.getByTestId('chart-memory')).toHaveAttribute('data-points', '3');
  await expect(page.getByTestId('compare-state-bytes')).toContainText(/Mamba [\d.]+ KB · Mamba-2 [\d.]+ KB · Transformer [\d.]+ KB \(KV cache\)/);
  await shot(page, 'three-way-compare');
  lap('compare');

  // Scaling: a short sweep; every chart has a series per model; the state bytes of each architecture.
  await page.getByTestId('tab-scaling').click();
  await page.getByTestId('run-sweep').click();
  await expect(page.getByTestId('sweep-table').locator('tbody tr')).toHaveCount(6, { timeout: 600_000 });
  await expect(page.getByTestId('run-sweep')).toBeVisible({ timeout: 60_000 });
  for (const chart of ['chart-scaling-prefill', 'chart-scaling-decode', 'chart-scaling-state-memory']) {
    for (const a of THREE) await expect(page.locator(`[data-testid="${chart}"] .pt-${a}`), `${chart} ${a}`).toHaveCount(2);
  }
  await expect(page.getByTestId('chart-scaling-state-memory').locator('.xy-legend-item')).toHaveText(['Mamba', 'Mamba-2', 'Transformer']);
  await expect(page.getByTestId('state-per-arch')).toContainText(/Mamba [\d.]+ KB at any length · Mamba-2 [\d.]+ KB at any length · Transformer [\d.]+ KB at L = 32/);
  for (const a of THREE) await expect(page.getByTestId(`scaling-bound-${a}`)).toBeVisible();
  await shot(page, 'three-way-scaling');
  lap('scaling');

  // Recall lab: passkey and multikey on the three; a heatmap per model.
  await page.getByTestId('tab-recall').click();
  await page.getByTestId('run-recall').click();
  await expect(page.getByTestId('results-passkey')).toBeVisible({ timeout: 600_000 });
  await expect(page.getByTestId('run-recall')).toBeVisible({ timeout: 600_000 });
  for (const a of THREE) {
    await expect(page.getByTestId(`heatmap-passkey-${a}`).locator('.hm-cell.filled')).toHaveCount(1);
    await expect(page.getByTestId(`heatmap-multikey-${a}`).locator('.hm-cell.filled')).toHaveCount(2);
  }
  await expect(page.getByTestId('chart-recall-multikey')).toHaveAttribute('data-points', '6');
  await shot(page, 'three-way-recall');
  lap('recall');

  // Claims: the verdicts read the sweep and the probes above; each recurrent model is judged against the Transformer.
  await page.getByTestId('tab-claims').click();
  const memory = page.getByTestId('claim-summary-memory');
  await expect(memory).toContainText("Mamba's state memory changed ×1.00");
  await expect(memory).toContainText("Mamba-2's state memory changed ×1.00");
  await expect(page.getByTestId('claim-memory').locator('.xy-legend-item')).toHaveText(['Mamba', 'Mamba-2', 'Transformer']);
  await expect(page.getByTestId('claim-bound-memory')).toContainText(/Mamba's state is [\d.]+ kB, Mamba-2's [\d.]+ kB at any length/);
  await expect(page.getByTestId('claim-bound-crossover')).toContainText(/Mamba is .*; Mamba-2 is .*; the Transformer is /);
  // the capacity card: Mamba-2's line beside Mamba's, its state size, its series
  const forget = page.getByTestId('claim-summary-forget');
  await expect(forget).toContainText(/from 1 fact to 2 facts: Mamba \d+% → \d+%/);
  await expect(forget).toContainText(/from 1 fact to 2 facts: Mamba-2 \d+% → \d+%/);
  await expect(page.getByTestId('claim-state-forget')).toContainText(/Mamba [\d.]+ KB, Mamba-2 [\d.]+ KB/);
  await expect(page.getByTestId('claim-forget').locator('.xy-legend-item')).toHaveText(['Mamba', 'Mamba-2', 'Transformer']);
  await expect(page.getByTestId('claim-source-forget')).toContainText('the Recall lab');
  await shot(page, 'three-way-claims');
  lap('claims');

  // Two of three: Mamba-2 against the Transformer only.
  await page.getByTestId('tab-compare').click();
  await arch.getByRole('radio', { name: 'Mamba-2 + Transformer' }).click();
  await expect(page).toHaveURL(/arch=mamba2%2Btransformer|arch=mamba2\+transformer/);
  await expect(columns).toHaveAttribute('data-columns', '2');
  await expect(page.getByTestId('output-card-mamba')).toHaveCount(0);

  // A pair after the set: it loads beside the three, then the Mamba-2 slot is freed; the choice falls back to both.
  await page.getByTestId('pair-130m').click();
  await page.getByTestId('load-models').click();
  // its files came with the set: in the browser's cache, so no confirmation (clicked if one shows all the same)
  const again = page.getByTestId('confirm-load');
  await again.waitFor({ state: 'visible', timeout: 5_000 }).then(() => again.click(), () => {});
  await expect(page.getByTestId('load-models')).toHaveText(/Reload pair/, { timeout: 240_000 });
  await loaded(page, ['mamba', 'transformer']);
  await expect(page.getByTestId('slot-mamba2')).toHaveCount(0);
  await expect(arch.getByRole('radio', { name: 'Both' })).toHaveAttribute('aria-checked', 'true');
  const report = await page.evaluate(() => (window as unknown as { __playground: { memoryReport(): Promise<{ models: Record<string, unknown> }> } }).__playground.memoryReport());
  expect(Object.keys(report.models).sort()).toEqual(['mamba', 'transformer']);
  await expect(columns).toHaveAttribute('data-columns', '2');
  expect(errors).toEqual([]);
  lap('back to a pair');
});
