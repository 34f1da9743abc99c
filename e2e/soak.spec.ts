/**
 * Soak: load the demo pair, generate, run a short sweep and unload, 20 times in one page. Nothing may fail, and after
 * every unload the GPU buffer pool's live bytes per category are back at the same baseline: the state after the first
 * round, which may exceed the state before any load only by a few per-device constants (e.g. the 16-byte buffer bound
 * to unused bindings), never by anything of a model, a run or a sweep. The pool's cache of free buffers stays bounded.
 */
import { expect, test, type Page } from '@playwright/test';

const ROUNDS = 20;

interface MemoryReport {
  models: Record<string, unknown>;
  pool: Record<string, number>;
}

const report = (page: Page) => page.evaluate(() => (window as unknown as { __playground: { memoryReport(): Promise<MemoryReport> } }).__playground.memoryReport());

/** Live bytes per category (cachedFree is the free-buffer cache, not live). */
function live(r: MemoryReport): Record<string, number> {
  const { cachedFree: _free, ...cats } = r.pool;
  return cats;
}

test('load, generate, sweep and unload the demo pair 20 times: no failure, the pool returns to its baseline', async ({ page, request }) => {
  test.setTimeout(1_800_000); // a few minutes on SwiftShader; far more when the machine is shared
  test.skip(!(await request.get('/models/demo-mamba/config.json')).ok(), 'demo models are not in public/models');
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  // Small on purpose: SwiftShader takes ~0.5-3 s per forward pass of the demo models here (more when the machine is
  // shared), and a round is 10 passes: per model, the prompt and a first token (GPU-sampled, read back), then a sweep
  // of prefills at 8 and 16 tokens after its warm-up.
  await page.goto('/?autoload=0&maxNew=1&sweepMin=8&sweepMax=16&sweepDecode=0&sweepRepeats=1');
  await expect(page.getByTestId('selftest')).toHaveAttribute('data-ok', 'true');
  const fresh = await report(page);
  expect(Object.keys(fresh.models)).toEqual([]);
  let baseline: MemoryReport | null = null;
  const cached: number[] = [];
  const t0 = Date.now();

  for (let round = 1; round <= ROUNDS; round++) {
    const where = `round ${round}`;
    await page.getByTestId('load-models').click();
    for (const slot of ['slot-mamba', 'slot-transformer']) {
      await expect(page.getByTestId(slot), where).toHaveAttribute('data-status', /ready|error/, { timeout: 120_000 });
      expect(await page.getByTestId(slot).getAttribute('data-status'), `${where}: ${await page.getByTestId(slot).innerText()}`).toBe('ready');
    }
    const loaded = await report(page);
    expect(Object.keys(loaded.models).sort(), where).toEqual(['mamba', 'transformer']);
    expect(loaded.pool.weights, where).toBeGreaterThan(fresh.pool.weights);

    await page.getByTestId('tab-compare').click();
    await page.getByTestId('generate').click();
    for (const a of ['mamba', 'transformer']) await expect(page.getByTestId(`output-${a}`), where).toHaveAttribute('data-done', 'true', { timeout: 120_000 });
    await expect(page.getByTestId('generate'), where).toBeEnabled();
    await expect(page.getByTestId('compare-error'), where).toHaveCount(0);

    await page.getByTestId('tab-scaling').click();
    await page.getByTestId('run-sweep').click();
    await expect(page.getByTestId('run-sweep-cancel'), where).toHaveCount(0, { timeout: 120_000 });
    await expect(page.getByTestId('sweep-table').locator('tbody tr'), where).toHaveCount(4); // 2 lengths × 2 models
    await expect(page.getByRole('alert'), where).toHaveCount(0);

    await page.getByTestId('unload-models').click();
    for (const slot of ['slot-mamba', 'slot-transformer']) await expect(page.getByTestId(slot), where).toHaveAttribute('data-status', 'empty');
    const after = await report(page);
    expect(Object.keys(after.models), where).toEqual([]);
    if (!baseline) {
      baseline = after;
      for (const [cat, bytes] of Object.entries(live(after))) {
        expect(bytes - (fresh.pool[cat] ?? 0), `round 1: ${cat} bytes left after unloading (per-device constants only)`).toBeLessThanOrEqual(4096);
      }
    }
    expect(live(after), `${where}: live bytes per category after unloading`).toEqual(live(baseline));
    cached.push(after.pool.cachedFree);
  }
  // The free-buffer cache is refilled with the same buffers each round: it does not grow after the first rounds.
  expect(Math.max(...cached.slice(2)), `cached free bytes per round: ${cached.join(', ')}`).toBeLessThanOrEqual(Math.max(...cached.slice(0, 2)));
  expect(errors, 'page errors').toEqual([]);
  console.log(`soak: ${ROUNDS} rounds in ${((Date.now() - t0) / 1e3).toFixed(0)} s; cached free bytes ${cached.join(', ')}`);
});
