/**
 * PyTorch .bin checkpoints on WebGPU (Dawn) against the float64 reference models: random weights written in
 * torch.save's format by tests/hub/torch-writer.ts, loaded through the hub path with loadModel.
 *   mamba_ssm's own layout (state-spaces/*): its config.json (d_model, n_layer, ssm_cfg {}, vocab 120 padded to 128
 *   rows), backbone.embedding.weight, the tied head saved as lm_head.weight on the embedding's storage, no tokenizer
 *   (taken from EleutherAI/gpt-neox-20b, the companion repo). The padded rows are made large so that an argmax over
 *   all 128 rows would pick them: logits are 120 wide and greedy decoding never leaves the vocabulary.
 *   GPT-NeoX in f16 with Pythia's buffers and a weight saved as a transposed (non-contiguous) view.
 * The real thing — transformers' golden logits on torch.save'd files — is tests/models/bin-golden.test.ts.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHubServer, type HubServer } from '../../tools/hub-server.mjs';
import type { MambaConfig } from '../../src/hub/config';
import { HubClient, hubSource } from '../../src/hub/hub';
import { loadModel, type LoadedModel } from '../../src/models/load';
import { mambaForward, neoxForward, refMambaConfig, refNeoxConfig } from '../../src/reference/models';
import { encodeTensor } from '../hub/st-writer';
import { TINY_TOKENIZER_CONFIG, tinyTokenizerJson } from '../hub/tiny-tokenizer';
import { denseStateDict, torchSave, type PTensor } from '../hub/torch-writer';
import { gpu, relErr, rng } from '../gpu';
import { neoxJson, randomCheckpoint, type RandomCheckpoint } from './checkpoints';

const TOL = 1e-3;
const MAMBA_SSM = { d_model: 32, n_layer: 2, vocab_size: 120, ssm_cfg: {}, rms_norm: true, residual_in_fp32: true, fused_add_norm: true, pad_vocab_size_multiple: 16 };
const V = 120, ROWS = 128;
const NEOX = neoxJson({ hidden: 32, heads: 4, layers: 2, ffn: 64, rotaryPct: 0.25, parallel: true, vocab: 96, tie: false });

let root: string;
let server: HubServer;
let client: HubClient;
let mamba: RandomCheckpoint;
let neox: RandomCheckpoint;

function writeFile(rel: string, data: string | Uint8Array) {
  const p = path.join(root, rel);
  mkdirSync(path.dirname(p), { recursive: true });
  writeFileSync(p, data);
}

beforeAll(async () => {
  root = mkdtempSync(path.join(tmpdir(), 'bin-models-'));
  // mamba_ssm: tied, padded; rows 120..127 of the embedding (= the head) scaled up so they would win an argmax
  mamba = randomCheckpoint(MAMBA_SSM, 4242, { mambaSsmEmbedding: true });
  const emb = mamba.weights.get('backbone.embeddings.weight')!;
  const d = 32;
  for (let i = V * d; i < ROWS * d; i++) emb[i] *= 12;
  const sd = denseStateDict(mamba.tensors);
  const embKey = sd.tensors.find((t) => t.name === 'backbone.embedding.weight')!.storage;
  writeFile('state-spaces/tiny-bin/config.json', JSON.stringify(MAMBA_SSM, null, 4));
  writeFile('state-spaces/tiny-bin/pytorch_model.bin', torchSave(sd.storages, [...sd.tensors, { name: 'lm_head.weight', storage: embKey, shape: [ROWS, d] }], { folder: 'tiny-bin' }));
  writeFile('EleutherAI/gpt-neox-20b/tokenizer.json', JSON.stringify(tinyTokenizerJson()));
  writeFile('EleutherAI/gpt-neox-20b/tokenizer_config.json', JSON.stringify(TINY_TOKENIZER_CONFIG));

  // GPT-NeoX, f16, old Pythia buffers, attention.dense.weight of layer 1 stored transposed (a non-contiguous view)
  neox = randomCheckpoint(NEOX, 4343, { dtype: 'F16', head: 'embed_out' });
  const nsd = denseStateDict(neox.tensors);
  const tname = 'gpt_neox.layers.1.attention.dense.weight';
  const ti = nsd.tensors.findIndex((t) => t.name === tname);
  const w = neox.tensors.find((t) => t.name === tname)!;
  const [rows, cols] = w.shape;
  const transposed = Array.from({ length: rows * cols }, (_, k) => (w.data as ArrayLike<number>)[(k % rows) * cols + Math.floor(k / rows)]); // [cols, rows]
  nsd.storages[ti] = { ...nsd.storages[ti], bytes: encodeTensor({ name: tname, dtype: 'F16', shape: [cols, rows], data: transposed }) };
  nsd.tensors[ti] = { name: tname, storage: nsd.storages[ti].key, shape: [rows, cols], stride: [1, rows] };
  const extra: PTensor[] = [];
  for (let i = 0; i < 2; i++) {
    const key = `mask${i}`;
    nsd.storages.push({ key, type: 'BoolStorage', bytes: new Uint8Array(64).fill(1) });
    extra.push({ name: `gpt_neox.layers.${i}.attention.bias`, storage: key, shape: [1, 1, 8, 8] });
  }
  writeFile('org/neox-bin/config.json', JSON.stringify(NEOX));
  writeFile('org/neox-bin/tokenizer.json', JSON.stringify(tinyTokenizerJson()));
  writeFile('org/neox-bin/pytorch_model.bin', torchSave(nsd.storages, [...nsd.tensors, ...extra]));

  server = await startHubServer({ root });
  client = new HubClient({ baseUrl: server.url, cache: false });
});
afterAll(async () => {
  await server?.close();
  rmSync(root, { recursive: true, force: true });
});

const load = async (repo: string): Promise<LoadedModel> => loadModel(await gpu(), hubSource(repo, { baseUrl: server.url }), { client });
const ids = (n: number, vocab: number, seed: number) => {
  const r = rng(seed);
  return Array.from({ length: n }, () => 1 + Math.floor(r() * (vocab - 1)));
};
const argmax = (a: ArrayLike<number>, from: number, n: number) => {
  let best = 0;
  for (let i = 1; i < n; i++) if (a[from + i] > a[from + best]) best = i;
  return best;
};

describe("mamba_ssm's .bin (state-spaces layout)", () => {
  it('logits over the 120-token vocabulary match the reference; the tokenizer comes from EleutherAI/gpt-neox-20b', async () => {
    const m = await load('state-spaces/tiny-bin');
    try {
      expect(m.tokenizerFrom).toBe('EleutherAI/gpt-neox-20b');
      expect(m.vocabSize).toBe(V);
      expect((m.config as MambaConfig).paddedVocabSize).toBe(ROWS);
      const prompt = ids(24, V, 1);
      const ref = mambaForward(refMambaConfig(mamba.config as MambaConfig), mamba.weights, prompt);
      const logits = await m.prefill(prompt, { allLogits: true });
      expect(logits.length).toBe(prompt.length * V);
      expect(relErr(logits, ref)).toBeLessThan(TOL);
      // the padded rows would have won: over all 128 rows the argmax is padding at most positions
      const wide = mambaForward({ ...refMambaConfig(mamba.config as MambaConfig), vocab: ROWS }, mamba.weights, prompt);
      const padWins = prompt.filter((_, t) => argmax(wide, t * ROWS, ROWS) >= V).length;
      expect(padWins).toBeGreaterThan(prompt.length / 2);
    } finally {
      m.dispose();
    }
  });

  it('greedy decoding picks the reference argmax over the vocabulary, never a padded row', async () => {
    const m = await load('state-spaces/tiny-bin');
    try {
      const prompt = ids(12, V, 2);
      const seq = prompt.slice();
      const want: number[] = [];
      for (let i = 0; i < 8; i++) {
        const ref = mambaForward(refMambaConfig(mamba.config as MambaConfig), mamba.weights, seq);
        const t = argmax(ref, (seq.length - 1) * V, V);
        want.push(t);
        seq.push(t);
      }
      const out = await m.generate(prompt, { maxNewTokens: 8, temperature: 0, topK: 0, topP: 1, seed: 1 });
      expect(out.ids).toEqual(want);
      // sampling at temperature 1 stays inside the vocabulary too
      const s = await m.generate(prompt, { maxNewTokens: 16, temperature: 1, topK: 0, topP: 1, seed: 3 });
      expect(s.ids.every((t) => t < V)).toBe(true);
    } finally {
      m.dispose();
    }
  });
});

describe('GPT-NeoX .bin: f16, Pythia buffers, a transposed weight view', () => {
  it('prefill logits match the reference', async () => {
    const m = await load('org/neox-bin');
    try {
      expect(m.tokenizerFrom).toBeNull();
      const prompt = ids(20, 96, 3);
      const ref = neoxForward(refNeoxConfig(neox.config as never), neox.weights, prompt);
      const logits = await m.prefill(prompt, { allLogits: true });
      expect(relErr(logits, ref)).toBeLessThan(TOL);
    } finally {
      m.dispose();
    }
  });
});
