/**
 * Random checkpoints for any config, written as safetensors in a hub-layout folder: the way to test shapes and tensor
 * spellings the committed fixtures don't have, with src/reference/models.ts (float64) as the oracle. Values follow
 * tools/make_golden.py's initialisation (norm weights near 1, A_log = log(1..N) + noise, dt bias from Δ log-uniform in
 * [1e-3, 0.1], linear weights ~ 1/√fan_in), so the logits are well spread.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseConfig, type ModelConfig } from '../../src/hub/config';
import { expectedTensors } from '../../src/hub/weights';
import { roundToF16 } from '../../src/math/f16';
import type { Weights } from '../../src/reference/models';
import { rng } from '../gpu';
import { writeSafetensors, type WTensor } from '../hub/st-writer';
import { TINY_TOKENIZER_CONFIG, tinyTokenizerJson } from '../hub/tiny-tokenizer';

/** How the checkpoint spells its tensors. */
export interface Spelling {
  /** GPT-NeoX head name (default 'embed_out') */
  head?: 'embed_out' | 'lm_head';
  /** a base model saved on its own: no `gpt_neox.` / `backbone.` prefix */
  noPrefix?: boolean;
  /** mamba_ssm's `backbone.embedding.weight` */
  mambaSsmEmbedding?: boolean;
  /** a tied model whose file also holds the head (with other values: transformers ignores it) */
  tiedHeadCopy?: boolean;
  dtype?: 'F32' | 'F16' | 'BF16';
}

function gaussian(r: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
}

function values(name: string, shape: number[], r: () => number): Float32Array {
  const count = shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(count);
  const fill = (f: (i: number) => number) => { for (let i = 0; i < count; i++) out[i] = f(i); };
  const n = (std: number, mean = 0) => () => mean + std * gaussian(r);
  if (/norm(_f)?\.weight$|layernorm\.weight$|layer_norm\.weight$/.test(name)) fill(n(0.1, 1));
  else if (name.endsWith('A_log') && shape.length === 1) fill(() => Math.log(1 + 15 * r())); // Mamba-2: one A per head
  else if (name.endsWith('A_log')) fill((i) => Math.log((i % shape[1]) + 1) + 0.1 * gaussian(r));
  else if (name.endsWith('mixer.D')) fill(n(0.1, 1));
  else if (name.endsWith('dt_proj.bias') || name.endsWith('mixer.dt_bias')) {
    fill(() => {
      const dt = Math.exp(Math.log(1e-3) + r() * (Math.log(0.1) - Math.log(1e-3)));
      return dt + Math.log(-Math.expm1(-dt)); // softplus⁻¹(dt)
    });
  } else if (name.endsWith('conv1d.weight')) fill(n(0.3));
  else if (name.endsWith('bias')) fill(n(0.1));
  else if (/embed(ding)?s?(_in)?\.weight$/.test(name)) fill(n(name.includes('gpt_neox') ? 0.5 : 0.3));
  else if (/(embed_out|lm_head)\.weight$/.test(name)) fill(n(0.3));
  else fill(n(1.2 / Math.sqrt(shape[shape.length - 1]))); // linear weights (out, in)
  return out;
}

export interface RandomCheckpoint {
  config: ModelConfig;
  /** the model's tensors (canonical names, values as stored: rounded to the file dtype) for the reference */
  weights: Weights;
  /** the file's tensors, spelled as asked */
  tensors: WTensor[];
}

const roundTo = (dtype: string | undefined, v: Float32Array): Float32Array => {
  if (dtype === 'F16') return roundToF16(v);
  if (dtype === 'BF16') return v.map(bf16Round);
  return v;
};
function bf16Round(x: number): number {
  const f = new Float32Array([x]);
  const u = new Uint32Array(f.buffer);
  u[0] = (u[0] + 0x7fff + ((u[0] >> 16) & 1)) & 0xffff0000;
  return f[0];
}

/** A random checkpoint for a config.json object. */
export function randomCheckpoint(rawConfig: Record<string, unknown>, seed: number, sp: Spelling = {}): RandomCheckpoint {
  const config = parseConfig(rawConfig);
  const r = rng(seed);
  const weights: Weights = new Map();
  const tensors: WTensor[] = [];
  const spell = (name: string): string => {
    let out = name;
    if (config.arch === 'gpt-neox') {
      if (out === 'embed_out.weight' && sp.head === 'lm_head') out = 'lm_head.weight';
      if (sp.noPrefix) out = out.replace(/^gpt_neox\./, '');
    } else {
      if (sp.mambaSsmEmbedding) out = out.replace(/^backbone\.embeddings\./, 'backbone.embedding.');
      if (sp.noPrefix) out = out.replace(/^backbone\./, '');
    }
    return out;
  };
  const specs = [...expectedTensors(config)];
  if (sp.tiedHeadCopy && config.tieWordEmbeddings) {
    const embed = config.arch === 'mamba' ? 'backbone.embeddings.weight' : 'gpt_neox.embed_in.weight';
    specs.push([config.arch === 'mamba' ? 'lm_head.weight' : 'embed_out.weight', { shape: expectedTensors(config).get(embed)!.shape }]);
  }
  for (const [name, spec] of specs) {
    const v = roundTo(sp.dtype, values(name, spec.shape, r));
    const isTiedCopy = config.tieWordEmbeddings && (name === 'lm_head.weight' || name === 'embed_out.weight');
    if (!isTiedCopy) weights.set(name, v);
    tensors.push({ name: spell(name), dtype: sp.dtype ?? 'F32', shape: spec.shape, data: v });
  }
  return { config, weights, tensors };
}

/** Writes a hub-layout repo folder {root}/{repo}/{config.json, tokenizer.json, tokenizer_config.json, model.safetensors}. */
export function writeRepo(root: string, repo: string, rawConfig: Record<string, unknown>, tensors: WTensor[]): void {
  const dir = path.join(root, repo);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, 'config.json'), JSON.stringify(rawConfig, null, 2));
  writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(tinyTokenizerJson()));
  writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify(TINY_TOKENIZER_CONFIG));
  writeFileSync(path.join(dir, 'model.safetensors'), writeSafetensors(tensors, { metadata: { format: 'pt' } }));
}

/** config.json of a MambaForCausalLM as transformers 5 writes it (the fields the loader reads). */
export function mambaJson(o: { hidden: number; state: number; layers: number; conv: number; dtRank?: number | 'auto'; vocab: number; tie: boolean; bias?: boolean; convBias?: boolean; expand?: number }): Record<string, unknown> {
  const expand = o.expand ?? 2;
  return {
    architectures: ['MambaForCausalLM'], model_type: 'mamba', hidden_size: o.hidden, state_size: o.state,
    num_hidden_layers: o.layers, expand, intermediate_size: expand * o.hidden, conv_kernel: o.conv,
    time_step_rank: o.dtRank ?? Math.ceil(o.hidden / 16), use_bias: o.bias ?? false, use_conv_bias: o.convBias ?? true,
    hidden_act: 'silu', layer_norm_epsilon: 1e-5, residual_in_fp32: true, tie_word_embeddings: o.tie, vocab_size: o.vocab,
    bos_token_id: 0, eos_token_id: 0, pad_token_id: 0, dtype: 'float32', transformers_version: '5.17.0',
  };
}

/** config.json of a GPTNeoXForCausalLM as transformers 5 writes it (rope_parameters). */
export function neoxJson(o: { hidden: number; heads: number; layers: number; ffn: number; rotaryPct: number; parallel: boolean; vocab: number; tie: boolean }): Record<string, unknown> {
  return {
    architectures: ['GPTNeoXForCausalLM'], model_type: 'gpt_neox', hidden_size: o.hidden, num_attention_heads: o.heads,
    num_hidden_layers: o.layers, intermediate_size: o.ffn, hidden_act: 'gelu', max_position_embeddings: 2048,
    layer_norm_eps: 1e-5, use_parallel_residual: o.parallel, attention_bias: true, tie_word_embeddings: o.tie,
    rope_parameters: { rope_type: 'default', rope_theta: 10000.0, partial_rotary_factor: o.rotaryPct },
    vocab_size: o.vocab, bos_token_id: 0, eos_token_id: 0, dtype: 'float32', transformers_version: '5.17.0',
  };
}
