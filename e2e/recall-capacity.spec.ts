/**
 * The multikey capacity probe in the page: the Recall lab's K × length heatmap, accuracy-vs-K chart and skipped
 * cells; the Claims card "a fixed-size state must forget" with a measured verdict; the demo card's capacity table.
 * Small sizes: SwiftShader on 2 cores runs every probe as a prefill + decode of both models.
 */
import { expect, test, type Page } from '@playwright/test';
import { readFileSync } from 'node:fs';

const shot = (page: Page, name: string) => page.screenshot({ path: `test-results/screens/${name}.png`, fullPage: true });

/** Opens the page (the demo pair loads by itself when autoload is on) and waits for the GPU self-test. */
async function open(page: Page, url: string) {
  await page.goto(url);
  await expect(page.getByTestId('selftest')).toHaveAttribute('data-ok', 'true');
}

async function demoLoaded(page: Page) {
  for (const slot of ['slot-mamba', 'slot-transformer']) {
    const el = page.getByTestId(slot);
    await expect(el).toHaveAttribute('data-status', /ready|error/, { timeout: 120_000 });
    if ((await el.getAttribute('data-status')) === 'error') throw new Error(`${slot} failed to load: ${await el.innerText()}`);
  }
}

// L = 128: K = 1 and 4 fit (a fact is about a dozen tokens), K = 16 does not and must be skipped with its reason.
const SIZES = 'lengths=128&depths=0&trials=1&keys=1,4,16';

/**
 * The two tests with models share one page (SwiftShader compiles the pair's pipelines once): the claims check first,
 * on a page with nothing measured yet, then the recall lab.
 */
test.describe.serial('with the demo pair (one page)', () => {
  let page: Page;

  test.beforeAll(async ({ browser }) => {
    test.setTimeout(300_000);
    page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
    await open(page, `/?tab=claims&probes=multikey&${SIZES}`);
    await demoLoaded(page);
  });
  test.afterAll(async () => {
    await page?.close();
  });

  test('the claims check judges "a fixed-size state must forget" from multikey beside passkey', async () => {
    test.setTimeout(900_000); // SwiftShader on 2 shared cores: a probe can take a minute when the machine is busy
    await expect(page.getByTestId('claim-verdict-forget')).toContainText('Not measured yet');
    await page.getByTestId('run-claim-forget').click();
    const summary = page.getByTestId('claim-forget').locator('.claim-summary');
    await expect(summary).not.toHaveAttribute('data-status', 'no-data', { timeout: 840_000 });
    await expect(page.getByTestId('run-claim-forget')).toBeVisible({ timeout: 840_000 });
    await expect(summary).toContainText('At L=128, from 1 fact to 4 facts: Mamba');
    await expect(summary).toContainText('Passkey (one fact) at L=128');
    await expect(page.getByTestId('claim-verdict-forget')).not.toContainText('Not measured yet');
    await expect(page.getByTestId('chart-claim-forget')).toHaveAttribute('data-points', '4');
    // the passkey claim got its own probes from the same run
    await expect(page.getByTestId('chart-claim-recall')).toHaveAttribute('data-points', '2');
    await expect(page.getByTestId('skip-note')).toContainText('K=16');
    await shot(page, 'claims-forget');
  });

  test('the recall lab measures capacity: K × length heatmap, accuracy vs K, skipped cells', async () => {
    test.setTimeout(900_000); // SwiftShader on 2 shared cores: a probe can take a minute when the machine is busy
    await page.getByTestId('tab-recall').click();
    await expect(page.getByTestId('probe-multikey')).toBeChecked();
    await expect(page.getByTestId('probe-passkey')).not.toBeChecked();
    await page.getByTestId('run-recall').click();
    await expect(page.getByTestId('results-multikey')).toBeVisible({ timeout: 840_000 });
    await expect(page.getByTestId('run-recall')).toBeVisible({ timeout: 840_000 }); // the run is over (no cancel button)
    // 2 cells (K = 1, 4) × 1 probe (depths × trials) × 2 models; every row is a multikey probe with a 4-digit expected value
    await expect(page.getByTestId('recall-row')).toHaveCount(4);
    for (const row of await page.getByTestId('recall-row').all()) {
      await expect(row.locator('td').nth(1)).toHaveText(/^multikey K=(1|4)$/);
      await expect(row.locator('td').nth(5)).toHaveText(/^\d{4}$/);
    }
    for (const arch of ['mamba', 'transformer']) {
      const hm = page.getByTestId(`heatmap-multikey-${arch}`);
      await expect(hm.locator('.hm-cell.filled')).toHaveCount(2);
      await expect(hm.locator('.hm-cell')).toHaveCount(3); // K = 16 shown, not measured
      await expect(hm).toContainText('K=16');
    }
    await expect(page.getByTestId('chart-recall-multikey')).toHaveAttribute('data-points', '4');
    const skip = page.getByTestId('skip-note');
    await expect(skip).toHaveCount(1);
    await expect(skip).toContainText('K=16 facts and the question need up to');
    await expect(skip).toContainText('L=128 is too short');
    await shot(page, 'recall-multikey');
  });
});

test('the demo card shows the capacity sweep when demo-results.json has one', async ({ page }) => {
  // The committed file plus a `multikey` section in the shape tools/demo-card.mjs writes (values made up for the view).
  const base = JSON.parse(readFileSync('public/models/demo-results.json', 'utf8')) as Record<string, unknown>;
  const multikey = {
    keys: [1, 4, 16, 64, 256],
    lengths: [1024, 4096],
    length: 4096,
    probesPerCell: 40,
    mamba: [[0.9, 0.8, 0.5, 0.2, null], [0.85, 0.7, 0.4, 0.1, 0.025]],
    transformer: [[1, 1, 1, 0.95, null], [0.2, 0.1, 0, 0, 0]],
  };
  await page.route('**/models/demo-results.json', (route) => route.fulfill({ json: { ...base, multikey } }));
  await open(page, '/?autoload=0');
  await page.getByTestId('models-more').locator('summary').first().click(); // the demo card is folded away
  const card = page.getByTestId('demo-multikey');
  await expect(card).toContainText('Multikey at 4k');
  await expect(page.getByTestId('demo-multikey-mamba').locator('td')).toHaveText(['Mamba', '85%', '70%', '40%', '10%', '3%'].map((t) => new RegExp(t)));
  await expect(page.getByTestId('demo-multikey-transformer').locator('td').nth(1)).toHaveText('20%');
  await card.locator('summary').click();
  const grid = page.getByTestId('demo-multikey-grid');
  await expect(grid.locator('tbody tr')).toHaveCount(4);
  await expect(grid.locator('tbody tr').first().locator('td').last()).toHaveText('—');
  // the passkey table keeps its shape
  await expect(page.getByTestId('demo-results-transformer').locator('td')).toHaveCount(9);
});
