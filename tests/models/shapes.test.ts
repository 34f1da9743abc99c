/**
 * Shapes transformers accepts that are not multiples of the kernels' tiles, on WebGPU (Dawn), against the float64
 * reference models (src/reference/models.ts, themselves checked against transformers' golden logits in
 * tests/models/golden.test.ts and diagnostics.test.ts): random checkpoints written as safetensors (tests/models/
 * checkpoints.ts) in transformers 5's layout, loaded through the hub path like any repo.
 *   Mamba: d = 80 (dt_rank 5, conv width 3), d = 50 (dt_rank 3, N = 5, conv width 2, biases, no conv bias, tied).
 *   GPT-NeoX: 5 heads of 16 with full rotary, tied; 3 heads of 20 with rot = 5 (odd: transformers rotates 6 dims),
 *   MLP 150, sequential residual, head saved as lm_head.weight; 5 heads of 10 (head dim not a multiple of 4).
 * Each shape: prefill logits at every position, step-by-step decode equal to prefill, greedy generate() picking the
 * reference's argmax.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHubServer, type HubServer } from '../../tools/hub-server.mjs';
import { HubClient, hubSource } from '../../src/hub/hub';
import { loadModel, type LoadedModel } from '../../src/models/load';
import { mambaForward, neoxForward, refMambaConfig, refNeoxConfig } from '../../src/reference/models';
import { gpu, relErr, rng } from '../gpu';
import { mambaJson, neoxJson, randomCheckpoint, writeRepo, type RandomCheckpoint, type Spelling } from './checkpoints';

const V = 128;
const TOL = 1e-3; // the golden tests' bar: f32 kernels against float64

interface Shape { name: string; config: Record<string, unknown>; spelling?: Spelling }
const SHAPES: Shape[] = [
  { name: 'mamba d80 dt_rank5 conv3', config: mambaJson({ hidden: 80, state: 16, layers: 2, conv: 3, vocab: V, tie: false }) },
  { name: 'mamba d50 dt_rank3 N5 conv2 bias', config: mambaJson({ hidden: 50, state: 5, layers: 2, conv: 2, dtRank: 3, vocab: V, tie: true, bias: true, convBias: false }) },
  { name: 'neox 5x16 full rotary tied', config: neoxJson({ hidden: 80, heads: 5, layers: 2, ffn: 180, rotaryPct: 1, parallel: true, vocab: V, tie: true }) },
  { name: 'neox 3x20 rot5 sequential lm_head', config: neoxJson({ hidden: 60, heads: 3, layers: 3, ffn: 150, rotaryPct: 0.25, parallel: false, vocab: V, tie: false }), spelling: { head: 'lm_head' } },
  { name: 'neox 5x10 head dim 10', config: neoxJson({ hidden: 50, heads: 5, layers: 2, ffn: 130, rotaryPct: 0.4, parallel: true, vocab: V, tie: false }) },
];

let root: string;
let server: HubServer;
let client: HubClient;
const cks = new Map<string, RandomCheckpoint>();
beforeAll(async () => {
  root = mkdtempSync(path.join(tmpdir(), 'shapes-'));
  SHAPES.forEach((s, i) => {
    const ck = randomCheckpoint(s.config, 1000 + i, s.spelling);
    writeRepo(root, `shapes/s${i}`, s.config, ck.tensors);
    cks.set(s.name, ck);
  });
  server = await startHubServer({ root });
  client = new HubClient({ baseUrl: server.url, cache: false });
});
afterAll(async () => {
  await server?.close();
  rmSync(root, { recursive: true, force: true });
});

const load = async (i: number): Promise<LoadedModel> => loadModel(await gpu(), hubSource(`shapes/s${i}`, { baseUrl: server.url }), { client });

/** float64 reference logits [l, V] for ids. */
function reference(ck: RandomCheckpoint, ids: number[]): Float64Array {
  const c = ck.config;
  if (c.arch === 'mamba2') throw new Error('shapes.test covers Mamba-1 and GPT-NeoX (Mamba-2: tests/models/mamba2.test.ts)');
  return c.arch === 'mamba' ? mambaForward(refMambaConfig(c), ck.weights, ids) : neoxForward(refNeoxConfig(c), ck.weights, ids);
}
const row = (flat: ArrayLike<number>, r: number) => Array.from(flat).slice(r * V, (r + 1) * V);

function ids(n: number, seed: number): number[] {
  const r = rng(seed);
  return Array.from({ length: n }, () => 1 + Math.floor(r() * (V - 1)));
}

describe.each(SHAPES.map((s, i) => [s.name, i] as const))('%s', (name, i) => {
  it('prefill logits at every position match the float64 reference (also in prefill chunks of 16)', async () => {
    const ck = cks.get(name)!;
    const prompt = ids(40, i);
    const ref = reference(ck, prompt);
    const m = await load(i);
    try {
      const logits = await m.prefill(prompt, { allLogits: true });
      for (let t = 0; t < prompt.length; t++) expect(relErr(row(logits, t), row(ref, t)), `position ${t}`).toBeLessThan(TOL);
      m.reset();
      (m as unknown as { prefillChunk: number }).prefillChunk = 16;
      const last = await m.prefill(prompt);
      expect(relErr(last, row(ref, prompt.length - 1))).toBeLessThan(TOL);
    } finally {
      m.dispose();
    }
  });

  it('step-by-step decode equals the reference; greedy generate() picks its argmax', async () => {
    const ck = cks.get(name)!;
    const seq = ids(24, 100 + i);
    const ref = reference(ck, seq);
    const m = await load(i);
    try {
      let last = await m.prefill(seq.slice(0, 12));
      for (let t = 12; t < seq.length; t++) {
        expect(relErr(last, row(ref, t - 1)), `before token ${t}`).toBeLessThan(TOL);
        last = await m.step(seq[t]);
      }
      expect(relErr(last, row(ref, seq.length - 1))).toBeLessThan(TOL);
      m.reset();
      const prompt = seq.slice(0, 12);
      const out = await m.generate(prompt, { maxNewTokens: 8, temperature: 0, topK: 0, topP: 1, seed: 1 });
      expect(out.ids.length).toBe(8);
      // every generated token is the reference's argmax after the tokens before it (up to float32 ties)
      const full = [...prompt, ...out.ids];
      const r = reference(ck, full);
      for (let j = 0; j < out.ids.length; j++) {
        const logits = row(r, prompt.length - 1 + j);
        const best = Math.max(...logits);
        expect(best - logits[out.ids[j]], `generated token ${j}`).toBeLessThan(1e-4 * (best - Math.min(...logits)));
      }
    } finally {
      m.dispose();
    }
  });
});
