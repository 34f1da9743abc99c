/**
 * PyTorch .bin checkpoints written by torch.save itself (tools/make_bin_fixtures.py on the GPU machine: torch 2.11,
 * transformers 5.17) on WebGPU (Dawn) against transformers' float64 logits on the same weights:
 *   mamba-ssm            mamba_ssm's save_pretrained: torch.save(state_dict) + its config.json (ssm_cfg {}: every
 *                        default), tied head on the embedding's storage, vocab 515 padded to 528 rows, no tokenizer
 *                        (taken from tiny-random/mamba here, as state-spaces/* take EleutherAI/gpt-neox-20b's)
 *   mamba-ssm-f16 / -bf16  the same weights in half precision
 *   mamba-ssm-untied     mamba_ssm 2.x config (ssm_cfg layer Mamba1, d_state 8, d_conv 3, dt_rank 3, bias), untied head
 *   mamba-ssm-sharded    its weights in .bin shards + pytorch_model.bin.index.json
 *   pythia-bin           GPT-NeoX saved as old Pythia revisions are (embed_out, bool attention.bias buffers, f16)
 *   pythia-bin-sharded   the same in shards
 * The padded head rows are large in these files (an argmax over all rows would pick them); the model's logits cover
 * the vocabulary only, and greedy tokens must equal transformers' argmax over logits[:vocab_size] (mamba_ssm's rule).
 */
import { existsSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHubServer } from '../../tools/hub-server.mjs';
import { HubClient, hubSource } from '../../src/hub/hub';
import { loadModel, type LoadedModel } from '../../src/models/load';
import { gpu, relErr } from '../gpu';
import { HUB_ROOT, tinyDir } from './tiny';

interface Golden {
  prompt_text: string;
  prompt_ids: number[];
  vocab_size: number;
  sample_vocab_size: number;
  logits: number[];
  greedy_ids: number[];
  greedy_logits: number[];
}

/** repo → the repo whose golden.json holds its logits (a sharded copy has the same weights). */
const REPOS: Record<string, string> = {
  'mamba-ssm': 'mamba-ssm',
  'mamba-ssm-f16': 'mamba-ssm-f16',
  'mamba-ssm-bf16': 'mamba-ssm-bf16',
  'mamba-ssm-untied': 'mamba-ssm-untied',
  'mamba-ssm-sharded': 'mamba-ssm-untied',
  'pythia-bin': 'pythia-bin',
  'pythia-bin-sharded': 'pythia-bin',
};
const present = Object.keys(REPOS).filter((r) => existsSync(`${tinyDir(r)}/config.json`));

let server: Awaited<ReturnType<typeof startHubServer>>;
let client: HubClient;
beforeAll(async () => {
  server = await startHubServer({ root: HUB_ROOT });
  client = new HubClient({ baseUrl: server.url, cache: false });
});
afterAll(() => server?.close());

const golden = (repo: string): Golden => JSON.parse(readFileSync(`${tinyDir(REPOS[repo])}/golden.json`, 'utf8')) as Golden;
const load = async (repo: string): Promise<LoadedModel> =>
  loadModel(await gpu(), hubSource(`tiny-random/${repo}`, { baseUrl: server.url }), {
    client,
    tokenizerSource: hubSource('tiny-random/mamba', { baseUrl: server.url }), // only for repos without a tokenizer
  });
/** Row r of a [rows, W] golden matrix, its first n entries. */
const row = (flat: ArrayLike<number>, r: number, W: number, n = W) => Array.from(flat).slice(r * W, r * W + n);

describe.skipIf(present.length === 0)('torch.save fixtures (tools/make_bin_fixtures.py)', () => {
  it('are all present, and their golden files would catch a sampler that picks padded rows', () => {
    expect(present).toEqual(Object.keys(REPOS));
    for (const repo of ['mamba-ssm', 'mamba-ssm-untied']) {
      const g = golden(repo);
      expect(g.vocab_size).toBeGreaterThan(g.sample_vocab_size); // padded rows in the file
      // over all rows, the argmax is a padded row at some greedy step
      const steps = g.greedy_ids.map((_, i) => row(g.greedy_logits, i, g.vocab_size));
      expect(steps.some((r) => r.indexOf(Math.max(...r)) >= g.sample_vocab_size), repo).toBe(true);
    }
    for (const repo of ['mamba-ssm', 'mamba-ssm-f16', 'mamba-ssm-bf16']) expect(existsSync(`${tinyDir(repo)}/tokenizer.json`), repo).toBe(false);
    expect(existsSync(`${tinyDir('pythia-bin')}/pytorch_model.bin`)).toBe(true);
    expect(existsSync(`${tinyDir('mamba-ssm-sharded')}/pytorch_model.bin.index.json`)).toBe(true);
  });

  describe.each(present)('tiny-random/%s', (repo) => {
    it('prefill logits match transformers (float64) within 1e-3 relative at every position; tokenizer ids match', async () => {
      const g = golden(repo);
      const m = await load(repo);
      try {
        expect(m.weightFiles.format).toBe('pytorch');
        expect(m.tokenizer.encode(g.prompt_text, { addSpecialTokens: false })).toEqual(g.prompt_ids);
        const V = g.sample_vocab_size, W = g.vocab_size;
        expect(m.vocabSize).toBe(V);
        const logits = await m.prefill(g.prompt_ids, { allLogits: true });
        expect(logits.length).toBe(g.prompt_ids.length * V);
        for (let t = 0; t < g.prompt_ids.length; t++) {
          expect(relErr(row(logits, t, V), row(g.logits, t, W, V)), `position ${t}`).toBeLessThan(1e-3);
        }
      } finally {
        m.dispose();
      }
    });

    it('step-by-step decode follows the golden logits; greedy generate() gives the golden tokens', async () => {
      const g = golden(repo);
      const m = await load(repo);
      try {
        const V = g.sample_vocab_size, W = g.vocab_size;
        let last = await m.prefill(g.prompt_ids);
        for (let i = 0; i < g.greedy_ids.length; i++) {
          expect(relErr(last, row(g.greedy_logits, i, W, V)), `step ${i}`).toBeLessThan(1e-3);
          last = await m.step(g.greedy_ids[i]);
        }
        const out = await m.generate(g.prompt_ids, { maxNewTokens: g.greedy_ids.length, temperature: 0, topK: 0, topP: 1, seed: 1 });
        expect(out.ids).toEqual(g.greedy_ids);
      } finally {
        m.dispose();
      }
    });
  });
});
