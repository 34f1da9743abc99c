import { expect, test, type Page } from '@playwright/test';
import { readFileSync } from 'node:fs';

/**
 * Every verdict names what bounds it (issue 22): the adapter chip shows the calibration measured at load; after a
 * generate each Compare card states its prefill and decode bound; a sweep's Scaling tab states each model's bound
 * and draws the floors dashed; each Claims card says what decides it, the short-context one with what bytes would do.
 * Chromium on SwiftShader with the demo pair.
 */
const BOUND = /(dispatch|bandwidth|compute)-bound: /;
const shot = (page: Page, name: string) => page.screenshot({ path: `test-results/screens/${name}.png`, fullPage: true });

async function loadDemo(page: Page) {
  for (const slot of ['slot-mamba', 'slot-transformer']) {
    const el = page.getByTestId(slot);
    await expect(el).toHaveAttribute('data-status', /ready|error/, { timeout: 180_000 });
    if ((await el.getAttribute('data-status')) === 'error') throw new Error(`${slot} failed to load: ${await el.innerText()}`);
  }
}

test('the bound shows on the adapter chip and on every Compare, Scaling and Claims card', async ({ page }) => {
  test.setTimeout(900_000);
  await page.goto('/?maxNew=9&batch=4&sweepMin=16&sweepMax=32&sweepDecode=4');
  await expect(page.getByTestId('selftest')).toHaveAttribute('data-ok', 'true');
  // the calibration: measured before the demo loads, shown in the chip with its details
  const cal = page.getByTestId('gpu-calibration');
  await expect(cal).toHaveAttribute('data-state', 'done', { timeout: 120_000 });
  await expect(cal).toContainText('/dispatch');
  expect(await cal.getAttribute('title')).toMatch(/copy bandwidth .*\n.*one dependent dispatch .*\n.*f32 matmul .*\n.*timestamps/);
  const t0 = Date.now();
  const lap = (what: string) => console.log(`${what}: ${((Date.now() - t0) / 1e3).toFixed(0)} s`);
  await loadDemo(page);
  lap('calibrated and loaded');

  // Compare: each card's prefill and decode bound after a generate
  await page.getByTestId('generate').click();
  for (const a of ['mamba', 'transformer']) {
    await expect(page.getByTestId(`output-${a}`)).toHaveAttribute('data-done', 'true', { timeout: 180_000 });
    for (const phase of ['prefill', 'decode']) {
      const line = page.getByTestId(`bound-${phase}-${a}`);
      await expect(line).toContainText(BOUND);
      await expect(line).toContainText(/measured .* (of GPU time|wall time), [\d.]+× the floor/);
      expect(await line.getAttribute('title')).toMatch(/bandwidth floor: .*\ncompute floor: .*\ndispatch floor: \d+ dispatches/);
    }
  }
  // a decode step of the demo Mamba records 36 dispatches, the demo Transformer's 20: 8 layers × 4 vs 4 × 4, + the
  // embedding gather and the LM head, + the sampler's two passes at the page's default sampling (temperature 0.8,
  // top-k 40, top-p 0.95; greedy decoding skips the first, as the LM head already wrote its argmax partials)
  const title = (a: string) => page.getByTestId(`bound-decode-${a}`).getAttribute('title');
  expect(await title('mamba')).toContain('dispatch floor: 36 dispatches');
  expect(await title('transformer')).toContain('dispatch floor: 20 dispatches');
  await shot(page, 'roofline-compare');
  lap('compare');

  // Scaling: a short sweep; each model's bound, the bound along L, dashed floors in the charts
  await page.getByTestId('tab-scaling').click();
  await page.getByTestId('run-sweep').click();
  await expect(page.getByTestId('sweep-table').locator('tbody tr')).toHaveCount(4, { timeout: 300_000 });
  await expect(page.getByTestId('run-sweep')).toBeVisible({ timeout: 60_000 });
  for (const a of ['mamba', 'transformer']) {
    await expect(page.getByTestId(`scaling-bound-prefill-${a}`)).toContainText(BOUND);
    await expect(page.getByTestId(`scaling-bound-decode-${a}`)).toContainText(BOUND);
    await expect(page.locator(`[data-testid="chart-scaling-prefill"] .floor-${a}`)).toHaveCount(1);
    await expect(page.locator(`[data-testid="chart-scaling-decode"] .floor-${a}`)).toHaveCount(1);
  }
  await expect(page.getByTestId('scaling-bound-changes-prefill')).toContainText(/Mamba: (dispatch|bandwidth|compute)-bound .*; the Transformer: (dispatch|bandwidth|compute)-bound/);
  await expect(page.getByTestId('sweep-bound').first()).toContainText(/(dispatch|bandwidth|compute) \/ (dispatch|bandwidth|compute)/);
  await shot(page, 'roofline-scaling');
  lap('scaling');

  // Claims: the scaling claims' sweep; every card says what decides it
  await page.getByTestId('tab-claims').click();
  await page.getByTestId('run-claim-crossover').click();
  await expect(page.getByTestId('claims-progress')).toBeVisible();
  await expect(page.getByTestId('run-claim-crossover')).toBeVisible({ timeout: 300_000 }); // the run button is back: finished
  const short = page.getByTestId('claim-bound-crossover');
  await expect(short).toContainText(/At L = 16: Decided by (the architecture|the implementation|model size): Mamba is (dispatch|bandwidth|compute)-bound/);
  await expect(short).toContainText(/If bytes were the bound, the verdict would (flip|stand): Mamba moves .*B, the Transformer .*B/);
  expect(await short.getAttribute('data-decider')).toMatch(/^(architecture|implementation|size)$/);
  for (const id of ['prefill', 'decode']) await expect(page.getByTestId(`claim-bound-${id}`)).toContainText(/Decided by (the architecture|the implementation|model size)/);
  await expect(page.getByTestId('claim-bound-memory')).toContainText('Decided by the architecture: the KV cache keeps every token');
  await shot(page, 'roofline-claims');
  lap('claims');

  // the export carries the calibration and every point's roofline
  const [dl] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-json').click()]);
  const doc = JSON.parse(readFileSync((await dl.path())!, 'utf8')) as {
    calibration: { copyGBps: number; dispatchUs: number; matmulGflops: number };
    runs: { kind: string; calibration: unknown; data: { points?: { roofline: { prefill: { bound: string; dispatches: number } } }[] } }[];
  };
  for (const k of ['copyGBps', 'dispatchUs', 'matmulGflops'] as const) expect(doc.calibration[k]).toBeGreaterThan(0);
  const sweep = doc.runs.find((r) => r.kind === 'sweep')!;
  expect(sweep.calibration).toEqual(doc.calibration);
  expect(sweep.data.points!.length).toBe(4);
  for (const p of sweep.data.points!) {
    expect(['bandwidth', 'compute', 'dispatch']).toContain(p.roofline.prefill.bound);
    expect(p.roofline.prefill.dispatches).toBeGreaterThan(0);
  }
});
