/**
 * The hosted page: `npm run build` writes a static site (dist/) that works from any subpath. Served here as a project
 * site is (GitHub Pages: https://user.github.io/mamba-vs-transformer/), by a plain static server with no fallback page
 * and nothing outside the subpath, offline: every request that leaves the subpath is blocked and counted.
 */
import { expect, test } from '@playwright/test';
import { existsSync } from 'node:fs';
import { startHubServer, type HubServer } from '../tools/hub-server.mjs';

const SUBPATH = '/mamba-vs-transformer/';
let server: HubServer;

test.beforeAll(async () => {
  test.skip(!existsSync('dist/index.html'), 'run `npx vite build` first');
  server = await startHubServer({ root: 'dist', prefix: SUBPATH });
});
test.afterAll(async () => {
  await server?.close();
});

test('the built site works from a subpath, offline: page, worker, demo pair, bundled documents and benchmarks', async ({ page }) => {
  test.skip(!existsSync('dist/models/demo-mamba/config.json'), 'demo models are not in public/models');
  const site = server.siteUrl;
  const outside: string[] = [];
  // On the context, so that the GPU worker's requests (the models) are seen too.
  await page.context().route(
    (u) => !u.href.startsWith(site) && u.href !== site.slice(0, -1),
    (route) => {
      outside.push(route.request().url());
      return route.abort('internetdisconnected');
    },
  );
  const failed: string[] = [];
  // ERR_ABORTED: the page itself stopped reading (the loader reads a checkpoint's header, then cancels that stream).
  page.context().on('requestfailed', (r) => {
    if (r.failure()?.errorText !== 'net::ERR_ABORTED') failed.push(`${r.url()}: ${r.failure()?.errorText}`);
  });
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));

  // Without the trailing slash first: the server redirects to the folder, as static hosts do.
  await page.goto(site.slice(0, -1));
  await expect(page).toHaveURL(site);
  await expect(page.getByTestId('selftest')).toHaveAttribute('data-ok', 'true'); // the worker started from the subpath
  for (const slot of ['slot-mamba', 'slot-transformer']) {
    await expect(page.getByTestId(slot)).toHaveAttribute('data-status', /ready|error/, { timeout: 120_000 });
    expect(await page.getByTestId(slot).getAttribute('data-status'), await page.getByTestId(slot).innerText()).toBe('ready');
  }
  await expect(page.getByTestId('demo-results')).toContainText('Passkey'); // models/demo-results.json

  await page.getByTestId('prompt').fill('The harbour master');
  await page.getByTestId('max-new').fill('4');
  await page.getByTestId('generate').click();
  for (const a of ['mamba', 'transformer']) await expect(page.getByTestId(`output-${a}`)).toHaveAttribute('data-done', 'true', { timeout: 120_000 });
  await expect(page.getByTestId('compare-error')).toHaveCount(0);

  // The recall lab's bundled documents (docs/index.json, then the chosen text).
  await page.getByTestId('tab-recall').click();
  await expect(page.getByTestId('doc-check')).toHaveAttribute('data-ok', 'true');
  await page.getByTestId('tab-benchmarks').click();
  await expect(page.getByTestId('bench-chart-models-decode')).not.toHaveAttribute('data-points', '0');

  expect(outside, 'requests outside the subpath').toEqual([]);
  expect(failed, 'failed requests').toEqual([]);
  expect(errors, 'page errors').toEqual([]);
  const served = server.requests.map((r) => `${r.status} ${r.path}`);
  expect(served.filter((r) => !/^(200|206|301|304) /.test(r)), 'requests the server could not answer').toEqual([]);
  for (const file of ['models/demo-mamba/model.safetensors', 'models/demo-pythia/tokenizer.json', 'models/demo-results.json', 'docs/index.json', 'docs/harbour-ledger.txt']) {
    expect(served, file).toContain(`200 ${SUBPATH}${file}`);
  }
  expect(served.some((r) => /^200 \/mamba-vs-transformer\/assets\/gpu\.worker-.*\.js$/.test(r)), 'the worker script').toBe(true);
});
