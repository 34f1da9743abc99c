/**
 * The recorded, fused decode step of both models (src/models/base.ts decodeBatch / step) against the float64 CPU
 * reference models (src/reference/models.ts) on shapes transformers accepts that are multiples of nothing:
 * hidden 80 / 90 / 96, dt_rank 5, conv width 3, state 12, 5 and 3 heads (head dims 18 and 32), partial rotary,
 * sequential residual, f32 and f16 weights, untied heads, odd vocabularies. Plus: GPU sampling against the CPU
 * oracle with the same uniforms, batches submitted before the previous readback, the unfused fallback, and
 * checkpoints with NaN weights giving an error that names the model.
 */
import { mkdtempSync, mkdirSync, readFileSync, readdirSync, copyFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gpu, relErr, rng } from '../gpu';
import { parseConfig, type GptNeoxConfig, type MambaConfig } from '../../src/hub/config';
import { f32ToF16Bits } from '../../src/hub/dtype';
import { roundToF16 } from '../../src/math/f16';
import { GptNeoxModel, gptNeoxTensorSpecs } from '../../src/models/gptneox';
import { KernelOps } from '../../src/models/kernel-ops';
import { MambaModel, mambaTensorSpecs } from '../../src/models/mamba';
import { NonFiniteLogitsError, type CausalLM } from '../../src/models/base';
import { WeightStore } from '../../src/models/weights';
import { loadModel } from '../../src/models/load';
import { HubClient, hubSource } from '../../src/hub/hub';
import { mambaForward, neoxForward, type Weights } from '../../src/reference/models';
import { hashUniform, sampleRef } from '../../src/reference/sampling';
import { startHubServer } from '../../tools/hub-server.mjs';
import { writeSafetensors, type WTensor } from '../hub/st-writer';
import { HUB_ROOT } from './tiny';

type Cfg = MambaConfig | GptNeoxConfig;

/** Random weights for a config: small uniform matrices, norms near 1, A_log = log(1..N), dt bias −3 (Δ ≈ 0.05). */
function randomWeights(cfg: Cfg, seed: number, f16: boolean): Weights {
  const specs = cfg.arch === 'mamba' ? mambaTensorSpecs(cfg) : gptNeoxTensorSpecs(cfg);
  const r = rng(seed);
  const w: Weights = new Map();
  for (const s of specs) {
    if (s.optional && !(cfg.arch === 'gpt-neox' && s.name.endsWith('.bias')) && !s.name.startsWith('lm_head') && !s.name.startsWith('embed_out')) continue;
    const n = s.shape.reduce((a, b) => a * b, 1);
    let data = Float32Array.from({ length: n }, () => (r() - 0.5) * 0.6);
    if (s.name.endsWith('A_log')) data = data.map((_, i) => Math.log(1 + (i % s.shape[1])));
    else if (s.name.endsWith('norm.weight') || s.name.endsWith('layernorm.weight') || s.name.endsWith('norm_f.weight')) data = data.map((v) => 1 + v * 0.3);
    else if (s.name.endsWith('dt_proj.bias')) data = data.map((v) => -3 + v);
    else if (s.name.endsWith('embeddings.weight') || s.name.endsWith('embed_in.weight')) data = data.map((v) => v * 3);
    w.set(s.name, f16 ? roundToF16(data) : data);
  }
  return w;
}

function buildModel(ctx: Awaited<ReturnType<typeof gpu>>, cfg: Cfg, w: Weights, f16: boolean, name: string, maxBlockBytes?: number): CausalLM {
  const specs = cfg.arch === 'mamba' ? mambaTensorSpecs(cfg) : gptNeoxTensorSpecs(cfg);
  const store = new WeightStore(ctx, specs, { maxBlockBytes });
  for (const [k, v] of w) {
    const shape = specs.find((s) => s.name === k)!.shape;
    const bytes = f16 ? new Uint8Array(Uint16Array.from(Array.from(v, f32ToF16Bits)).buffer) : new Uint8Array(v.buffer.slice(0));
    store.accept(k, f16 ? 'F16' : 'F32', shape, bytes);
  }
  store.finish();
  const ops = new KernelOps(ctx);
  return cfg.arch === 'mamba' ? new MambaModel(ctx, ops, store, cfg, name) : new GptNeoxModel(ctx, ops, store, cfg, name);
}

function reference(cfg: Cfg, w: Weights, ids: number[]): Float64Array {
  if (cfg.arch === 'mamba') {
    return mambaForward({
      d: cfg.hiddenSize, dIn: cfg.intermediateSize, n: cfg.stateSize, r: cfg.timeStepRank, k: cfg.convKernel, layers: cfg.numHiddenLayers,
      vocab: cfg.vocabSize, eps: cfg.layerNormEpsilon, tied: cfg.tieWordEmbeddings, useBias: cfg.useBias, useConvBias: cfg.useConvBias,
    }, w, ids);
  }
  return neoxForward({
    d: cfg.hiddenSize, heads: cfg.numAttentionHeads, layers: cfg.numHiddenLayers, ffn: cfg.intermediateSize, vocab: cfg.vocabSize,
    eps: cfg.layerNormEps, rotaryPct: (cfg.rotaryDims + 0.5) / cfg.headDim, rotaryBase: cfg.ropeTheta, parallelResidual: cfg.useParallelResidual,
  }, w, ids);
}

const row = (a: ArrayLike<number>, r: number, V: number) => Array.from(a).slice(r * V, (r + 1) * V);
const argmax = (a: ArrayLike<number>) => { let b = 0; for (let i = 1; i < a.length; i++) if (a[i] > a[b]) b = i; return b; };

const CASES: [string, Record<string, unknown>, boolean][] = [
  ['mamba d=80 dt_rank=5 conv=3 N=12, biases, untied, f32', {
    model_type: 'mamba', hidden_size: 80, state_size: 12, num_hidden_layers: 2, expand: 2, conv_kernel: 3, vocab_size: 301,
    time_step_rank: 5, use_bias: true, use_conv_bias: false, layer_norm_epsilon: 1e-5, tie_word_embeddings: false,
  }, false],
  ['mamba d=80 dt_rank=5 conv=3 N=12, f16', {
    model_type: 'mamba', hidden_size: 80, state_size: 12, num_hidden_layers: 2, expand: 2, conv_kernel: 3, vocab_size: 300,
    time_step_rank: 5, use_bias: false, use_conv_bias: true, layer_norm_epsilon: 1e-5, tie_word_embeddings: true,
  }, true],
  ['gpt-neox d=90 5 heads (hd 18) rotary 0.25, parallel, f32', {
    model_type: 'gpt_neox', hidden_size: 90, num_attention_heads: 5, num_hidden_layers: 2, intermediate_size: 200, rotary_pct: 0.25,
    rotary_emb_base: 10000, vocab_size: 301, max_position_embeddings: 256, use_parallel_residual: true, layer_norm_eps: 1e-5,
    hidden_act: 'gelu', tie_word_embeddings: false,
  }, false],
  ['gpt-neox d=96 3 heads (hd 32) rotary 0.5, sequential, f16', {
    model_type: 'gpt_neox', hidden_size: 96, num_attention_heads: 3, num_hidden_layers: 2, intermediate_size: 160, rotary_pct: 0.5,
    rotary_emb_base: 10000, vocab_size: 300, max_position_embeddings: 256, use_parallel_residual: false, layer_norm_eps: 1e-5,
    hidden_act: 'gelu', tie_word_embeddings: false,
  }, true],
];

describe('recorded fused decode step vs the float64 reference models', () => {
  it.each(CASES)('%s: step-by-step logits, greedy and sampled generate, overlapped batches', async (_, json, f16) => {
    const ctx = await gpu();
    const cfg = parseConfig(json) as Cfg;
    const w = randomWeights(cfg, 7, f16);
    const m = buildModel(ctx, cfg, w, f16, 'odd');
    try {
      const V = cfg.vocabSize;
      const ids = Array.from({ length: 6 }, (_, i) => (i * 37 + 11) % V);
      const ref = reference(cfg, w, ids);
      // step() runs the recorded decode step one token at a time from an empty state
      for (let t = 0; t < ids.length; t++) {
        const got = await m.step(ids[t]);
        expect(relErr(got, row(ref, t, V)), `position ${t}`).toBeLessThan(1e-3);
      }
      expect(m.decodeDispatchesPerStep).toBeGreaterThan(0);
      const perLayer = (m.decodeDispatchesPerStep - 3) / cfg.numHiddenLayers; // embedding, head, argmax
      expect(perLayer).toBeLessThanOrEqual(cfg.arch === 'mamba' ? 4 : (cfg as GptNeoxConfig).useParallelResidual ? 4 : 5);

      // greedy generate = argmax of the reference, token by token (a one-token prompt: no prefill pass, whose
      // matmul kernels are not what this file tests)
      const prompt = ids.slice(0, 1);
      const seq = [...prompt];
      const want: number[] = [];
      for (let i = 0; i < 4; i++) {
        const next = argmax(row(reference(cfg, w, seq), seq.length - 1, V));
        want.push(next);
        seq.push(next);
      }
      m.stepsPerSubmit = 2;
      const g = await m.generate(prompt, { maxNewTokens: 4, temperature: 0, topK: 0, topP: 1, seed: 0 });
      expect(g.ids).toEqual(want);

      // sampled generate: each token is the oracle's draw from the reference logits with u = hash(seed, position)
      for (const s of [{ temperature: 0.9, topK: 20, topP: 1, seed: 5 }, { temperature: 1.1, topK: 0, topP: 0.8, seed: 6 }, { temperature: 1, topK: 0, topP: 1, seed: 7 }]) {
        const out = await m.generate(prompt, { ...s, maxNewTokens: 3 });
        const ctxIds = [...prompt];
        for (let i = 0; i < out.ids.length; i++) {
          const logits = row(reference(cfg, w, ctxIds), ctxIds.length - 1, V);
          expect(out.ids[i], `${JSON.stringify(s)} token ${i}`).toBe(sampleRef(logits, s, hashUniform(s.seed, ctxIds.length - 1)));
          ctxIds.push(out.ids[i]);
        }
      }

      // two batches submitted before either is read back give the greedy tokens in order
      m.reset();
      const p1 = m.decodeBatch(prompt[0], 2);
      const p2 = m.decodeBatch(-1, 2);
      expect([...(await p1), ...(await p2)]).toEqual(want);
    } finally {
      m.dispose();
    }
  }, 300_000);

  it('falls back to the per-op decode when layer matrices are split into row blocks, same tokens', async () => {
    const ctx = await gpu();
    const cfg = parseConfig(CASES[0][1]) as Cfg;
    const w = randomWeights(cfg, 9, false);
    const fused = buildModel(ctx, cfg, w, false, 'fused');
    const split = buildModel(ctx, cfg, w, false, 'split', 8192);
    try {
      expect((split as unknown as { fusedDecodeBlocker(): string | null }).fusedDecodeBlocker()).toMatch(/split into/);
      const opts = { maxNewTokens: 6, temperature: 0.8, topK: 30, topP: 0.95, seed: 3 };
      const a = await fused.generate([1], opts);
      const b = await split.generate([1], opts);
      expect(b.ids).toEqual(a.ids);
      expect(relErr(await split.step(5), await fused.step(5))).toBeLessThan(1e-5);
    } finally {
      fused.dispose();
      split.dispose();
    }
  });
});

describe('dispose', () => {
  it('returns the pool to its live bytes per category after decoding (fused, sampled, per-op fallback)', async () => {
    const ctx = await gpu();
    const run = async () => {
      for (const [, json] of [CASES[0], CASES[3]]) {
        const cfg = parseConfig(json) as Cfg;
        const w = randomWeights(cfg, 3, false);
        for (const maxBlockBytes of [undefined, 8192]) {
          const m = buildModel(ctx, cfg, w, false, 'soak', maxBlockBytes);
          await m.step(1);
          await m.generate([2], { maxNewTokens: 3, temperature: 0.8, topK: 5, topP: 1, seed: 1 });
          await m.generate([2], { maxNewTokens: 3, temperature: 0, topK: 0, topP: 1, seed: 1 });
          m.dispose();
        }
      }
    };
    await run(); // first round makes the per-context dummies
    const base = ctx.pool.bytesByCategory();
    await run();
    expect(ctx.pool.bytesByCategory()).toEqual(base);
  });
});

/** float32 safetensors → name → (shape, data). */
function readSafetensors(path: string): WTensor[] {
  const buf = readFileSync(path);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;
  const out: WTensor[] = [];
  for (const [name, t] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const bytes = buf.subarray(8 + n + t.data_offsets[0], 8 + n + t.data_offsets[1]);
    out.push({ name, dtype: 'F32', shape: t.shape, data: new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)) });
  }
  return out;
}

describe('checkpoints with NaN weights (issue 14)', () => {
  let root: string;
  let server: Awaited<ReturnType<typeof startHubServer>>;
  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'nan-hub-'));
    for (const [repo, bad] of [['mamba', 'backbone.layers.1.mixer.out_proj.weight'], ['pythia', 'gpt_neox.layers.0.mlp.dense_4h_to_h.weight']]) {
      const src = `${HUB_ROOT}/tiny-random/${repo}/resolve/main`;
      const dst = join(root, 'test-org', `nan-${repo}`, 'resolve', 'main');
      mkdirSync(dst, { recursive: true });
      for (const f of readdirSync(src)) if (f !== 'model.safetensors') copyFileSync(join(src, f), join(dst, f));
      const tensors = readSafetensors(join(src, 'model.safetensors'));
      const t = tensors.find((x) => x.name === bad)!;
      const data = Float32Array.from(t.data!);
      data[3] = NaN;
      t.data = data;
      writeFileSync(join(dst, 'model.safetensors'), writeSafetensors(tensors));
    }
    server = await startHubServer({ root });
  });
  afterAll(() => server?.close());

  it.each(['mamba', 'pythia'])('%s: prefill, step and generate fail with an error naming the model', async (repo) => {
    const ctx = await gpu();
    const client = new HubClient({ baseUrl: server.url, cache: false });
    const m = await loadModel(ctx, hubSource(`test-org/nan-${repo}`, { baseUrl: server.url }), { client });
    try {
      await expect(m.prefill([1, 2, 3])).rejects.toThrow(NonFiniteLogitsError);
      await expect(m.prefill([1, 2, 3])).rejects.toThrow(new RegExp(`test-org/nan-${repo}.*not finite`));
      m.reset();
      await expect(m.step(4)).rejects.toThrow(/not finite/);
      await expect(m.generate([1, 2, 3], { maxNewTokens: 4, temperature: 0, topK: 0, topP: 1, seed: 0 })).rejects.toThrow(new RegExp(`nan-${repo}`));
      // one-token prompts: no prefill, the GPU sampler's sentinel is what reports it
      await expect(m.generate([5], { maxNewTokens: 4, temperature: 0, topK: 0, topP: 1, seed: 0 })).rejects.toThrow(NonFiniteLogitsError);
      await expect(m.generate([5], { maxNewTokens: 4, temperature: 0.7, topK: 10, topP: 0.9, seed: 1 })).rejects.toThrow(new RegExp(`nan-${repo}`));
      await expect(m.generate([5], { maxNewTokens: 4, temperature: 0.7, topK: 0, topP: 1, seed: 1 })).rejects.toThrow(NonFiniteLogitsError);
    } finally {
      m.dispose();
    }
  });
});
