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
import type { Category } from '../gpu/pool';
import type { GptNeoxConfig } from '../hub/config';
import { DispatchList, StaticUniforms } from '../gpu/kernel';
import { AttentionDecodeOut, AttentionDecodeSplit } from '../kernels/attention_decode_fused';
import { DecodeMatvec, EPI_ADD, EPI_BIAS, EPI_GELU } from '../kernels/decode_matvec';
import { DecodeEmbedding } from '../kernels/embedding';
import { neoxPackLayout, type NeoxDecodeShape } from '../kernels/neox_decode';
import { CausalLM, lw, type DecodeHead } from './base';
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

/** The recorded decode step's kernels and buffers (made on the first decode, kept until dispose). */
interface NeoxDecode {
  packs: GPUBuffer[];
  off: Record<string, number>;
  finalPack: GPUBuffer;
  x: GPUBuffer;      // (d)        residual stream
  qkvm: GPUBuffer;   // (3d | f)   fused QKV [H, 3, hd], then the MLP hidden at mOff
  mOff: number;
  part: GPUBuffer;   // attention split partials
  embed: DecodeEmbedding;
  sep: {
    inK: DecodeMatvec;        // LN₁ + QKV (+ LN₂ + dense_h_to_4h + GELU when the residual is parallel)
    upK: DecodeMatvec | null; // sequential residual: LN₂ + dense_h_to_4h + GELU
    split: AttentionDecodeSplit;
    out: AttentionDecodeOut;
    down: DecodeMatvec;
  };
  head: DecodeMatvec[];
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

  protected decodeKey(): string {
    return `cap${this.capacity}`;
  }

  protected decodeCapacity(): number {
    return this.capacity;
  }

  private blocker: string | null | undefined;

  protected fusedDecodeBlocker(): string | null {
    if (this.blocker !== undefined) return this.blocker;
    const c = this.config;
    this.blocker = null;
    if (4 * c.hiddenSize + 8 * c.numAttentionHeads + 2048 > this.ctx.limits.maxComputeWorkgroupStorageSize) {
      this.blocker = `hidden size ${c.hiddenSize} does not fit the attention merge in workgroup memory`;
    }
    if (Math.ceil(c.headDim / 4) > AttentionDecodeSplit.WG) this.blocker = `head dim ${c.headDim} > ${4 * AttentionDecodeSplit.WG}`;
    for (let i = 0; i < c.numHiddenLayers && !this.blocker; i++) {
      for (const m of ['attention.query_key_value', 'attention.dense', 'mlp.dense_h_to_4h', 'mlp.dense_4h_to_h']) {
        const w = this.weights.matrix(`gpt_neox.layers.${i}.${m}.weight`);
        if (w.blocks.length > 1) { this.blocker = `${w.name} is split into ${w.blocks.length} buffers`; break; }
      }
    }
    const qkv = this.weights.matrix('gpt_neox.layers.0.attention.query_key_value.weight');
    const up = this.weights.matrix('gpt_neox.layers.0.mlp.dense_h_to_4h.weight');
    if (!this.blocker && qkv.dtype !== up.dtype) this.blocker = 'QKV and MLP weights differ in precision';
    return this.blocker;
  }

  /**
   * One token: per layer (parallel residual, Pythia) four dispatches:
   *   1. decode_matvec (two segments): qkv = QKV(LN₁(x)) and m = GELU(W₁ LN₂(x)) (LN statistics computed once per workgroup)
   *   2. attention_decode_rope_split:  RoPE(q, k), K/V → cache[pos], split-K softmax(q Kᵀ/√hd) V partials
   *   3. attention_decode_out:         x += Dense(merge(partials))
   *   4. decode_matvec:                x += W₂ m
   * Sequential residual: 1. LN₁ + QKV, 2. split, 3. out, 4. LN₂ + W₁ + GELU, 5. W₂ + residual. Then the final
   * LayerNorm + LM head (+ argmax partials), after the embedding gather.
   */
  protected recordDecodeStep(list: DispatchList, uniforms: StaticUniforms, io: { history: GPUBuffer; state: GPUBuffer }): DecodeHead {
    const c = this.config;
    const W = this.weights;
    const d = c.hiddenSize;
    const k = this.dec ??= this.makeDecode();
    const M = (i: number, m: string) => W.matrix(`gpt_neox.layers.${i}.${m}.weight`).blocks[0].buffer;
    const has = (i: number, name: string) => W.has(`gpt_neox.layers.${i}.${name}`);
    const { x, qkvm, part, off } = k;
    const sep = k.sep;
    for (const e of k.embed.bind(io.history, io.state, x)) list.add(e.kernel, e.group, e.grid);
    for (let i = 0; i < c.numHiddenLayers; i++) {
      const pack = k.packs[i];
      const qkvSeg = { w: M(i, 'attention.query_key_value'), yOff: 0, epi: has(i, 'attention.query_key_value.bias') ? EPI_BIAS : 0, biasOff: off.qkvB, gOff: off.ln1g, bOff: off.ln1b };
      const upSeg = { w: M(i, 'mlp.dense_h_to_4h'), yOff: k.mOff, epi: EPI_BIAS | EPI_GELU, biasOff: off.upB, gOff: off.ln2g, bOff: off.ln2b };
      const a = sep.inK.bind(uniforms, { x, pack, y: qkvm, seg1: qkvSeg, seg2: c.useParallelResidual ? upSeg : undefined });
      list.add(sep.inK.kernel, a.group, a.grid);
      const sp = sep.split.bind({ qkv: qkvm, kCache: this.kCache[i], vCache: this.vCache[i], part, state: io.state });
      list.add(sep.split.kernel, sp.group, sp.grid, sp.dynamicX);
      const o = sep.out.bind({ part, state: io.state, w: M(i, 'attention.dense'), pack, x });
      list.add(sep.out.kernel, o.group, o.grid);
      if (sep.upK) {
        const u = sep.upK.bind(uniforms, { x, pack, y: qkvm, seg1: upSeg });
        list.add(sep.upK.kernel, u.group, u.grid);
      }
      const dn = sep.down.bind(uniforms, { x: qkvm, xOff: k.mOff, pack, y: x, seg1: { w: M(i, 'mlp.dense_4h_to_h'), yOff: 0, epi: EPI_ADD | EPI_BIAS, biasOff: off.downB } });
      list.add(sep.down.kernel, dn.group, dn.grid);
    }
    return this.recordHead(list, uniforms, k.head, x, k.finalPack, { gOff: 0, bOff: Math.ceil(d / 4) * 4 }, this.headWeight());
  }

  private dec: NeoxDecode | undefined;

  private headWeight() {
    return this.weights.matrix(this.config.tieWordEmbeddings ? 'gpt_neox.embed_in.weight' : 'embed_out.weight');
  }

  private makeDecode(): NeoxDecode {
    const c = this.config;
    const W = this.weights;
    const d = c.hiddenSize, f = c.intermediateSize, H = c.numAttentionHeads, hd = c.headDim;
    const up4 = (n: number) => Math.ceil(n / 4) * 4;
    const L0 = (m: string) => W.matrix(`gpt_neox.layers.0.${m}.weight`);
    const dtype = L0('attention.query_key_value').dtype;
    const eps = c.layerNormEps;
    const has = (name: string) => W.has(`gpt_neox.layers.0.${name}`);
    const shape: NeoxDecodeShape = {
      d, f, H, hd, rot: c.rotaryDims, base: c.ropeTheta, eps, parallel: c.useParallelResidual, dtype,
      qkvBias: has('attention.query_key_value.bias'), denseBias: has('attention.dense.bias'),
    };
    // per-layer pack: LayerNorm weights and every bias, copied once into one buffer
    const P = neoxPackLayout(shape);
    const parts: [keyof typeof P, string, number][] = [
      ['ln1g', 'input_layernorm.weight', d], ['ln1b', 'input_layernorm.bias', d],
      ['ln2g', 'post_attention_layernorm.weight', d], ['ln2b', 'post_attention_layernorm.bias', d],
      ['qkvB', 'attention.query_key_value.bias', 3 * d], ['denseB', 'attention.dense.bias', d],
      ['upB', 'mlp.dense_h_to_4h.bias', f], ['downB', 'mlp.dense_4h_to_h.bias', d],
    ];
    const off: Record<string, number> = { ...P };
    const split = new AttentionDecodeSplit(this.ctx, { H, hd, rot: c.rotaryDims, base: c.ropeTheta });
    const mOff = up4(3 * d);
    // all or none: out of memory here leaves nothing behind
    const specs: Record<string, [number, Category, string]> = {
      x: [d * 4, 'activations', 'decode.x'], qkvm: [(mOff + f) * 4, 'activations', 'decode.qkvm'],
      part: [split.partFloats * 4, 'activations', 'decode.attention-partials'],
    };
    specs.finalPack = [2 * up4(d) * 4, 'weights', 'decode_pack.final'];
    for (let i = 0; i < c.numHiddenLayers; i++) specs[`pack${i}`] = [P.total * 4, 'weights', `decode_pack.${i}`];
    const b = this.allocAll(specs);
    const enc = this.ctx.device.createCommandEncoder({ label: `${this.name}.decode-packs` });
    const packs: GPUBuffer[] = [];
    for (let i = 0; i < c.numHiddenLayers; i++) {
      const pack = b[`pack${i}`];
      for (const [key, name, n] of parts) {
        const full = `gpt_neox.layers.${i}.${name}`;
        if (W.has(full)) enc.copyBufferToBuffer(W.param(full).buffer, 0, pack, off[key] * 4, n * 4);
      }
      packs.push(pack);
    }
    const finalPack = b.finalPack;
    enc.copyBufferToBuffer(W.param('gpt_neox.final_layer_norm.weight').buffer, 0, finalPack, 0, d * 4);
    enc.copyBufferToBuffer(W.param('gpt_neox.final_layer_norm.bias').buffer, 0, finalPack, up4(d) * 4, d * 4);
    this.ctx.submit(enc);
    return {
      packs, off, finalPack, mOff, x: b.x, qkvm: b.qkvm, part: b.part,
      embed: new DecodeEmbedding(this.ctx, lw(W.matrix('gpt_neox.embed_in.weight'))),
      sep: {
        inK: new DecodeMatvec(this.ctx, { K: d, N: 3 * d, N2: c.useParallelResidual ? f : 0, dtype, norm: 'ln', eps }),
        upK: c.useParallelResidual ? null : new DecodeMatvec(this.ctx, { K: d, N: f, dtype: L0('mlp.dense_h_to_4h').dtype, norm: 'ln', eps }),
        split,
        out: new AttentionDecodeOut(this.ctx, { H, hd, rot: c.rotaryDims, base: c.ropeTheta, dtype: L0('attention.dense').dtype, bias: shape.denseBias, biasOff: off.denseB }),
        down: new DecodeMatvec(this.ctx, { K: f, N: d, dtype: L0('mlp.dense_4h_to_h').dtype }),
      },
      head: this.headKernels(this.headWeight(), 'ln', eps),
    };
  }

  protected reserve(end: number, rows: number): void {
    this.ensureCache(end);
    this.ensureActs(rows);
  }

  /** Per token of a pass: the Acts below (x, h, qkv, att, mlp); the widest is qkv or mlp. */
  protected passRowBytes(): { total: number; widest: number } {
    const cols = Object.values(this.actColumns());
    return { total: this.actBytesPerRow(), widest: Math.max(...cols) * 4 };
  }

  /** The reference attention materialises [H, n, pos + n] scores, which must fit one binding (and its softmax grid). */
  protected passRowLimit(pos: number): number {
    if (this.kernels.attention !== 'reference') return Infinity;
    const lim = this.ctx.limits;
    const perHead = Math.min(lim.maxStorageBufferBindingSize, lim.maxBufferSize) / (4 * this.config.numAttentionHeads);
    return Math.min(lim.maxComputeWorkgroupsPerDimension, Math.floor((Math.sqrt(pos * pos + 4 * perHead) - pos) / 2));
  }

  protected releasePassBuffers(): void {
    if (this.acts) for (const [k, b] of Object.entries(this.acts)) if (k !== 'rows') this.free(b as GPUBuffer);
    this.acts = null;
  }

  private ensureActs(rows: number): Acts {
    if (this.acts && this.acts.rows >= rows) return this.acts;
    if (this.acts) for (const [k, b] of Object.entries(this.acts)) if (k !== 'rows') this.free(b as GPUBuffer);
    this.acts = null;
    const cols = this.actColumns();
    const g = (k: keyof typeof cols): [number, 'activations', string] => [rows * cols[k] * 4, 'activations', k];
    this.acts = { rows, ...this.allocAll({ x: g('x'), h: g('h'), qkv: g('qkv'), att: g('att'), mlp: g('mlp') }) };
    return this.acts;
  }

  /** Floats per token row of each prefill activation buffer (Acts). */
  private actColumns() {
    const d = this.config.hiddenSize, f = this.config.intermediateSize;
    return { x: d, h: d, qkv: 3 * d, att: d, mlp: f };
  }

  protected actBytesPerRow(): number {
    return Object.values(this.actColumns()).reduce((a, b) => a + b, 0) * 4;
  }

  /** K and V, each (H, ·, hd) f32, in every layer. */
  protected kvBytesPerToken(): number {
    const c = this.config;
    return 2 * c.numHiddenLayers * c.numAttentionHeads * c.headDim * 4;
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
