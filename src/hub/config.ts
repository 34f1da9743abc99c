// Model config.json parsing into typed, normalized configs (camelCase, every field resolved, no defaults left for
// the model code to guess). Supported: Mamba v1 (MambaForCausalLM, the *-hf repos, plus the original mamba_ssm key
// spelling), Mamba-2 (transformers' Mamba2ForCausalLM, e.g. AntonV/mamba2-*-hf) and GPT-NeoX (GPTNeoXForCausalLM /
// Pythia, old and transformers-5 key spellings). Anything we can't run exactly is rejected with an Error naming the
// field and its value.

import { nonFiniteFloat, parseJson } from './json';

export type Arch = 'mamba' | 'mamba2' | 'gpt-neox';

export interface MambaConfig {
  arch: 'mamba';
  modelType: 'mamba';
  /** d_model */
  hiddenSize: number;
  /** N */
  stateSize: number;
  numHiddenLayers: number;
  expand: number;
  /** D = d_inner (intermediate_size, else expand·hiddenSize) */
  intermediateSize: number;
  /** K */
  convKernel: number;
  /** R = dt_rank ("auto" → ceil(hiddenSize/16)) */
  timeStepRank: number;
  useBias: boolean;
  useConvBias: boolean;
  layerNormEpsilon: number;
  tieWordEmbeddings: boolean;
  /** tokens the model knows: logits are computed (and sampled) over these */
  vocabSize: number;
  /**
   * Rows of the embedding and head in the checkpoint (≥ vocabSize). mamba_ssm configs give the real vocab_size and
   * the model pads its embedding to a multiple of pad_vocab_size_multiple (50277 → 50280); the extra rows are never
   * an input and their logits are never sampled (mamba_ssm's generate cuts logits to vocab_size), so the loader drops
   * them. transformers configs (the -hf repos) store the padded size as vocab_size: then equal to vocabSize.
   */
  paddedVocabSize: number;
  padVocabSizeMultiple: number;
  bosTokenId: number | null;
  eosTokenId: number | null;
  padTokenId: number | null;
}

/**
 * Mamba-2 (Dao & Gu 2024) as transformers' Mamba2Config: h = numHeads heads of p = headDim channels (d_inner = h·p =
 * expand·d), a state of n = stateSize per channel, g = nGroups groups of B/C shared by h/g heads each.
 */
export interface Mamba2Config {
  arch: 'mamba2';
  modelType: 'mamba2';
  /** d_model */
  hiddenSize: number;
  /** h */
  numHeads: number;
  /** p */
  headDim: number;
  /** n (N) */
  stateSize: number;
  /** g */
  nGroups: number;
  numHiddenLayers: number;
  expand: number;
  /** d_inner = h·p = expand·hiddenSize */
  intermediateSize: number;
  /** channels of the causal conv: x, B, C = d_inner + 2·g·n */
  convDim: number;
  /** conv width */
  convKernel: number;
  /** the chunk length the checkpoint was trained with (informational: the chunked form gives the same result for any) */
  chunkSize: number;
  /** Δ is clamped into [lo, hi] after softplus (transformers' default (0, ∞): no clamp) */
  timeStepLimit: [number, number];
  timeStepMin: number;
  timeStepMax: number;
  timeStepFloor: number;
  /** in_proj / out_proj biases */
  useBias: boolean;
  useConvBias: boolean;
  layerNormEpsilon: number;
  tieWordEmbeddings: boolean;
  vocabSize: number;
  bosTokenId: number | null;
  eosTokenId: number | null;
  padTokenId: number | null;
}

export interface GptNeoxConfig {
  arch: 'gpt-neox';
  modelType: 'gpt_neox';
  hiddenSize: number;
  numAttentionHeads: number;
  /** hiddenSize / numAttentionHeads */
  headDim: number;
  numHiddenLayers: number;
  intermediateSize: number;
  /** fraction of each head's dims that get rotary (rotary_pct / partial_rotary_factor) */
  rotaryPct: number;
  /**
   * The rotated dims per head, always even: transformers takes rot = int(headDim · rotaryPct) and rotates the first
   * 2·ceil(rot/2) dims (rotate_half over cos/sin tables of ceil(rot/2) frequencies, each twice), i.e. rot, or rot + 1
   * when rot is odd.
   */
  rotaryDims: number;
  /** rot = int(headDim · rotaryPct) as transformers computes it (the denominator of its frequency exponents) */
  rotaryDimsConfig: number;
  /**
   * The rotary base for `rotaryDims`: frequency i is ropeTheta^(−2i / rotaryDims). Equal to the config's base
   * (rope_theta / rotary_emb_base) when rot is even; for an odd rot, transformers' base^(−2i / rot) is the same
   * frequency as (base^(rotaryDims / rot))^(−2i / rotaryDims), so this is base^(rotaryDims / rot).
   */
  ropeTheta: number;
  /** the base as config.json gives it (rope_theta / rotary_emb_base) */
  ropeThetaConfig: number;
  useParallelResidual: boolean;
  layerNormEps: number;
  hiddenAct: 'gelu';
  tieWordEmbeddings: boolean;
  vocabSize: number;
  maxPositionEmbeddings: number;
  attentionBias: boolean;
  bosTokenId: number | null;
  eosTokenId: number | null;
}

export type ModelConfig = MambaConfig | Mamba2Config | GptNeoxConfig;

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

type Json = Record<string, unknown>;

function show(v: unknown): string {
  if (v === undefined) return 'undefined';
  try {
    return JSON.stringify(v);
  } catch {
    return String(v);
  }
}

class Reader {
  constructor(readonly json: Json, readonly what: string) {}

  has(key: string): boolean {
    return this.json[key] !== undefined && this.json[key] !== null;
  }

  /** First present key among `keys`, or undefined. */
  pick(keys: string[]): { key: string; value: unknown } | undefined {
    for (const key of keys) if (this.has(key)) return { key, value: this.json[key] };
    return undefined;
  }

  int(keys: string[], opts: { min?: number; default?: number } = {}): number {
    const p = this.pick(keys);
    if (!p) {
      if (opts.default !== undefined) return opts.default;
      throw new ConfigError(`${this.what}: missing required field "${keys[0]}"${keys.length > 1 ? ` (or ${keys.slice(1).map((k) => `"${k}"`).join(', ')})` : ''}`);
    }
    const v = p.value;
    if (typeof v !== 'number' || !Number.isInteger(v)) {
      throw new ConfigError(`${this.what}: field "${p.key}" must be an integer, got ${show(v)}`);
    }
    const min = opts.min ?? 1;
    if (v < min) throw new ConfigError(`${this.what}: field "${p.key}" must be ≥ ${min}, got ${v}`);
    return v;
  }

  num(keys: string[], opts: { default?: number; positive?: boolean; max?: number } = {}): number {
    const p = this.pick(keys);
    if (!p) {
      if (opts.default !== undefined) return opts.default;
      throw new ConfigError(`${this.what}: missing required field "${keys[0]}"`);
    }
    const v = p.value;
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      throw new ConfigError(`${this.what}: field "${p.key}" must be a finite number, got ${show(v)}`);
    }
    if (opts.positive && !(v > 0)) throw new ConfigError(`${this.what}: field "${p.key}" must be > 0, got ${v}`);
    if (opts.max !== undefined && v > opts.max) {
      throw new ConfigError(`${this.what}: field "${p.key}" must be ≤ ${opts.max}, got ${v}`);
    }
    return v;
  }

  bool(keys: string[], def: boolean): boolean {
    const p = this.pick(keys);
    if (!p) return def;
    if (typeof p.value !== 'boolean') {
      throw new ConfigError(`${this.what}: field "${p.key}" must be true or false, got ${show(p.value)}`);
    }
    return p.value;
  }

  /** Token id fields may be an int, null, or (eos in newer configs) a list: take the first. */
  tokenId(key: string): number | null {
    const v = this.json[key];
    if (v === undefined || v === null) return null;
    const x = Array.isArray(v) ? v[0] : v;
    if (typeof x !== 'number' || !Number.isInteger(x) || x < 0) {
      throw new ConfigError(`${this.what}: field "${key}" must be a token id, got ${show(v)}`);
    }
    return x;
  }
}

function asObject(json: unknown, what: string): Json {
  if (typeof json === 'string') {
    try {
      json = parseJson(json);
    } catch (e) {
      throw new ConfigError(`${what}: not valid JSON (${(e as Error).message})`);
    }
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new ConfigError(`${what}: expected a JSON object, got ${Array.isArray(json) ? 'an array' : show(json)}`);
  }
  return json as Json;
}

/**
 * mamba_ssm's per-layer defaults (mamba_ssm/modules/mamba_simple.py: Mamba, mamba2.py: Mamba2), filled in for keys a
 * mamba_ssm config.json's ssm_cfg leaves out. Mamba2's are listed for the Mamba-2 loader; parseMambaConfig runs
 * Mamba1 only.
 */
export const MAMBA_SSM_DEFAULTS = {
  Mamba1: { d_state: 16, d_conv: 4, expand: 2, dt_rank: 'auto', conv_bias: true, bias: false },
  Mamba2: {
    d_state: 128, d_conv: 4, expand: 2, headdim: 64, ngroups: 1, chunk_size: 256, conv_bias: true, bias: false,
    rmsnorm: true, norm_before_gate: false, D_has_hdim: false,
  },
} as const;

/** ssm_cfg keys that only steer initialisation or which kernel runs (no effect on a loaded model's outputs). */
const SSM_CFG_INIT_ONLY = ['dt_min', 'dt_max', 'dt_init', 'dt_scale', 'dt_init_floor', 'use_fast_path', 'layer_idx', 'A_init_range'];

/**
 * The mamba_ssm config.json fields (MambaConfig in mamba_ssm/models/config_mamba.py) that change the model; refuses
 * what we can't run exactly, naming the field: MLP blocks (d_intermediate > 0), attention layers (attn_layer_idx),
 * LayerNorm instead of RMSNorm, unknown ssm_cfg keys. residual_in_fp32 / fused_add_norm only change rounding (our
 * residual stream is f32 anyway) and are accepted.
 */
function checkMambaSsmFields(obj: Json, ssmCfg: Json, layer: string, what: string): void {
  const dInter = obj.d_intermediate;
  if (dInter !== undefined && dInter !== null && dInter !== 0) {
    throw new ConfigError(`${what}: field "d_intermediate" is ${show(dInter)}; Mamba blocks with an MLP (mamba_ssm's d_intermediate > 0) are not supported`);
  }
  const attn = obj.attn_layer_idx;
  if (attn !== undefined && attn !== null && !(Array.isArray(attn) && attn.length === 0)) {
    throw new ConfigError(`${what}: field "attn_layer_idx" is ${show(attn)}; hybrid Mamba + attention models are not supported`);
  }
  for (const key of ['residual_in_fp32', 'fused_add_norm']) {
    const v = obj[key];
    if (v !== undefined && v !== null && typeof v !== 'boolean') throw new ConfigError(`${what}: field "${key}" must be true or false, got ${show(v)}`);
  }
  const known = new Set<string>([...Object.keys(MAMBA_SSM_DEFAULTS[layer as keyof typeof MAMBA_SSM_DEFAULTS] ?? {}), ...SSM_CFG_INIT_ONLY, 'layer']);
  for (const key of Object.keys(ssmCfg)) {
    if (!known.has(key)) throw new ConfigError(`${what}: field "ssm_cfg.${key}" (${show(ssmCfg[key])}) is not a ${layer} setting this loader knows`);
  }
}

/** Parse a Mamba v1 config (MambaForCausalLM *-hf keys, or the original mamba_ssm keys d_model/n_layer/ssm_cfg). */
export function parseMambaConfig(json: unknown, what = 'config.json'): MambaConfig {
  const obj = asObject(json, what);
  const r = new Reader(obj, what);
  const rawSsm = obj.ssm_cfg;
  if (rawSsm !== undefined && rawSsm !== null && (typeof rawSsm !== 'object' || Array.isArray(rawSsm))) {
    throw new ConfigError(`${what}: field "ssm_cfg" must be an object, got ${show(rawSsm)}`);
  }
  const ssmCfg = (rawSsm ?? {}) as Json;
  const layer = ssmCfg.layer ?? 'Mamba1';
  if (layer !== 'Mamba1') {
    throw new ConfigError(
      `${what}: field "ssm_cfg.layer" is ${show(layer)}; only Mamba1 (Mamba v1) is supported in mamba_ssm's own format ` +
        '(for Mamba-2 use a transformers Mamba2ForCausalLM checkpoint, e.g. AntonV/mamba2-130m-hf)',
    );
  }
  // mamba_ssm's config.json (d_model, n_layer, ssm_cfg, no hidden_size): its own defaults and its vocab padding.
  const mambaSsm = !r.has('hidden_size') && r.has('d_model');
  if (mambaSsm) checkMambaSsmFields(obj, ssmCfg, layer, what);
  // mamba_ssm keeps d_state / d_conv / expand / dt_rank / bias / conv_bias in ssm_cfg; look there as a fallback.
  const r2 = new Reader({ ...ssmCfg, ...obj }, what);
  const D1 = MAMBA_SSM_DEFAULTS.Mamba1;

  const hiddenSize = r.int(['hidden_size', 'd_model']);
  const stateSize = r2.int(['state_size', 'd_state'], { default: D1.d_state });
  const numHiddenLayers = r.int(['num_hidden_layers', 'n_layer']);
  const expand = r2.int(['expand'], { default: D1.expand });
  const intermediateSize = r2.has('intermediate_size') || r2.has('d_inner')
    ? r2.int(['intermediate_size', 'd_inner'])
    : expand * hiddenSize;
  const convKernel = r2.int(['conv_kernel', 'd_conv'], { default: D1.d_conv });

  let timeStepRank: number;
  const dtr = r2.pick(['time_step_rank', 'dt_rank']);
  if (!dtr || dtr.value === 'auto') timeStepRank = Math.ceil(hiddenSize / 16);
  else timeStepRank = r2.int([dtr.key]);

  const useBias = r2.bool(['use_bias', 'bias'], D1.bias);
  const useConvBias = r2.bool(['use_conv_bias', 'conv_bias'], D1.conv_bias);
  const layerNormEpsilon = r.num(['layer_norm_epsilon', 'norm_epsilon', 'rms_norm_eps'], { default: 1e-5, positive: true, max: 1 });
  if (obj.rms_norm === false) {
    throw new ConfigError(`${what}: field "rms_norm" is false; only RMSNorm Mamba models (rms_norm: true) are supported`);
  }
  const hiddenAct = obj.hidden_act;
  if (hiddenAct !== undefined && hiddenAct !== 'silu' && hiddenAct !== 'swish') {
    throw new ConfigError(`${what}: field "hidden_act" is ${show(hiddenAct)}; Mamba supports only "silu"`);
  }
  const padVocabSizeMultiple = r.int(['pad_vocab_size_multiple'], { default: 1 });
  const vocabSize = r.int(['vocab_size']);
  // mamba_ssm pads the embedding inside the model; the -hf configs store the padded size already (50280 = 50277→×8).
  const paddedVocabSize = mambaSsm && vocabSize % padVocabSizeMultiple
    ? vocabSize + padVocabSizeMultiple - (vocabSize % padVocabSizeMultiple)
    : vocabSize;
  if (timeStepRank > intermediateSize) {
    throw new ConfigError(`${what}: field "time_step_rank" is ${timeStepRank}, larger than intermediate_size ${intermediateSize}`);
  }
  return {
    arch: 'mamba',
    modelType: 'mamba',
    hiddenSize,
    stateSize,
    numHiddenLayers,
    expand,
    intermediateSize,
    convKernel,
    timeStepRank,
    useBias,
    useConvBias,
    layerNormEpsilon,
    tieWordEmbeddings: r.bool(['tie_word_embeddings', 'tie_embeddings'], true),
    vocabSize,
    paddedVocabSize,
    padVocabSizeMultiple,
    bosTokenId: r.tokenId('bos_token_id'),
    eosTokenId: r.tokenId('eos_token_id'),
    padTokenId: r.tokenId('pad_token_id'),
  };
}

/**
 * time_step_limit as config.json spells it: [lo, hi] with numbers, or non-finite values the way transformers 5 writes
 * them ({"__float__": "Infinity"}), or as Python's json writes them (bare Infinity, read by ./json.ts into the same
 * object form).
 */
function timeStepLimit(obj: Json, what: string): [number, number] {
  const v = obj.time_step_limit;
  if (v === undefined || v === null) return [0, Infinity];
  const bad = () => new ConfigError(`${what}: field "time_step_limit" must be [lo, hi] with 0 ≤ lo < hi (hi may be Infinity), got ${show(v)}`);
  if (!Array.isArray(v) || v.length !== 2) throw bad();
  const [lo, hi] = v.map((x) => (typeof x === 'number' ? x : nonFiniteFloat(x)));
  if (lo === undefined || hi === undefined || Number.isNaN(lo) || Number.isNaN(hi) || !Number.isFinite(lo) || lo < 0 || !(hi > lo)) throw bad();
  return [lo, hi];
}

/** Parse a Mamba-2 config (transformers' Mamba2Config keys; defaults as transformers 5's Mamba2Config). */
export function parseMamba2Config(json: unknown, what = 'config.json'): Mamba2Config {
  const obj = asObject(json, what);
  const r = new Reader(obj, what);
  const hiddenSize = r.int(['hidden_size']);
  const numHeads = r.int(['num_heads'], { default: 128 });
  const headDim = r.int(['head_dim'], { default: 64 });
  const expand = r.int(['expand'], { default: 2 });
  const intermediateSize = numHeads * headDim;
  if (expand * hiddenSize !== intermediateSize) {
    throw new ConfigError(
      `${what}: fields "num_heads" ${numHeads} × "head_dim" ${headDim} = ${intermediateSize} must equal "expand" ${expand} × "hidden_size" ${hiddenSize} = ${expand * hiddenSize}`,
    );
  }
  const nGroups = r.int(['n_groups'], { default: 8 });
  if (numHeads % nGroups) throw new ConfigError(`${what}: field "n_groups" ${nGroups} must divide "num_heads" ${numHeads}`);
  const stateSize = r.int(['state_size'], { default: 128 });
  if (obj.rms_norm === false) {
    throw new ConfigError(`${what}: field "rms_norm" is false; only Mamba-2 models with the gated RMSNorm (rms_norm: true) are supported`);
  }
  if (obj.norm_before_gate === true) {
    throw new ConfigError(`${what}: field "norm_before_gate" is true; only the norm after the gate (norm_before_gate: false, as transformers' Mamba2) is supported`);
  }
  const hiddenAct = obj.hidden_act;
  if (hiddenAct !== undefined && hiddenAct !== 'silu' && hiddenAct !== 'swish') {
    throw new ConfigError(`${what}: field "hidden_act" is ${show(hiddenAct)}; Mamba-2 supports only "silu"`);
  }
  return {
    arch: 'mamba2',
    modelType: 'mamba2',
    hiddenSize,
    numHeads,
    headDim,
    stateSize,
    nGroups,
    numHiddenLayers: r.int(['num_hidden_layers']),
    expand,
    intermediateSize,
    convDim: intermediateSize + 2 * nGroups * stateSize,
    convKernel: r.int(['conv_kernel'], { default: 4 }),
    chunkSize: r.int(['chunk_size'], { default: 256 }),
    timeStepLimit: timeStepLimit(obj, what),
    timeStepMin: r.num(['time_step_min'], { default: 0.001, positive: true }),
    timeStepMax: r.num(['time_step_max'], { default: 0.1, positive: true }),
    timeStepFloor: r.num(['time_step_floor'], { default: 1e-4 }),
    useBias: r.bool(['use_bias'], false),
    useConvBias: r.bool(['use_conv_bias'], true),
    layerNormEpsilon: r.num(['layer_norm_epsilon', 'norm_epsilon', 'rms_norm_eps'], { default: 1e-5, positive: true, max: 1 }),
    tieWordEmbeddings: r.bool(['tie_word_embeddings'], false),
    vocabSize: r.int(['vocab_size']),
    bosTokenId: r.tokenId('bos_token_id'),
    eosTokenId: r.tokenId('eos_token_id'),
    padTokenId: r.tokenId('pad_token_id'),
  };
}

/** Parse a GPT-NeoX (Pythia) config; accepts the older rotary_pct/rotary_emb_base keys and transformers-5 rope_parameters. */
export function parseGptNeoxConfig(json: unknown, what = 'config.json'): GptNeoxConfig {
  const obj = asObject(json, what);
  const r = new Reader(obj, what);
  const hiddenSize = r.int(['hidden_size']);
  const numAttentionHeads = r.int(['num_attention_heads']);
  if (hiddenSize % numAttentionHeads) {
    throw new ConfigError(`${what}: field "hidden_size" ${hiddenSize} is not divisible by num_attention_heads ${numAttentionHeads}`);
  }
  const headDim = hiddenSize / numAttentionHeads;
  const numHiddenLayers = r.int(['num_hidden_layers']);
  const intermediateSize = r.int(['intermediate_size']);

  // Rotary parameters: transformers 5 nests them in rope_parameters (or rope_scaling); older configs have top-level keys.
  let rope: Json = {};
  let ropeKey = '';
  for (const key of ['rope_parameters', 'rope_scaling']) {
    const v = obj[key];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'object' || Array.isArray(v)) throw new ConfigError(`${what}: field "${key}" must be an object, got ${show(v)}`);
    rope = v as Json;
    ropeKey = key;
    break;
  }
  const ropeType = rope.rope_type ?? rope.type;
  if (ropeType !== undefined && ropeType !== 'default') {
    throw new ConfigError(`${what}: field "${ropeKey}.rope_type" is ${show(ropeType)}; only "default" rotary embeddings are supported`);
  }
  const rr = new Reader(rope, what);
  const rotaryPct = rr.has('partial_rotary_factor')
    ? rr.num(['partial_rotary_factor'])
    : r.num(['rotary_pct', 'partial_rotary_factor'], { default: 0.25 });
  if (!(rotaryPct >= 0 && rotaryPct <= 1)) {
    throw new ConfigError(`${what}: field "rotary_pct" (partial_rotary_factor) must be in [0, 1], got ${rotaryPct}`);
  }
  const ropeThetaConfig = rr.has('rope_theta')
    ? rr.num(['rope_theta'], { positive: true })
    : r.num(['rotary_emb_base', 'rope_theta'], { default: 10000, positive: true });
  // transformers: dim = int(head_dim · partial_rotary_factor); inv_freq = base^(−arange(0, dim, 2) / dim); cos/sin =
  // cat(freqs, freqs), and apply_rotary_pos_emb rotates as many dims as cos has: 2·ceil(dim/2).
  const rotaryDimsConfig = Math.floor(headDim * rotaryPct);
  const rotaryDims = 2 * Math.ceil(rotaryDimsConfig / 2);
  if (rotaryDims > headDim) {
    throw new ConfigError(
      `${what}: rotary dims int(head_dim ${headDim} · rotary_pct ${rotaryPct}) = ${rotaryDimsConfig} is odd and equal to the head dim; ` +
        `transformers' rotary embedding rotates ${rotaryDims} dims, more than a head has`,
    );
  }
  const ropeTheta = rotaryDims === rotaryDimsConfig ? ropeThetaConfig : Math.pow(ropeThetaConfig, rotaryDims / rotaryDimsConfig);

  const hiddenAct = obj.hidden_act ?? 'gelu';
  if (hiddenAct !== 'gelu') {
    throw new ConfigError(`${what}: field "hidden_act" is ${show(hiddenAct)}; only "gelu" (exact erf GELU) is supported`);
  }
  return {
    arch: 'gpt-neox',
    modelType: 'gpt_neox',
    hiddenSize,
    numAttentionHeads,
    headDim,
    numHiddenLayers,
    intermediateSize,
    rotaryPct,
    rotaryDims,
    rotaryDimsConfig,
    ropeTheta,
    ropeThetaConfig,
    useParallelResidual: r.bool(['use_parallel_residual'], true),
    layerNormEps: r.num(['layer_norm_eps'], { default: 1e-5, positive: true, max: 1 }),
    hiddenAct: 'gelu',
    tieWordEmbeddings: r.bool(['tie_word_embeddings'], false),
    vocabSize: r.int(['vocab_size']),
    maxPositionEmbeddings: r.int(['max_position_embeddings'], { default: 2048 }),
    attentionBias: r.bool(['attention_bias'], true),
    bosTokenId: r.tokenId('bos_token_id'),
    eosTokenId: r.tokenId('eos_token_id'),
  };
}

const MAMBA_ARCHS = ['MambaForCausalLM', 'MambaModel', 'MambaLMHeadModel'];
const MAMBA2_ARCHS = ['Mamba2ForCausalLM', 'Mamba2Model'];
const NEOX_ARCHS = ['GPTNeoXForCausalLM', 'GPTNeoXModel'];

/** Which architecture a config.json describes (by model_type, else architectures), or throw. */
export function detectArch(json: unknown, what = 'config.json'): Arch {
  const obj = asObject(json, what);
  const mt = obj.model_type;
  if (mt === 'mamba') return 'mamba';
  if (mt === 'mamba2') return 'mamba2';
  if (mt === 'gpt_neox') return 'gpt-neox';
  if (mt !== undefined) {
    throw new ConfigError(`${what}: field "model_type" is ${show(mt)}; supported model types are "mamba", "mamba2" and "gpt_neox"`);
  }
  const archs = obj.architectures;
  if (Array.isArray(archs) && archs.length) {
    if (archs.some((a) => MAMBA_ARCHS.includes(a as string))) return 'mamba';
    if (archs.some((a) => MAMBA2_ARCHS.includes(a as string))) return 'mamba2';
    if (archs.some((a) => NEOX_ARCHS.includes(a as string))) return 'gpt-neox';
    throw new ConfigError(`${what}: field "architectures" is ${show(archs)}; supported: MambaForCausalLM, Mamba2ForCausalLM, GPTNeoXForCausalLM`);
  }
  // mamba_ssm's original config.json has neither key.
  if ('d_model' in obj && 'n_layer' in obj) return 'mamba';
  throw new ConfigError(`${what}: missing field "model_type" (and "architectures"); cannot tell which model this is`);
}

/** Parse any supported config.json (object or JSON text). */
export function parseConfig(json: unknown, what = 'config.json'): ModelConfig {
  const obj = asObject(json, what);
  const arch = detectArch(obj, what);
  if (arch === 'mamba') return parseMambaConfig(obj, what);
  if (arch === 'mamba2') return parseMamba2Config(obj, what);
  return parseGptNeoxConfig(obj, what);
}
