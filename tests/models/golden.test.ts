/**
 * Both model kinds on WebGPU (Dawn) against transformers' float64 logits for tiny random models served from a
 * local server in the hub's URL layout (tests/fixtures/hub, made by tools/make_golden.py on the GPU machine).
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { LoadedModel } from '../../src/models/load';
import { relErr } from '../gpu';
import { tinyDir, tinyGolden, tinyHub } from './tiny';

interface Golden {
  prompt_text: string;
  prompt_ids: number[];
  logits: number[];
  greedy_ids: number[];
  greedy_logits: number[];
  long_ids: number[];
  long_last_logits: number[];
  vocab_size: number;
}

/** name: a repo under tiny-random/ ('mamba', 'pythia-f16', ...). */
const golden = (name: string): Golden => tinyGolden<Golden>(name);
const hub = tinyHub();
const load = (name: string): Promise<LoadedModel> => hub.load(name);

const row = (flat: ArrayLike<number>, r: number, V: number) => Array.from(flat).slice(r * V, (r + 1) * V);

// f32 weights: the kernels compute in f32 against a float64 reference: 1e-3 relative is the bar (seen: ~1e-6).
// f16/bf16 weights: the golden logits were computed from the same rounded weights in float64, so the bar stays 1e-3.
// Every repo is transformers 5.17's own output (tools/make_golden.py): save_pretrained, except pythia-state-dict
// (save_file(model.state_dict()): the head as lm_head.weight). Shapes beyond the tiles: mamba-odd (d 80, dt_rank 5,
// conv 3, untied), mamba-ragged (d 50, dt_rank 3, N 5, conv 2, biases, no conv bias, tied), pythia-odd (5 heads of 16,
// full rotary, MLP 180, tied), pythia-odd-rot (3 heads of 20, rotary int(20·0.25) = 5, MLP 150, sequential, 3 layers),
// pythia-hd10 (5 heads of 10).
const REPOS = [
  'mamba', 'mamba-f16', 'mamba-bf16', 'mamba-bias', 'mamba-odd', 'mamba-ragged',
  'pythia', 'pythia-f16', 'pythia-bf16', 'pythia-seq', 'pythia-sharded', 'pythia-state-dict',
  'pythia-odd', 'pythia-odd-rot', 'pythia-hd10',
  // Mamba2ForCausalLM (tools/make_golden_mamba2.py, transformers 5.17 with its gated norm patched to mamba_ssm's
  // group-wise semantics): mamba2 (1 group, tied), -f16, -bf16, mamba2-g2 (head dim 6, 2 groups, N 12, biases, untied,
  // Δ clamped to 0.002-0.08), mamba2-chunk (4 groups, chunk 7, 3 layers, sharded)
  'mamba2', 'mamba2-f16', 'mamba2-bf16', 'mamba2-g2', 'mamba2-chunk',
];

/** Prefill of the golden prompt: every position's logits within 1e-3 of transformers' (float64). */
async function expectPrefill(m: LoadedModel, g: Golden): Promise<void> {
  const V = g.vocab_size;
  const logits = await m.prefill(g.prompt_ids, { allLogits: true });
  expect(logits.length).toBe(g.prompt_ids.length * V);
  expect(relErr(logits, g.logits)).toBeLessThan(1e-3);
  // per position too, so one bad row cannot hide in the norm
  for (let t = 0; t < g.prompt_ids.length; t++) expect(relErr(row(logits, t, V), row(g.logits, t, V))).toBeLessThan(1e-3);
}

/** Step-by-step decode of the golden greedy tokens follows their logits; greedy generate() gives those tokens. */
async function expectDecode(m: LoadedModel, g: Golden): Promise<void> {
  const V = g.vocab_size;
  // decode: prefill the prompt, then feed the golden greedy tokens one at a time
  let last = await m.prefill(g.prompt_ids);
  for (let i = 0; i < g.greedy_ids.length; i++) {
    expect(relErr(last, row(g.greedy_logits, i, V))).toBeLessThan(1e-3);
    last = await m.step(g.greedy_ids[i]);
  }
  // generate() samples on the GPU (argmax at temperature 0), several steps per submit
  const out = await m.generate(g.prompt_ids, { maxNewTokens: g.greedy_ids.length, temperature: 0, topK: 0, topP: 1, seed: 1 });
  expect(out.ids).toEqual(g.greedy_ids);
  expect(out.stats.newTokens).toBe(g.greedy_ids.length);
}

describe.each(REPOS)('tiny-random/%s', (name) => {
  it('prefill logits match transformers (float64) within 1e-3 relative; tokenizer ids match Python', async () => {
    const g = golden(name);
    const m = await load(name);
    try {
      expect(m.tokenizer.encode(g.prompt_text, { addSpecialTokens: false })).toEqual(g.prompt_ids);
      await expectPrefill(m, g);
    } finally {
      m.dispose();
    }
  });

  it('step-by-step decode equals prefill, greedy tokens identical', async () => {
    const g = golden(name);
    const m = await load(name);
    try {
      await expectDecode(m, g);
    } finally {
      m.dispose();
    }
  });
});

// The tests above run on the adapter's kernel plans (CPU plans on SwiftShader: GpuContext.cpuTiling); these run one
// golden model per architecture and weight type on the plans a GPU takes (256-thread decode rows, tiled matmul).
describe.each(['mamba', 'mamba-f16', 'pythia', 'pythia-f16', 'mamba2'])('tiny-random/%s on the GPU plans', (name) => {
  it('prefill logits and step-by-step decode match transformers; greedy generate() gives the golden tokens', async () => {
    const g = golden(name);
    const m = await hub.load(name, 'gpu');
    try {
      await expectPrefill(m, g);
      m.reset();
      await expectDecode(m, g);
    } finally {
      m.dispose();
    }
  });
});

describe('longer sequences and kernel variants', () => {
  it.each([
    ['mamba', 'fused'], ['mamba', 'unfused'], ['mamba', 'sequential'], ['pythia', 'flash'], ['pythia', 'reference'],
    ['mamba2', 'fused'], ['mamba2', 'sequential'],
  ] as const)('%s (%s): last logits of a 300-token prompt, also in prefill chunks of 128', async (name, variant) => {
      const g = golden(name);
    const m = await load(name);
    try {
      if (variant === 'flash' || variant === 'reference') m.kernels = { ...m.kernels, attention: variant };
      else m.kernels = { ...m.kernels, scan: variant };
      const V = g.vocab_size;
      const k = g.long_last_logits.length / V;
      const all = await m.prefill(g.long_ids, { allLogits: true });
      const tail = Array.from(all.slice((g.long_ids.length - k) * V));
      expect(relErr(tail, g.long_last_logits)).toBeLessThan(1e-3);
      m.reset();
      (m as unknown as { prefillChunk: number }).prefillChunk = 128;
      const last = await m.prefill(g.long_ids);
      expect(relErr(last, row(g.long_last_logits, k - 1, V))).toBeLessThan(1e-3);
    } finally {
      m.dispose();
    }
  });

  it('reports memory: SSM state constant, KV cache grows with context', async () => {
    const mamba = await load('mamba');
    const pythia = await load('pythia');
    try {
      const g = golden('mamba');
      await mamba.prefill(g.prompt_ids);
      const s1 = mamba.memory().ssmState;
      await mamba.prefill(g.long_ids);
      expect(mamba.memory().ssmState).toBe(s1);
      expect(s1).toBeGreaterThan(0);
      expect(mamba.memory().kvCache).toBe(0);
      await pythia.prefill(g.prompt_ids);
      const k1 = pythia.memory().kvCache;
      await pythia.prefill([...g.long_ids, ...g.long_ids]);
      expect(pythia.memory().kvCache).toBeGreaterThan(k1);
      expect(pythia.memory().weights).toBeGreaterThan(0);
    } finally {
      mamba.dispose();
      pythia.dispose();
    }
  });

  it('pythia-state-dict names its head lm_head.weight (transformers 5.17 module name) and gives the same logits as pythia', async () => {
    const header = (repo: string) => {
      const buf = readFileSync(`${tinyDir(repo)}/model.safetensors`);
      return Object.keys(JSON.parse(buf.subarray(8, 8 + Number(buf.readBigUInt64LE(0))).toString('utf8')));
    };
    expect(header('pythia-state-dict')).toContain('lm_head.weight');
    expect(header('pythia-state-dict')).not.toContain('embed_out.weight');
    expect(header('pythia')).toContain('embed_out.weight'); // save_pretrained writes the older name back
    const a = await load('pythia-state-dict');
    const b = await load('pythia');
    try {
      const ids = golden('pythia').prompt_ids;
      expect(Array.from(await a.prefill(ids))).toEqual(Array.from(await b.prefill(ids)));
    } finally {
      a.dispose();
      b.dispose();
    }
  });

  it('rejects token ids outside the vocabulary with a clear error', async () => {
    const m = await load('pythia');
    try {
      await expect(m.prefill([1, 2, 99999])).rejects.toThrow(/outside the vocabulary/);
      await expect(m.prefill([])).rejects.toThrow(/at least one token/);
    } finally {
      m.dispose();
    }
  });
});
