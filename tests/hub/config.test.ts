import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { ConfigError, MAMBA_SSM_DEFAULTS, detectArch, parseConfig, parseGptNeoxConfig, parseMambaConfig } from '../../src/hub/config';

const load = (name: string) => JSON.parse(readFileSync(new URL(`./configs/${name}.json`, import.meta.url), 'utf8'));

describe('Mamba configs', () => {
  it('parses state-spaces/mamba-130m-hf', () => {
    const c = parseConfig(load('state-spaces__mamba-130m-hf'));
    expect(c).toEqual({
      arch: 'mamba', modelType: 'mamba', hiddenSize: 768, stateSize: 16, numHiddenLayers: 24, expand: 2,
      intermediateSize: 1536, convKernel: 4, timeStepRank: 48, useBias: false, useConvBias: true,
      layerNormEpsilon: 1e-5, tieWordEmbeddings: true, vocabSize: 50280, paddedVocabSize: 50280, padVocabSizeMultiple: 8,
      bosTokenId: 0, eosTokenId: 0, padTokenId: 0,
    });
  });

  it('parses state-spaces/mamba-370m-hf', () => {
    const c = parseMambaConfig(load('state-spaces__mamba-370m-hf'));
    expect([c.hiddenSize, c.numHiddenLayers, c.intermediateSize, c.timeStepRank, c.vocabSize]).toEqual([1024, 48, 2048, 64, 50280]);
  });

  it('accepts the original mamba_ssm keys (d_model, n_layer, ssm_cfg) with its defaults; the embedding is padded, the vocab is not', () => {
    const c = parseConfig(load('mamba_ssm-original-130m')); // state-spaces/mamba-130m's config.json
    expect(c.arch).toBe('mamba');
    if (c.arch !== 'mamba') return;
    // mamba_ssm's Mamba-1 defaults: d_state 16, d_conv 4, expand 2, dt_rank ceil(768/16) = 48, conv bias, no proj bias
    expect([c.hiddenSize, c.numHiddenLayers, c.intermediateSize, c.timeStepRank, c.stateSize, c.convKernel]).toEqual([768, 24, 1536, 48, 16, 4]);
    expect([c.useConvBias, c.useBias]).toEqual([true, false]);
    expect([c.vocabSize, c.paddedVocabSize]).toEqual([50277, 50280]);
    expect(c.tieWordEmbeddings).toBe(true);
    const c2 = parseMambaConfig({ d_model: 64, n_layer: 2, vocab_size: 100, ssm_cfg: { d_state: 8, d_conv: 3, expand: 3, dt_rank: 5 } });
    expect([c2.stateSize, c2.convKernel, c2.expand, c2.intermediateSize, c2.timeStepRank]).toEqual([8, 3, 3, 192, 5]);
  });

  it('mamba_ssm 2.x configs: tie_embeddings, ssm_cfg.layer "Mamba1", padding to 16; unsupported settings named', () => {
    const v2 = {
      d_model: 48, d_intermediate: 0, n_layer: 2, vocab_size: 520, ssm_cfg: { layer: 'Mamba1', d_state: 8, d_conv: 3, dt_rank: 3, bias: true, dt_min: 0.001 },
      attn_layer_idx: [], attn_cfg: {}, rms_norm: true, residual_in_fp32: true, fused_add_norm: true, pad_vocab_size_multiple: 16, tie_embeddings: false,
    };
    const c = parseMambaConfig(v2);
    expect([c.stateSize, c.convKernel, c.timeStepRank, c.intermediateSize, c.useBias, c.useConvBias, c.tieWordEmbeddings]).toEqual([8, 3, 3, 96, true, true, false]);
    expect([c.vocabSize, c.paddedVocabSize]).toEqual([520, 528]);
    expect(parseMambaConfig({ ...v2, vocab_size: 512 }).paddedVocabSize).toBe(512);
    expect(() => parseConfig({ ...v2, d_intermediate: 4096 })).toThrow(/field "d_intermediate" is 4096; Mamba blocks with an MLP/);
    expect(() => parseConfig({ ...v2, attn_layer_idx: [3, 9] })).toThrow(/field "attn_layer_idx" is \[3,9\]; hybrid Mamba \+ attention/);
    expect(() => parseConfig({ ...v2, ssm_cfg: { ...v2.ssm_cfg, headdim: 64 } })).toThrow(/field "ssm_cfg.headdim" \(64\) is not a Mamba1 setting/);
    expect(() => parseConfig({ ...v2, ssm_cfg: { layer: 'Mamba2' } })).toThrow(/field "ssm_cfg.layer" is "Mamba2"/);
    expect(() => parseConfig({ ...v2, ssm_cfg: 'Mamba1' })).toThrow(/field "ssm_cfg" must be an object/);
    expect(() => parseConfig({ ...v2, rms_norm: false })).toThrow(/field "rms_norm" is false/);
    expect(() => parseConfig({ ...v2, fused_add_norm: 'yes' })).toThrow(/field "fused_add_norm" must be true or false/);
    expect(MAMBA_SSM_DEFAULTS.Mamba2).toMatchObject({ d_state: 128, headdim: 64, ngroups: 1, chunk_size: 256 });
  });

  it('derives defaults: intermediate = expand·hidden, time_step_rank "auto" = ceil(hidden/16)', () => {
    const c = parseMambaConfig({ model_type: 'mamba', hidden_size: 40, num_hidden_layers: 2, vocab_size: 64, time_step_rank: 'auto', expand: 2 });
    expect(c.intermediateSize).toBe(80);
    expect(c.timeStepRank).toBe(3);
    expect(c.tieWordEmbeddings).toBe(true);
    expect(c.stateSize).toBe(16);
  });

  it('rejects bad Mamba fields with the field name and value', () => {
    const base = load('state-spaces__mamba-130m-hf');
    expect(() => parseConfig({ ...base, hidden_size: undefined })).toThrow(/missing required field "hidden_size"/);
    expect(() => parseConfig({ ...base, state_size: 16.5 })).toThrow(/"state_size" must be an integer, got 16.5/);
    expect(() => parseConfig({ ...base, hidden_act: 'gelu' })).toThrow(/"hidden_act" is "gelu"/);
    expect(() => parseConfig({ ...base, use_bias: 'no' })).toThrow(/"use_bias" must be true or false, got "no"/);
    expect(() => parseConfig({ ...base, ssm_cfg: { layer: 'Mamba2' } })).toThrow(/"ssm_cfg.layer" is "Mamba2"/);
    expect(() => parseConfig({ ...base, num_hidden_layers: 0 })).toThrow(/"num_hidden_layers" must be ≥ 1, got 0/);
  });
});

describe('GPT-NeoX configs', () => {
  it('parses EleutherAI/pythia-160m', () => {
    const c = parseConfig(load('EleutherAI__pythia-160m'));
    expect(c).toEqual({
      arch: 'gpt-neox', modelType: 'gpt_neox', hiddenSize: 768, numAttentionHeads: 12, headDim: 64, numHiddenLayers: 12,
      intermediateSize: 3072, rotaryPct: 0.25, rotaryDims: 16, rotaryDimsConfig: 16, ropeTheta: 10000, ropeThetaConfig: 10000, useParallelResidual: true,
      layerNormEps: 1e-5, hiddenAct: 'gelu', tieWordEmbeddings: false, vocabSize: 50304, maxPositionEmbeddings: 2048,
      attentionBias: true, bosTokenId: 0, eosTokenId: 0,
    });
  });

  it('parses EleutherAI/pythia-410m', () => {
    const c = parseGptNeoxConfig(load('EleutherAI__pythia-410m'));
    expect([c.hiddenSize, c.numAttentionHeads, c.headDim, c.numHiddenLayers, c.intermediateSize, c.rotaryDims]).toEqual([1024, 16, 64, 24, 4096, 16]);
  });

  it('parses a transformers-5 config with rope_parameters the same as the old keys', () => {
    const old = parseConfig(load('EleutherAI__pythia-160m'));
    const t5 = parseConfig(load('transformers5-gpt-neox'));
    expect(t5).toEqual(old);
    const c = parseGptNeoxConfig({ ...load('transformers5-gpt-neox'), rope_parameters: { rope_theta: 500000, partial_rotary_factor: 0.5, rope_type: 'default' } });
    expect([c.ropeTheta, c.rotaryPct, c.rotaryDims]).toEqual([500000, 0.5, 32]);
    // top-level partial_rotary_factor / rope_theta (transformers 5 without nesting)
    const base = load('EleutherAI__pythia-160m');
    delete base.rotary_pct;
    delete base.rotary_emb_base;
    const c2 = parseGptNeoxConfig({ ...base, partial_rotary_factor: 1.0, rope_theta: 20000 });
    expect([c2.rotaryPct, c2.rotaryDims, c2.ropeTheta]).toEqual([1, 64, 20000]);
  });

  it('odd rotary dims: rotates rot + 1 dims with transformers\' frequencies base^(−2i/rot); odd head counts', () => {
    // d = 60, 3 heads of 20, rot = int(20 · 0.25) = 5: transformers' cos/sin hold ceil(5/2) = 3 frequencies twice
    const c = parseGptNeoxConfig({ ...load('transformers5-gpt-neox'), hidden_size: 60, num_attention_heads: 3 });
    expect([c.headDim, c.rotaryDimsConfig, c.rotaryDims, c.ropeThetaConfig]).toEqual([20, 5, 6, 10000]);
    for (let i = 0; i < 3; i++) {
      const transformers = Math.pow(10000, (-2 * i) / 5);
      expect(Math.pow(c.ropeTheta, (-2 * i) / c.rotaryDims)).toBeCloseTo(transformers, 12);
    }
    // d = 80, 5 heads of 16: even rot, the base is kept as is
    const e = parseGptNeoxConfig({ ...load('transformers5-gpt-neox'), hidden_size: 80, num_attention_heads: 5 });
    expect([e.headDim, e.rotaryDims, e.ropeTheta]).toEqual([16, 4, 10000]);
    // no rotary at all is a valid transformers config
    expect(parseGptNeoxConfig({ ...load('EleutherAI__pythia-160m'), rotary_pct: 0 }).rotaryDims).toBe(0);
    // an odd head dim fully rotated would need head_dim + 1 dims: transformers itself fails there
    expect(() => parseGptNeoxConfig({ ...load('EleutherAI__pythia-160m'), hidden_size: 75, num_attention_heads: 5, rotary_pct: 1 }))
      .toThrow(/int\(head_dim 15 · rotary_pct 1\) = 15 is odd and equal to the head dim/);
  });

  it('rejects unsupported GPT-NeoX settings naming field and value', () => {
    const base = load('EleutherAI__pythia-160m');
    expect(() => parseConfig({ ...base, hidden_act: 'relu' })).toThrow(/field "hidden_act" is "relu"; only "gelu"/);
    expect(() => parseConfig({ ...base, hidden_act: 'gelu_new' })).toThrow(/"hidden_act" is "gelu_new"/);
    expect(() => parseConfig({ ...base, rope_scaling: { type: 'dynamic', factor: 2 } })).toThrow(/"rope_scaling.rope_type" is "dynamic"/);
    expect(() => parseConfig({ ...base, rope_parameters: { rope_type: 'dynamic', rope_theta: 1e4 } })).toThrow(/"rope_parameters.rope_type" is "dynamic"/);
    expect(() => parseConfig({ ...base, num_attention_heads: 7 })).toThrow(/hidden_size" 768 is not divisible by num_attention_heads 7/);
    expect(() => parseConfig({ ...base, intermediate_size: undefined })).toThrow(/missing required field "intermediate_size"/);
    expect(() => parseConfig({ ...base, vocab_size: '50304' })).toThrow(/"vocab_size" must be an integer, got "50304"/);
    expect(() => parseConfig({ ...base, rotary_pct: 1.5 })).toThrow(/"rotary_pct" \(partial_rotary_factor\) must be in \[0, 1\], got 1.5/);
    expect(() => parseConfig({ ...base, rotary_pct: -0.25 })).toThrow(/must be in \[0, 1\], got -0.25/);
  });
});

describe('parseConfig dispatch', () => {
  it('dispatches on model_type, then architectures', () => {
    expect(detectArch({ architectures: ['MambaForCausalLM'] })).toBe('mamba');
    expect(detectArch({ architectures: ['GPTNeoXForCausalLM'] })).toBe('gpt-neox');
    expect(parseConfig(JSON.stringify(load('EleutherAI__pythia-160m'))).arch).toBe('gpt-neox');
  });

  it('rejects other models and malformed input clearly', () => {
    expect(() => parseConfig({ model_type: 'llama', hidden_size: 4096 })).toThrow(/field "model_type" is "llama"; supported model types are "mamba", "mamba2" and "gpt_neox"/);
    expect(() => parseConfig({ architectures: ['LlamaForCausalLM'] })).toThrow(/field "architectures" is \["LlamaForCausalLM"\]/);
    expect(() => parseConfig({ hidden_size: 8 })).toThrow(/missing field "model_type"/);
    expect(() => parseConfig('<!doctype html>')).toThrow(ConfigError);
    expect(() => parseConfig('<!doctype html>')).toThrow(/not valid JSON/);
    expect(() => parseConfig([1, 2])).toThrow(/expected a JSON object, got an array/);
  });
});
