/**
 * Mamba-2 configs (transformers' Mamba2Config keys), the non-finite floats Python and transformers 5 write into
 * config.json, the tensors a Mamba2ForCausalLM checkpoint must hold, and the registry's Mamba-2 entries.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { detectArch, parseConfig, parseMamba2Config } from '../../src/hub/config';
import { nonFiniteFloat, parseJson, quoteNonFinite } from '../../src/hub/json';
import { countParams, estimateGpuMemory, HUB_MAMBA2_MODELS, registryEntry } from '../../src/hub/registry';
import { expectedTensors } from '../../src/hub/weights';

/** A config with mamba2-130m's shapes (AntonV/mamba2-130m-hf), infinity written bare as Python's json writes it. */
const text = readFileSync(new URL('./configs/mamba2-130m-style.json', import.meta.url), 'utf8');

describe('JSON with non-finite floats', () => {
  it('reads bare Infinity / -Infinity / NaN outside strings, leaves strings alone, keeps strict JSON errors', () => {
    expect(() => JSON.parse(text)).toThrow();
    const j = parseJson(text) as Record<string, unknown>;
    expect(j.time_step_limit).toEqual([0, { __float__: 'Infinity' }]);
    expect(parseJson('{"a": [-Infinity, NaN, "Infinity", "x NaN y"], "b": 1}')).toEqual({
      a: [{ __float__: '-Infinity' }, { __float__: 'NaN' }, 'Infinity', 'x NaN y'], b: 1,
    });
    expect(quoteNonFinite('{"s": "say \\"Infinity\\"", "v": Infinity}')).toBe('{"s": "say \\"Infinity\\"", "v": {"__float__":"Infinity"}}');
    expect(() => parseJson('{"a": Infinit}')).toThrow();
    expect(() => parseJson('{"a": 1,}')).toThrow();
    expect(nonFiniteFloat({ __float__: 'Infinity' })).toBe(Infinity);
    expect(nonFiniteFloat({ __float__: '-inf' })).toBe(-Infinity);
    expect(nonFiniteFloat('Infinity')).toBe(Infinity);
    expect(Number.isNaN(nonFiniteFloat({ __float__: 'NaN' }))).toBe(true);
    expect(nonFiniteFloat({ __float__: 'big' })).toBeUndefined();
  });
});

describe('Mamba-2 configs', () => {
  it('parses a mamba2-130m config (bare Infinity as Python writes it)', () => {
    const c = parseConfig(text);
    expect(c).toEqual({
      arch: 'mamba2', modelType: 'mamba2', hiddenSize: 768, numHeads: 24, headDim: 64, stateSize: 128, nGroups: 1,
      numHiddenLayers: 24, expand: 2, intermediateSize: 1536, convDim: 1536 + 256, convKernel: 4, chunkSize: 256,
      timeStepLimit: [0, Infinity], timeStepMin: 0.001, timeStepMax: 0.1, timeStepFloor: 0.0001, useBias: false,
      useConvBias: true, layerNormEpsilon: 1e-5, tieWordEmbeddings: true, vocabSize: 50288, bosTokenId: 0, eosTokenId: 0, padTokenId: 0,
    });
  });

  it('reads time_step_limit as transformers 5 writes it ({"__float__": "Infinity"}), as a string, or finite', () => {
    const base = parseJson(text) as Record<string, unknown>;
    expect(parseMamba2Config({ ...base, time_step_limit: [0.0, { __float__: 'Infinity' }] }).timeStepLimit).toEqual([0, Infinity]);
    expect(parseMamba2Config({ ...base, time_step_limit: [0.0, 'Infinity'] }).timeStepLimit).toEqual([0, Infinity]);
    expect(parseMamba2Config({ ...base, time_step_limit: [0.001, 0.1] }).timeStepLimit).toEqual([0.001, 0.1]);
    expect(parseMamba2Config({ ...base, time_step_limit: undefined }).timeStepLimit).toEqual([0, Infinity]);
    for (const bad of [[0.1, 0.01], [0], [{ __float__: 'NaN' }, 1], [{ __float__: '-Infinity' }, 1], 'x']) {
      expect(() => parseMamba2Config({ ...base, time_step_limit: bad }), JSON.stringify(bad)).toThrow(/field "time_step_limit"/);
    }
  });

  it('detects Mamba-2 by model_type or architectures; rejects what it cannot run, naming the field', () => {
    const base = parseJson(text) as Record<string, unknown>;
    expect(detectArch(base)).toBe('mamba2');
    expect(detectArch({ architectures: ['Mamba2ForCausalLM'] })).toBe('mamba2');
    expect(() => parseConfig({ ...base, rms_norm: false })).toThrow(/field "rms_norm" is false/);
    expect(() => parseConfig({ ...base, norm_before_gate: true })).toThrow(/field "norm_before_gate" is true/);
    expect(() => parseConfig({ ...base, num_heads: 25 })).toThrow(/"num_heads" 25 × "head_dim" 64 = 1600 must equal "expand" 2 × "hidden_size" 768/);
    expect(() => parseConfig({ ...base, n_groups: 5 })).toThrow(/field "n_groups" 5 must divide "num_heads" 24/);
    expect(() => parseConfig({ ...base, hidden_act: 'gelu' })).toThrow(/"hidden_act" is "gelu"/);
    expect(() => parseConfig({ ...base, state_size: 0 })).toThrow(/"state_size" must be ≥ 1/);
    expect(() => parseConfig({ ...base, model_type: 'mamba3' })).toThrow(/"mamba", "mamba2" and "gpt_neox"/);
    // mamba_ssm's own Mamba-2 format is not read yet: the error says what to use instead
    expect(() => parseConfig({ d_model: 768, n_layer: 24, vocab_size: 50277, ssm_cfg: { layer: 'Mamba2' } })).toThrow(/Mamba2ForCausalLM checkpoint/);
  });

  it('expects the tensors Mamba2ForCausalLM saves, with their shapes; parameter count and state bytes', () => {
    const c = parseConfig(text);
    if (c.arch !== 'mamba2') throw new Error('not mamba2');
    const t = expectedTensors(c);
    expect(t.get('backbone.layers.3.mixer.in_proj.weight')?.shape).toEqual([1536 + 1792 + 24, 768]);
    expect(t.get('backbone.layers.3.mixer.conv1d.weight')?.shape).toEqual([1792, 1, 4]);
    expect(t.get('backbone.layers.3.mixer.conv1d.bias')?.shape).toEqual([1792]);
    for (const p of ['dt_bias', 'A_log', 'D']) expect(t.get(`backbone.layers.3.mixer.${p}`)?.shape).toEqual([24]);
    expect(t.get('backbone.layers.3.mixer.norm.weight')?.shape).toEqual([1536]);
    expect(t.get('backbone.layers.3.mixer.out_proj.weight')?.shape).toEqual([768, 1536]);
    expect(t.has('backbone.layers.3.mixer.in_proj.bias')).toBe(false);
    expect(t.has('lm_head.weight')).toBe(false); // tied
    expect(t.has('backbone.layers.24.norm.weight')).toBe(false);
    let n = 0;
    for (const [, s] of t) n += s.shape.reduce((a, b) => a * b, 1);
    expect(countParams(c)).toBe(n);
    expect(n).toBe(128_989_632);
    // state: 24 layers × (24·64·128 + 3 · 1792) floats
    const m = estimateGpuMemory(c);
    expect(m.stateBytes).toBe(24 * (24 * 64 * 128 + 3 * 1792) * 4);
    expect(m.kvBytesPerToken).toBe(0);
    const untied = parseMamba2Config({ ...(parseJson(text) as object), tie_word_embeddings: false, use_bias: true });
    const tu = expectedTensors(untied);
    expect(tu.get('lm_head.weight')?.shape).toEqual([50288, 768]);
    expect(tu.get('backbone.layers.0.mixer.in_proj.bias')?.shape).toEqual([3352]);
    expect(tu.get('backbone.layers.0.mixer.out_proj.bias')?.shape).toEqual([768]);
  });
});

describe('registry: Mamba-2, the third architecture family', () => {
  it('lists AntonV/mamba2-130m-hf … 2.7b-hf with parameter counts from the architecture', () => {
    expect(HUB_MAMBA2_MODELS.map((m) => m.repo)).toEqual([
      'AntonV/mamba2-130m-hf', 'AntonV/mamba2-370m-hf', 'AntonV/mamba2-780m-hf', 'AntonV/mamba2-1.3b-hf', 'AntonV/mamba2-2.7b-hf',
    ]);
    expect(HUB_MAMBA2_MODELS.every((m) => m.arch === 'mamba2' && m.source.kind === 'hub')).toBe(true);
    expect(registryEntry('mamba2-130m').params).toBe(128_989_632);
    expect(registryEntry('AntonV/mamba2-2.7b-hf').shape.extra).toMatchObject({ numHeads: 80, headDim: 64, stateSize: 128, nGroups: 1 });
    const sizes = HUB_MAMBA2_MODELS.map((m) => m.params / 1e6);
    for (const [got, want] of sizes.map((s, i) => [s, [130, 370, 780, 1300, 2700][i]])) expect(Math.abs(got / want - 1)).toBeLessThan(0.06);
  });
});
