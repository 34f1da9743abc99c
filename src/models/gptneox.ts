/**
 * GPT-NeoX / Pythia language model (Black et al. 2022; Biderman et al. 2023) on WebGPU, with Hugging Face
 * GPTNeoXForCausalLM weights. Pre-LayerNorm blocks, fused QKV, partial rotary embeddings (rotate_half layout),
 * causal attention over a KV cache (flash attention by default), GELU MLP, parallel or sequential residual.
 *
 * Glossary:
 *   l    tokens in this pass          pos   position of the first of them (tokens already in the KV cache)
 *   d    hidden_size                  H     attention heads        hd = d / H   head dim
 *   rot  rotary dims per head = floor(hd · rotary_pct)            f     intermediate_size (MLP width)
 * Block (parallel residual, Pythia):  x ← x + Attn(LN₁(x)) + MLP(LN₂(x))
 * Block (sequential):                 x ← x + Attn(LN₁(x));  x ← x + MLP(LN₂(x))
 * Attn(h) = Dense(softmax(Q Kᵀ/√hd + causal mask) V) with [Q|K|V] = QKV(h), RoPE on Q, K;  MLP(h) = W₂ GELU(W₁ h)
 */
import type { GpuContext } from '../gpu/context';
import type { GptNeoxConfig } from '../hub/config';
import { CausalLM } from './base';
import type { Ops } from './ops';
import { rowSlice, view, type View } from './tensor';
import type { TensorSpec, WeightStore } from './weights';

export function gptNeoxTensorSpecs(c: GptNeoxConfig): TensorSpec[] {
  const d = c.hiddenSize, f = c.intermediateSize;
  const specs: TensorSpec[] = [
    { name: 'gpt_neox.embed_in.weight', shape: [c.vocabSize, d], kind: 'matrix' },
    { name: 'gpt_neox.final_layer_norm.weight', shape: [d], kind: 'param' },
    { name: 'gpt_neox.final_layer_norm.bias', shape: [d], kind: 'param' },
    { name: 'embed_out.weight', shape: [c.vocabSize, d], kind: 'matrix', optional: c.tieWordEmbeddings },
  ];
  for (let i = 0; i < c.numHiddenLayers; i++) {
    const p = `gpt_neox.layers.${i}.`;
    specs.push(
      { name: p + 'input_layernorm.weight', shape: [d], kind: 'param' },
      { name: p + 'input_layernorm.bias', shape: [d], kind: 'param' },
      { name: p + 'post_attention_layernorm.weight', shape: [d], kind: 'param' },
      { name: p + 'post_attention_layernorm.bias', shape: [d], kind: 'param' },
      { name: p + 'attention.query_key_value.weight', shape: [3 * d, d], kind: 'matrix' },
      { name: p + 'attention.query_key_value.bias', shape: [3 * d], kind: 'param', optional: !c.attentionBias },
      { name: p + 'attention.dense.weight', shape: [d, d], kind: 'matrix' },
      { name: p + 'attention.dense.bias', shape: [d], kind: 'param', optional: !c.attentionBias },
      { name: p + 'mlp.dense_h_to_4h.weight', shape: [f, d], kind: 'matrix' },
      { name: p + 'mlp.dense_h_to_4h.bias', shape: [f], kind: 'param' },
      { name: p + 'mlp.dense_4h_to_h.weight', shape: [d, f], kind: 'matrix' },
      { name: p + 'mlp.dense_4h_to_h.bias', shape: [d], kind: 'param' },
    );
  }
  return specs;
}

interface Acts {
  rows: number;
  x: GPUBuffer;      // (l, d)    residual stream
  h: GPUBuffer;      // (l, d)    LayerNorm output
  qkv: GPUBuffer;    // (l, 3d)   fused projections, per head [q | k | v]
  att: GPUBuffer;    // (l, d)    attention output, heads merged
  mlp: GPUBuffer;    // (l, f)    MLP hidden
}

export class GptNeoxModel extends CausalLM {
  readonly arch = 'transformer' as const;
  protected readonly diagnosticsKind = 'attention' as const;
  protected layerCount(): number { return this.config.numHiddenLayers; }
  readonly vocabSize: number;
  readonly maxContext: number;
  private acts: Acts | null = null;
  /** Per layer: K and V caches, each (H, capacity, hd). Grow with the context: this is the KV cache cost. */
  private kCache: GPUBuffer[] = [];
  private vCache: GPUBuffer[] = [];
  private capacity = 0;

  constructor(ctx: GpuContext, ops: Ops, weights: WeightStore, readonly config: GptNeoxConfig, name = 'pythia') {
    super(ctx, ops, weights, name);
    this.vocabSize = config.vocabSize;
    // Rotary positions extrapolate past max_position_embeddings (quality drops); the device bounds the cache.
    const perLayerPerToken = config.hiddenSize * 4;
    const byDevice = Math.floor(ctx.limits.maxStorageBufferBindingSize / perLayerPerToken);
    this.maxContext = Math.min(byDevice, 1 << 17);
  }

  protected clearState(): void {
    // Nothing to zero: positions ≥ pos are never read. Shrink nothing either; the cache is reused.
  }

  /** Makes room in the KV cache for `tokens` positions (grows by doubling, copying what is there). */
  private ensureCache(tokens: number): void {
    if (tokens <= this.capacity) return;
    const c = this.config;
    const H = c.numAttentionHeads, hd = c.headDim;
    let cap = Math.max(256, this.capacity);
    while (cap < tokens) cap *= 2;
    cap = Math.min(cap, this.maxContext);
    // All new buffers first (all or none: out of memory leaves the old cache as it was), then copy the old rows.
    const specs: Record<string, [number, 'kv-cache', string]> = {};
    for (let i = 0; i < c.numHiddenLayers; i++) {
      specs[`k${i}`] = [H * cap * hd * 4, 'kv-cache', `k_cache.${i}`];
      specs[`v${i}`] = [H * cap * hd * 4, 'kv-cache', `v_cache.${i}`];
    }
    const fresh = this.allocAll(specs);
    const k = Array.from({ length: c.numHiddenLayers }, (_, i) => fresh[`k${i}`]);
    const v = Array.from({ length: c.numHiddenLayers }, (_, i) => fresh[`v${i}`]);
    const enc = this.ctx.device.createCommandEncoder();
    for (const [olds, news] of [[this.kCache, k], [this.vCache, v]] as const) {
      olds.forEach((b, i) => {
        for (let h = 0; h < H; h++) enc.copyBufferToBuffer(b, h * this.capacity * hd * 4, news[i], h * cap * hd * 4, this.capacity * hd * 4);
      });
    }
    this.ctx.submit(enc);
    for (const b of [...this.kCache, ...this.vCache]) this.free(b);
    this.kCache = k;
    this.vCache = v;
    this.capacity = cap;
  }

  protected reserve(end: number, rows: number): void {
    this.ensureCache(end);
    this.ensureActs(rows);
  }

  private ensureActs(rows: number): Acts {
    if (this.acts && this.acts.rows >= rows) return this.acts;
    if (this.acts) for (const [k, b] of Object.entries(this.acts)) if (k !== 'rows') this.free(b as GPUBuffer);
    this.acts = null;
    const d = this.config.hiddenSize, f = this.config.intermediateSize;
    const g = (cols: number, label: string): [number, 'activations', string] => [rows * cols * 4, 'activations', label];
    this.acts = { rows, ...this.allocAll({ x: g(d, 'x'), h: g(d, 'h'), qkv: g(3 * d, 'qkv'), att: g(d, 'att'), mlp: g(f, 'mlp') }) };
    return this.acts;
  }

  protected encodeForward(pass: GPUComputePassEncoder, l: number, pos: number, logitRows: 'last' | 'all', logits: View): void {
    const c = this.config;
    const { ops, weights: W } = this;
    const d = c.hiddenSize, f = c.intermediateSize;
    const a = this.acts!;
    if (a.rows < l || this.capacity < pos + l) throw new Error('internal: reserve() was not called before encodeForward');
    const cache = { capacity: this.capacity, heads: c.numAttentionHeads, headDim: c.headDim, rotaryDims: c.rotaryDims, ropeTheta: c.ropeTheta };

    const x = view(a.x, l, d);                                        // (l, d)
    ops.embed(pass, this.ensureHistory(), pos, l, W.matrix('gpt_neox.embed_in.weight'), x);
    const bias = (name: string) => (W.has(name) ? W.param(name) : null);

    for (let i = 0; i < c.numHiddenLayers; i++) {
      const p = `gpt_neox.layers.${i}.`;
      // Attn(LN₁(x))
      const h = view(a.h, l, d);                                      // (l, d)
      ops.layerNorm(pass, x, W.param(p + 'input_layernorm.weight'), W.param(p + 'input_layernorm.bias'), h, c.layerNormEps);
      const qkv = view(a.qkv, l, 3 * d);                              // (l, H, 3, hd)
      ops.linear(pass, h, W.matrix(p + 'attention.query_key_value.weight'), bias(p + 'attention.query_key_value.bias'), qkv);
      ops.rotaryKv(pass, qkv, this.kCache[i], this.vCache[i], pos, cache);   // RoPE(q, k); K, V → cache[pos .. pos+l)
      // selectivity view only, on the pass that holds the last token: its attention weights over every position
      if (this.diag && pos + l === this.diag.tokens) ops.attentionRow(pass, qkv, this.kCache[i], pos, cache, { buffer: this.diag.buffer, offset: i * this.diag.tokens });
      const att = view(a.att, l, d);                                  // (l, H·hd)
      if (l === 1) ops.decodeAttention(pass, qkv, this.kCache[i], this.vCache[i], pos, cache, att);
      else ops.attention(pass, this.kernels.attention, qkv, this.kCache[i], this.vCache[i], pos, cache, att);

      if (c.useParallelResidual) {
        // x ← x + Dense(att) + MLP(LN₂(x)): LN₂ reads x before either add
        ops.layerNorm(pass, x, W.param(p + 'post_attention_layernorm.weight'), W.param(p + 'post_attention_layernorm.bias'), h, c.layerNormEps);
        ops.linear(pass, att, W.matrix(p + 'attention.dense.weight'), bias(p + 'attention.dense.bias'), x, true);
      } else {
        ops.linear(pass, att, W.matrix(p + 'attention.dense.weight'), bias(p + 'attention.dense.bias'), x, true);
        ops.layerNorm(pass, x, W.param(p + 'post_attention_layernorm.weight'), W.param(p + 'post_attention_layernorm.bias'), h, c.layerNormEps);
      }
      const m = view(a.mlp, l, f);                                    // (l, f)
      ops.linear(pass, h, W.matrix(p + 'mlp.dense_h_to_4h.weight'), W.param(p + 'mlp.dense_h_to_4h.bias'), m);
      ops.gelu(pass, m);
      ops.linear(pass, m, W.matrix(p + 'mlp.dense_4h_to_h.weight'), W.param(p + 'mlp.dense_4h_to_h.bias'), x, true);
    }

    const h = view(a.h, l, d);
    ops.layerNorm(pass, x, W.param('gpt_neox.final_layer_norm.weight'), W.param('gpt_neox.final_layer_norm.bias'), h, c.layerNormEps);
    const head = W.matrix(c.tieWordEmbeddings ? 'gpt_neox.embed_in.weight' : 'embed_out.weight');
    const rows = logitRows === 'all' ? h : rowSlice(h, l - 1, 1);
    ops.linear(pass, rows, head, null, rowSlice(logits, 0, rows.rows));
  }
}
