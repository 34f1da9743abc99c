/**
 * The Mamba-2 model (src/models/mamba2.ts) on WebGPU (Dawn) against the float64 reference model
 * (src/reference/mamba2.ts: the plain recurrence and mamba_ssm's group-wise gated norm), on random checkpoints written
 * as transformers 5 writes Mamba2ForCausalLM (tests/models/checkpoints.ts) and loaded through the hub path:
 *   d 64, 8 heads × 16, N 16, one group, conv 4, tied head; config time_step_limit [0, {"__float__": "Infinity"}]
 *   d 42, 14 heads × 6 (head dim not a multiple of 4), two groups, N 12, conv 3, in/out_proj biases, untied head,
 *     time_step_limit (0.002, 0.08) (clamps most steps)
 *   d 48, 4 heads × 24, four groups, N 8, conv 2, no conv bias, 3 layers; config.json with a bare Infinity (Python's json)
 *   the first shape with f16 weights, the second with bf16 weights (prefill only)
 * Each: prefill logits at every position (fused and sequential SSD, also in prefill chunks of 16), step-by-step decode
 * equal to the reference, greedy generate() picking its argmax, the mean Δ diagnostics, the state's bytes.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHubServer, type HubServer } from '../../tools/hub-server.mjs';
import type { Mamba2Config } from '../../src/hub/config';
import { HubClient, hubSource } from '../../src/hub/hub';
import type { CausalLM } from '../../src/models/base';
import { loadModel, type LoadedModel } from '../../src/models/load';
import { mamba2Forward, refMamba2Config } from '../../src/reference/mamba2';
import { relErr, rng } from '../gpu';
import { gpu } from '../gpu';
import { randomCheckpoint, writeRepo, type RandomCheckpoint } from './checkpoints';

const V = 128;
const TOL = 1e-3; // the golden tests' bar: f32 kernels against float64

/** config.json of a Mamba2ForCausalLM as transformers 5 writes it (infinity as {"__float__": "Infinity"}). */
export function mamba2Json(o: {
  hidden: number; heads: number; headDim: number; groups: number; state: number; layers: number; conv: number; vocab: number;
  tie: boolean; bias?: boolean; convBias?: boolean; limit?: [number, number]; chunk?: number;
}): Record<string, unknown> {
  const lim = o.limit ?? [0, Infinity];
  return {
    architectures: ['Mamba2ForCausalLM'], model_type: 'mamba2', hidden_size: o.hidden, num_heads: o.heads, head_dim: o.headDim,
    n_groups: o.groups, state_size: o.state, num_hidden_layers: o.layers, expand: (o.heads * o.headDim) / o.hidden,
    conv_kernel: o.conv, chunk_size: o.chunk ?? 256, use_bias: o.bias ?? false, use_conv_bias: o.convBias ?? true,
    hidden_act: 'silu', layer_norm_epsilon: 1e-5, residual_in_fp32: true, rms_norm: true, rescale_prenorm_residual: false,
    time_step_limit: lim.map((v) => (v === Infinity ? { __float__: 'Infinity' } : v)), time_step_min: 0.001, time_step_max: 0.1,
    time_step_floor: 1e-4, time_step_rank: Math.ceil(o.hidden / 16), tie_word_embeddings: o.tie, vocab_size: o.vocab,
    bos_token_id: 0, eos_token_id: 0, pad_token_id: 0, initializer_range: 0.1, use_cache: true, dtype: 'float32',
    transformers_version: '5.17.0',
  };
}

interface Shape { name: string; config: Record<string, unknown>; dtype?: 'F16' | 'BF16'; bareInfinity?: boolean; only?: 'prefill' }
const SHAPES: Shape[] = [
  { name: 'h8×16 N16 g1 conv4 tied', config: mamba2Json({ hidden: 64, heads: 8, headDim: 16, groups: 1, state: 16, layers: 2, conv: 4, vocab: V, tie: true }) },
  {
    name: 'h14×6 N12 g2 conv3 bias untied, Δ clamped',
    config: mamba2Json({ hidden: 42, heads: 14, headDim: 6, groups: 2, state: 12, layers: 2, conv: 3, vocab: V, tie: false, bias: true, limit: [0.002, 0.08], chunk: 16 }),
  },
  {
    name: 'h4×24 N8 g4 conv2 no conv bias, 3 layers, bare Infinity',
    config: mamba2Json({ hidden: 48, heads: 4, headDim: 24, groups: 4, state: 8, layers: 3, conv: 2, vocab: V, tie: true, convBias: false, chunk: 7 }),
    bareInfinity: true,
  },
  { name: 'h8×16 N16 g1 f16 weights', config: mamba2Json({ hidden: 64, heads: 8, headDim: 16, groups: 1, state: 16, layers: 2, conv: 4, vocab: V, tie: true }), dtype: 'F16' },
  {
    name: 'h14×6 N12 g2 bf16 weights (prefill only)',
    config: mamba2Json({ hidden: 42, heads: 14, headDim: 6, groups: 2, state: 12, layers: 2, conv: 3, vocab: V, tie: false }),
    dtype: 'BF16', only: 'prefill',
  },
];

let root: string;
let server: HubServer;
let client: HubClient;
const cks = new Map<string, RandomCheckpoint>();
beforeAll(async () => {
  root = mkdtempSync(path.join(tmpdir(), 'mamba2-'));
  SHAPES.forEach((s, i) => {
    const ck = randomCheckpoint(s.config, 2000 + i, { dtype: s.dtype });
    writeRepo(root, `m2/s${i}`, s.config, ck.tensors);
    if (s.bareInfinity) {
      // as Python's json.dump writes float('inf') (not JSON; parseJson reads it)
      const file = path.join(root, `m2/s${i}`, 'config.json');
      writeFileSync(file, readFileSync(file, 'utf8').replace(/\{\s*"__float__":\s*"Infinity"\s*\}/, 'Infinity'));
    }
    cks.set(s.name, ck);
  });
  server = await startHubServer({ root });
  client = new HubClient({ baseUrl: server.url, cache: false });
});
afterAll(async () => {
  await server?.close();
  rmSync(root, { recursive: true, force: true });
});

const load = async (i: number, maxBlockBytes?: number): Promise<LoadedModel> =>
  loadModel(await gpu(), hubSource(`m2/s${i}`, { baseUrl: server.url }), { client, maxBlockBytes });

function reference(ck: RandomCheckpoint, ids: number[], diag?: Float64Array[]): Float64Array {
  if (ck.config.arch !== 'mamba2') throw new Error('not a Mamba-2 config');
  return mamba2Forward(refMamba2Config(ck.config), ck.weights, ids, diag);
}
const row = (flat: ArrayLike<number>, r: number) => Array.from(flat).slice(r * V, (r + 1) * V);

function ids(n: number, seed: number): number[] {
  const r = rng(seed);
  return Array.from({ length: n }, () => 1 + Math.floor(r() * (V - 1)));
}

describe.each(SHAPES.map((s, i) => [s.name, i] as const))('%s', (name, i) => {
  const full = SHAPES[i].only !== 'prefill';
  it('prefill logits at every position match the float64 reference (fused and sequential; in prefill chunks of 16)', async () => {
    const ck = cks.get(name)!;
    const prompt = ids(40, i);
    const ref = reference(ck, prompt);
    const m = await load(i);
    try {
      expect(m.arch).toBe('mamba2');
      for (const scan of ['fused', 'sequential'] as const) {
        m.kernels = { ...m.kernels, scan };
        m.reset();
        const logits = await m.prefill(prompt, { allLogits: true });
        for (let t = 0; t < prompt.length; t++) expect(relErr(row(logits, t), row(ref, t)), `${scan} position ${t}`).toBeLessThan(TOL);
      }
      m.kernels = { ...m.kernels, scan: 'fused' };
      m.reset();
      (m as unknown as { prefillChunk: number }).prefillChunk = 16;
      const last = await m.prefill(prompt);
      expect(relErr(last, row(ref, prompt.length - 1))).toBeLessThan(TOL);
    } finally {
      m.dispose();
    }
  });

  it.runIf(full)('step-by-step decode equals the reference; greedy generate() picks its argmax', async () => {
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
      const prompt = seq.slice(0, 12);
      const out = await m.generate(prompt, { maxNewTokens: 8, temperature: 0, topK: 0, topP: 1, seed: 1 });
      expect(out.ids.length).toBe(8);
      // the recorded, fused step ran: embedding + three dispatches per layer + head + sampler
      const layers = (ck.config as Mamba2Config).numHiddenLayers;
      expect((m as unknown as CausalLM).decodeDispatchesPerStep).toBeGreaterThanOrEqual(1 + 3 * layers + 2);
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

  it.runIf(full)('diagnostics: mean Δ per token per layer; state bytes = layers × (h·p·n + (k−1)·conv_dim) × 4', async () => {
    const ck = cks.get(name)!;
    const c = ck.config as Mamba2Config;
    const prompt = ids(30, 200 + i);
    const want: Float64Array[] = [];
    reference(ck, prompt, want);
    const m = await load(i);
    try {
      const d = await m.diagnostics(prompt);
      expect(d.kind).toBe('delta');
      expect(d.layers.length).toBe(c.numHiddenLayers);
      for (let l = 0; l < c.numHiddenLayers; l++) expect(relErr(d.layers[l], want[l]), `layer ${l}`).toBeLessThan(1e-4);
      const state = c.numHiddenLayers * (c.numHeads * c.headDim * c.stateSize + (c.convKernel - 1) * c.convDim) * 4;
      expect(m.memory().ssmState).toBe(state);
      await m.prefill(ids(70, 3));
      expect(m.memory().ssmState).toBe(state);
      expect(m.memory().kvCache).toBe(0);
    } finally {
      m.dispose();
    }
  });
});

describe('decode without the recorded step', () => {
  it('in_proj split into row blocks: the per-op decode (prefill kernels at l = 1) gives the same greedy tokens', async () => {
    const prompt = ids(10, 7);
    const fused = await load(1);
    const split = await load(1, 4096);
    try {
      expect((split as unknown as { fusedDecodeBlocker(): string | null }).fusedDecodeBlocker()).toMatch(/split into/);
      const opts = { maxNewTokens: 6, temperature: 0, topK: 0, topP: 1, seed: 1 };
      const a = await fused.generate(prompt, opts);
      const b = await split.generate(prompt, opts);
      expect(b.ids).toEqual(a.ids);
      expect((split as unknown as CausalLM).decodeDispatchesPerStep).toBe(0);
    } finally {
      fused.dispose();
      split.dispose();
    }
  });
});
