/**
 * Checkpoints as the authors publish them, through the page: the pair "Mamba 130M (authors' .bin) vs Pythia 160M"
 * loaded from a local server in the hub's URL layout (tools/hub-server.mjs, the page's hub URL pointed at it) whose
 * repos are the torch.save fixtures of tools/make_bin_fixtures.py under the real repo names:
 *   state-spaces/mamba-130m   → tiny-random/mamba-ssm (mamba_ssm config, pytorch_model.bin, no tokenizer)
 *   EleutherAI/gpt-neox-20b   → tiny-random/mamba's tokenizer files (the companion tokenizer repo)
 *   EleutherAI/pythia-160m    → tiny-random/pythia-bin (an old-Pythia-style pytorch_model.bin)
 *   state-spaces/mamba-370m   → a pytorch_model.bin whose pickle calls os.system (refused, naming it)
 *   EleutherAI/pythia-410m    → pythia-bin's pytorch_model.bin cut short (a truncated download: refused)
 * The bad pair is loaded first: both slots say what is wrong, and the good pair then loads and generates.
 */
import { expect, test, type Page } from '@playwright/test';
import { existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { startHubServer, type HubServer } from '../tools/hub-server.mjs';
import { PickleWriter, torchSaveDense } from '../tests/hub/torch-writer';
import { FIX, linkedHubRoot } from './fixture-hub';

let root: string;
let server: HubServer;

test.beforeAll(async () => {
  test.skip(!existsSync('dist/index.html'), 'run `npx vite build` first');
  root = linkedHubRoot({ 'state-spaces/mamba-130m': 'mamba-ssm', 'EleutherAI/gpt-neox-20b': 'mamba', 'EleutherAI/pythia-160m': 'pythia-bin' });
  const bad = (repo: string, fixture: string, bin: Uint8Array) => {
    const dir = path.join(root, repo);
    mkdirSync(dir, { recursive: true });
    for (const f of ['config.json', 'tokenizer.json']) {
      if (existsSync(path.join(FIX, fixture, 'resolve/main', f))) symlinkSync(path.join(FIX, fixture, 'resolve/main', f), path.join(dir, f));
    }
    writeFileSync(path.join(dir, 'pytorch_model.bin'), bin);
  };
  const pickle = new PickleWriter().op(0x80, 2).global('os', 'system').str('touch /tmp/pwned-by-e2e').op(0x85, 0x52, 0x2e).bytes();
  bad('state-spaces/mamba-370m', 'mamba-ssm', torchSaveDense([{ name: 'x', dtype: 'F32', shape: [2] }], { pickle }));
  const pythiaBin = path.join(FIX, 'pythia-bin/resolve/main/pytorch_model.bin');
  if (existsSync(pythiaBin)) {
    const whole = readFileSync(pythiaBin);
    bad('EleutherAI/pythia-410m', 'pythia-bin', whole.subarray(0, Math.floor(whole.byteLength * 0.7)));
  }
  server = await startHubServer({ root });
});
test.afterAll(async () => {
  await server?.close();
  if (root) rmSync(root, { recursive: true, force: true });
});

/** Load the chosen pair: its configs are checked and its download sized first, then confirmed (nothing is cached). */
async function loadConfirmed(page: Page) {
  await page.getByTestId('load-models').click();
  await expect(page.getByTestId('confirm-download')).toContainText('Download');
  await page.getByTestId('confirm-load').click();
}

test("bad .bin files are refused with clear errors; then the authors' .bin checkpoints load and generate, the companion tokenizer named", async ({ page }) => {
  test.skip(!existsSync(path.join(FIX, 'mamba-ssm/resolve/main/pytorch_model.bin')), 'tools/make_bin_fixtures.py output is not in tests/fixtures/hub');
  test.setTimeout(360_000); // a pair loaded and generating on SwiftShader (pipeline compiles), on a shared CPU
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  await page.goto(`/?autoload=0&hub=${encodeURIComponent(server.url)}&pair=370m-ssm`);
  await expect(page.getByTestId('selftest')).toHaveAttribute('data-ok', 'true');

  // The bad pair: a pickle that names os.system, a truncated file. Each slot says what is wrong; nothing ran.
  await loadConfirmed(page);
  for (const slot of ['slot-mamba', 'slot-transformer']) await expect(page.getByTestId(slot)).toHaveAttribute('data-status', 'error', { timeout: 120_000 });
  await expect(page.getByTestId('slot-mamba')).toContainText('pytorch_model.bin of state-spaces/mamba-370m: data.pkl: refusing to load: the pickle names the global os.system');
  await expect(page.getByTestId('slot-transformer')).toContainText('pytorch_model.bin of EleutherAI/pythia-410m: truncated');
  await expect(page.getByTestId('slot-mamba')).toContainText('(a pickle that could run code), so it was not loaded. Nothing from it ran.');
  await expect(page.getByTestId('slot-transformer')).toContainText('incomplete or damaged');
  expect(existsSync('/tmp/pwned-by-e2e')).toBe(false);

  // The good pair, in the same page.
  await page.getByTestId('pair-130m-ssm').click();
  await expect(page.getByTestId('pair-130m-ssm')).toContainText('tokenizer: EleutherAI/gpt-neox-20b');
  await loadConfirmed(page);
  for (const slot of ['slot-mamba', 'slot-transformer']) {
    await expect(page.getByTestId(slot)).toHaveAttribute('data-status', /ready|error/, { timeout: 120_000 });
    expect(await page.getByTestId(slot).getAttribute('data-status'), await page.getByTestId(slot).innerText()).toBe('ready');
  }
  await expect(page.getByTestId('slot-mamba')).toContainText('state-spaces/mamba-130m');
  await expect(page.getByTestId('tokenizer-from-mamba')).toContainText('tokenizer from EleutherAI/gpt-neox-20b');
  await expect(page.getByTestId('weights-mamba')).toContainText('PyTorch .bin');
  await expect(page.getByTestId('weights-transformer')).toContainText('PyTorch .bin');
  await expect(page.getByTestId('tokenizer-from-transformer')).toHaveCount(0);
  await expect(page.getByTestId('slot-mamba')).toContainText('vocab 515'); // 528 rows in the file, 515 tokens

  await page.getByTestId('prompt').fill('The quick brown fox');
  await page.getByTestId('max-new').fill('4');
  await page.getByTestId('generate').click();
  for (const a of ['mamba', 'transformer']) await expect(page.getByTestId(`output-${a}`)).toHaveAttribute('data-done', 'true', { timeout: 120_000 });
  await expect(page.getByTestId('compare-error')).toHaveCount(0);
  await page.screenshot({ path: 'test-results/screens/authors-bin.png', fullPage: true });

  const served = server.requests.map((r) => `${r.status} ${r.path}`);
  for (const f of ['/state-spaces/mamba-130m/resolve/main/pytorch_model.bin', '/EleutherAI/gpt-neox-20b/resolve/main/tokenizer.json', '/EleutherAI/pythia-160m/resolve/main/pytorch_model.bin']) {
    expect(served, f).toContain(`200 ${f}`);
  }
  expect(errors, 'page errors').toEqual([]);
});
