/**
 * The selectivity view's per-token diagnostics on real models (tiny random fixtures, WebGPU/Dawn) against the
 * float64 CPU reference models of src/reference/models.ts, which are first checked against transformers' golden
 * logits, so the oracle itself is pinned down.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { LoadedModel } from '../../src/models/load';
import { mambaForward, neoxForward, type RefMambaConfig, type RefNeoxConfig, type Weights } from '../../src/reference/models';
import { relErr } from '../gpu';
import { tinyDir as dir, tinyGolden, tinyHub } from './tiny';

/** float32 safetensors → name → data (the fixtures used here are f32). */
function readSafetensors(path: string): Weights {
  const buf = readFileSync(path);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Record<string, { dtype: string; data_offsets: [number, number] }>;
  const out: Weights = new Map();
  for (const [name, t] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    if (t.dtype !== 'F32') throw new Error(`${name}: ${t.dtype}, expected F32`);
    const bytes = buf.subarray(8 + n + t.data_offsets[0], 8 + n + t.data_offsets[1]);
    out.set(name, new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength)));
  }
  return out;
}

const golden = (repo: string) => tinyGolden<{ prompt_ids: number[]; logits: number[]; long_ids: number[] }>(repo);
const hub = tinyHub();

async function load(repo: string): Promise<LoadedModel> {
  const m = await hub.load(repo);
  (m as unknown as { prefillChunk: number }).prefillChunk = 128; // 300 tokens → three chunks
  return m;
}

const MAMBA: RefMambaConfig = { d: 64, dIn: 128, n: 8, r: 4, k: 4, layers: 2, vocab: 512, eps: 1e-5, tied: true, useBias: false, useConvBias: true };
const NEOX: RefNeoxConfig = { d: 64, heads: 4, layers: 2, ffn: 256, vocab: 512, eps: 1e-5, rotaryPct: 0.25, rotaryBase: 10000, parallelResidual: true };

describe('diagnostics (selectivity view)', () => {
  it('Mamba: mean Δ per token per layer matches the float64 reference model', async () => {
    const g = golden('mamba');
    const w = readSafetensors(`${dir('mamba')}/model.safetensors`);
    // the oracle reproduces transformers' logits
    expect(relErr(mambaForward(MAMBA, w, g.prompt_ids), g.logits)).toBeLessThan(1e-5);
    const ref: Float64Array[] = [];
    mambaForward(MAMBA, w, g.long_ids, ref);
    const m = await load('mamba');
    try {
      const before = await m.prefill(g.long_ids);
      const d = await m.diagnostics(g.long_ids);
      expect(d.kind).toBe('delta');
      expect(d.layers.length).toBe(2);
      for (let i = 0; i < 2; i++) {
        expect(d.layers[i].length).toBe(g.long_ids.length);
        expect(relErr(d.layers[i], ref[i]), `layer ${i}`).toBeLessThan(1e-4);
        expect(Math.min(...d.layers[i])).toBeGreaterThan(0);
      }
      // the diagnostics pass leaves the model usable: the same prefill gives the same logits
      m.reset();
      expect(relErr(await m.prefill(g.long_ids), before)).toBeLessThan(1e-6);
    } finally {
      m.dispose();
    }
  });

  it('Transformer: attention of the last token, mean over heads, matches the reference and sums to 1 per layer', async () => {
    const g = golden('pythia');
    const w = readSafetensors(`${dir('pythia')}/model.safetensors`);
    expect(relErr(neoxForward(NEOX, w, g.prompt_ids), g.logits)).toBeLessThan(1e-5);
    const ref: Float64Array[] = [];
    neoxForward(NEOX, w, g.long_ids, ref);
    const m = await load('pythia');
    try {
      const d = await m.diagnostics(g.long_ids);
      expect(d.kind).toBe('attention');
      expect(d.layers.length).toBe(2);
      for (let i = 0; i < 2; i++) {
        expect(d.layers[i].length).toBe(g.long_ids.length);
        expect(relErr(d.layers[i], ref[i]), `layer ${i}`).toBeLessThan(1e-4);
        expect(Math.abs(d.layers[i].reduce((a, b) => a + b, 0) - 1)).toBeLessThan(1e-4);
      }
      expect(m.memory().scratch).toBe(0); // the diagnostics buffer was freed
    } finally {
      m.dispose();
    }
  });

  it('rejects an empty input and inputs past the context limit without touching the model', async () => {
    const m = await load('pythia');
    try {
      await expect(m.diagnostics([])).rejects.toThrow(/at least one token/);
      await expect(m.diagnostics(new Array(m.maxContext + 1).fill(1))).rejects.toThrow(/context limit/);
    } finally {
      m.dispose();
    }
  });
});
