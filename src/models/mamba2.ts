/**
 * Mamba-2 language model (Dao & Gu 2024, "Transformers are SSMs: Generalized Models and Efficient Algorithms Through
 * Structured State Space Duality") on WebGPU, with transformers' Mamba2ForCausalLM weights. Prefill runs the chunked
 * SSD form (src/kernels/ssd.ts) over the prompt; decode is O(1) per token: a conv-state shift and one state update
 * per head per layer.
 *
 * Glossary (code name → paper symbol):
 *   l      tokens in this pass                          d      d_model (hidden_size)
 *   h      heads (num_heads)                            p      head dim P (head_dim)
 *   n      state size N (state_size)                    g      groups of B, C (n_groups), each shared by h/g heads
 *   dIn    d_inner = h·p = expand·d                     cd     conv_dim = dIn + 2·g·n: the conv runs over x, B, C
 *   k      conv width                                   Q      chunk length of the SSD form (chosen by the kernel)
 *   Δ (dt) step size per head, softplus(dt + dt_bias) clamped to time_step_limit
 *   A      scalar decay per head, A = −exp(A_log)       D      skip per head
 *   S      SSM state, (h, p, n) per layer: S_t = exp(Δ_t A)·S_{t−1} + Δ_t x_t B_tᵀ,  y_t = S_t C_t + D x_t
 * The Mamba-2 block (paper Figure 6): u → in_proj → (z, xBC, dt); xBC → conv1d → SiLU → (x, B, C);
 *   y = SSD(x; Δ, A, B, C) + D·x;  out = out_proj(RMSNorm_group(y ⊙ SiLU(z)) ⊙ w).
 */
import type { GpuContext } from '../gpu/context';
import type { Mamba2Config } from '../hub/config';
import type { DispatchList, StaticUniforms } from '../gpu/kernel';
import type { DecodeMatvec } from '../kernels/decode_matvec';
import { DecodeEmbedding } from '../kernels/embedding';
import { buildMamba2Pack, Mamba2DecodeIn, Mamba2DecodeOut, Mamba2DecodeSsm, mamba2ActsLayout, mamba2PackLayout, type Mamba2DecodeShape } from '../kernels/mamba2_decode';
import { encodeSsdParams } from '../kernels/ssd';
import { CausalLM, lw, type DecodeHead } from './base';
import type { Ops } from './ops';
import { colSlice, rowSlice, view, type View } from './tensor';
import type { TensorSpec, WeightStore } from './weights';

/** Every tensor a Mamba2ForCausalLM checkpoint must provide, with its shape. */
export function mamba2TensorSpecs(c: Mamba2Config): TensorSpec[] {
  const d = c.hiddenSize, dIn = c.intermediateSize, cd = c.convDim, h = c.numHeads, k = c.convKernel;
  const proj = dIn + cd + h;
  const specs: TensorSpec[] = [
    { name: 'backbone.embeddings.weight', shape: [c.vocabSize, d], kind: 'matrix' },
    { name: 'backbone.norm_f.weight', shape: [d], kind: 'param' },
    { name: 'lm_head.weight', shape: [c.vocabSize, d], kind: 'matrix', optional: c.tieWordEmbeddings },
  ];
  for (let i = 0; i < c.numHiddenLayers; i++) {
    const p = `backbone.layers.${i}.`;
    specs.push(
      { name: p + 'norm.weight', shape: [d], kind: 'param' },
      { name: p + 'mixer.in_proj.weight', shape: [proj, d], kind: 'matrix' },
      { name: p + 'mixer.conv1d.weight', shape: [cd, 1, k], kind: 'param' },
      { name: p + 'mixer.dt_bias', shape: [h], kind: 'param' },
      { name: p + 'mixer.A_log', shape: [h], kind: 'param' },
      { name: p + 'mixer.D', shape: [h], kind: 'param' },
      { name: p + 'mixer.norm.weight', shape: [dIn], kind: 'param' },
      { name: p + 'mixer.out_proj.weight', shape: [d, dIn], kind: 'matrix' },
    );
    if (c.useConvBias) specs.push({ name: p + 'mixer.conv1d.bias', shape: [cd], kind: 'param' });
    if (c.useBias) {
      specs.push(
        { name: p + 'mixer.in_proj.bias', shape: [proj], kind: 'param' },
        { name: p + 'mixer.out_proj.bias', shape: [d], kind: 'param' },
      );
    }
  }
  return specs;
}

/** The recorded decode step's kernels and buffers (made on the first decode, kept until dispose). */
interface Mamba2Decode {
  shape: Mamba2DecodeShape;
  packs: GPUBuffer[];        // per layer, mamba2PackLayout
  packed: boolean;
  acts: GPUBuffer;           // mamba2ActsLayout: hidden | zxbcdt | y
  embed: DecodeEmbedding;
  inK: Mamba2DecodeIn;
  ssm: Mamba2DecodeSsm;
  out: Mamba2DecodeOut;
  head: DecodeMatvec[];
}

/** Per-pass activation buffers, sized for `rows` tokens. */
interface Acts {
  rows: number;
  hidden: GPUBuffer; // (l, d)                residual stream
  normed: GPUBuffer; // (l, d)                RMSNorm(hidden)
  zxbcdt: GPUBuffer; // (l, dIn + cd + h)     in_proj output: z | xBC | dt
  xbc: GPUBuffer;    // (l, cd)               SiLU(conv1d(xBC)) = x | B | C
  y: GPUBuffer;      // (l, dIn)              SSD output
  yn: GPUBuffer;     // (l, dIn)              gated, normalised
}

export class Mamba2Model extends CausalLM {
  readonly arch = 'mamba2' as const;
  protected readonly diagnosticsKind = 'delta' as const;
  protected layerCount(): number { return this.config.numHiddenLayers; }
  readonly vocabSize: number;
  readonly maxContext: number;
  private acts: Acts | null = null;
  /** Per layer: conv state (k−1, cd) and SSM state S (h, p, n). Constant size whatever the context length. */
  private readonly convState: GPUBuffer[] = [];
  private readonly ssmState: GPUBuffer[] = [];
  /** Per layer: [A_log (h) | D (h) | dt_bias (h)] as the SSD kernels read them. */
  private readonly ssdParams: GPUBuffer[] = [];

  constructor(ctx: GpuContext, ops: Ops, weights: WeightStore, readonly config: Mamba2Config, name = 'mamba2') {
    super(ctx, ops, weights, name);
    this.vocabSize = config.vocabSize;
    // No positional limit: the recurrence runs as long as you like. Cap the token history at 1M tokens.
    this.maxContext = 1 << 20;
    const { intermediateSize: dIn, stateSize: n, convDim: cd, numHeads: h, convKernel: k } = config;
    const enc = ctx.device.createCommandEncoder({ label: `${name}.ssd-params` });
    for (let i = 0; i < config.numHiddenLayers; i++) {
      this.convState.push(this.alloc(cd * ops.convStateWidth(k) * 4, 'ssm-state', `conv_state.${i}`));
      this.ssmState.push(this.alloc(dIn * n * 4, 'ssm-state', `ssm_state.${i}`));
      const pack = this.alloc(3 * h * 4, 'weights', `ssd_params.${i}`);
      const P = (m: string) => weights.param(`backbone.layers.${i}.mixer.${m}`).buffer;
      encodeSsdParams(enc, P('A_log'), P('D'), P('dt_bias'), h, pack);
      this.ssdParams.push(pack);
    }
    ctx.submit(enc);
    this.clearState();
  }

  protected clearState(): void {
    for (const b of [...this.convState, ...this.ssmState]) this.zero(b);
  }

  private blocker: string | null | undefined;

  protected fusedDecodeBlocker(): string | null {
    if (this.blocker !== undefined) return this.blocker;
    const c = this.config;
    this.blocker = null;
    for (let i = 0; i < c.numHiddenLayers && !this.blocker; i++) {
      for (const m of ['in_proj', 'out_proj']) {
        const w = this.weights.matrix(`backbone.layers.${i}.mixer.${m}.weight`);
        if (w.blocks.length > 1) { this.blocker = `${w.name} is split into ${w.blocks.length} buffers`; break; }
      }
    }
    return this.blocker;
  }

  private dec: Mamba2Decode | undefined;

  private headWeight() {
    return this.weights.matrix(this.config.tieWordEmbeddings ? 'backbone.embeddings.weight' : 'lm_head.weight');
  }

  /**
   * One token, three dispatches per layer (Figure 6 fused):
   *   1. mamba2_decode_in:  zxbcdt = in_proj(RMSNorm(hidden)), with (x, B, C) = SiLU(conv_step(xBC))
   *   2. mamba2_decode_ssm: S = exp(Δ·A)·S + Δ·x·Bᵀ per head;  y = S·C + D·x
   *   3. mamba2_decode_out: hidden += out_proj(RMSNorm_group(y ⊙ SiLU(z)) ⊙ w)
   * then RMSNorm + LM head (+ argmax partials) in one dispatch. Plus the embedding gather in front.
   */
  protected recordDecodeStep(list: DispatchList, uniforms: StaticUniforms, io: { history: GPUBuffer; state: GPUBuffer }): DecodeHead {
    const c = this.config;
    const W = this.weights;
    const L = (i: number, m: string) => W.matrix(`backbone.layers.${i}.mixer.${m}.weight`);
    const k = this.dec ??= this.makeDecode();
    const param = (i: number, name: string) => W.param(`backbone.layers.${i}.${name}`).buffer;
    if (!k.packed) {
      const enc = this.ctx.device.createCommandEncoder({ label: `${this.name}.decode-packs` });
      for (let i = 0; i < c.numHiddenLayers; i++) {
        buildMamba2Pack(enc, k.shape, {
          aLog: param(i, 'mixer.A_log'), D: param(i, 'mixer.D'), dtBias: param(i, 'mixer.dt_bias'), norm: param(i, 'norm.weight'),
          convW: param(i, 'mixer.conv1d.weight'), convB: c.useConvBias ? param(i, 'mixer.conv1d.bias') : null, gnorm: param(i, 'mixer.norm.weight'),
          inBias: c.useBias ? param(i, 'mixer.in_proj.bias') : null, outBias: c.useBias ? param(i, 'mixer.out_proj.bias') : null,
        }, k.packs[i]);
      }
      this.ctx.submit(enc);
      k.packed = true;
    }
    const acts = k.acts;
    for (const e of k.embed.bind(io.history, io.state, acts)) list.add(e.kernel, e.group, e.grid);
    for (let i = 0; i < c.numHiddenLayers; i++) {
      const pack = k.packs[i];
      const a = k.inK.bind({ acts, w: L(i, 'in_proj').blocks[0].buffer, pack, convState: this.convState[i] });
      list.add(k.inK.kernel, a.group, a.grid);
      const s = k.ssm.bind({ acts, pack, state: this.ssmState[i] });
      list.add(k.ssm.kernel, s.group, s.grid);
      const o = k.out.bind({ acts, w: L(i, 'out_proj').blocks[0].buffer, pack });
      list.add(k.out.kernel, o.group, o.grid);
    }
    return this.recordHead(list, uniforms, k.head, acts, W.param('backbone.norm_f.weight').buffer, { gOff: 0, bOff: 0 }, this.headWeight(), mamba2ActsLayout(k.shape).hidden);
  }

  private makeDecode(): Mamba2Decode {
    const c = this.config;
    const W = this.weights;
    const L0 = (m: string) => W.matrix(`backbone.layers.0.mixer.${m}.weight`);
    const shape: Mamba2DecodeShape = {
      d: c.hiddenSize, h: c.numHeads, p: c.headDim, n: c.stateSize, g: c.nGroups, k: c.convKernel, eps: c.layerNormEpsilon,
      dtLimit: c.timeStepLimit, dtype: L0('in_proj').dtype, outDtype: L0('out_proj').dtype,
      inBias: c.useBias, convBias: c.useConvBias, outBias: c.useBias,
    };
    const layout = mamba2PackLayout(shape);
    // all or none: out of memory here leaves nothing behind
    const specs: Record<string, [number, 'weights' | 'activations', string]> = { acts: [mamba2ActsLayout(shape).total * 4, 'activations', 'decode.acts'] };
    for (let i = 0; i < c.numHiddenLayers; i++) specs[`pack${i}`] = [layout.total * 4, 'weights', `decode_pack.${i}`];
    const b = this.allocAll(specs);
    return {
      shape, packed: false, acts: b.acts,
      packs: Array.from({ length: c.numHiddenLayers }, (_, i) => b[`pack${i}`]),
      embed: new DecodeEmbedding(this.ctx, lw(W.matrix('backbone.embeddings.weight'))),
      inK: new Mamba2DecodeIn(this.ctx, shape),
      ssm: new Mamba2DecodeSsm(this.ctx, shape),
      out: new Mamba2DecodeOut(this.ctx, shape),
      head: this.headKernels(this.headWeight(), 'rms', c.layerNormEpsilon),
    };
  }

  protected reserve(_end: number, rows: number): void {
    this.ensureActs(rows);
  }

  private ensureActs(rows: number): Acts {
    if (this.acts && this.acts.rows >= rows) return this.acts;
    if (this.acts) for (const [k, b] of Object.entries(this.acts)) if (k !== 'rows') this.free(b as GPUBuffer);
    this.acts = null;
    const cols = this.actColumns();
    const f = (k: keyof typeof cols): [number, 'activations', string] => [rows * cols[k] * 4, 'activations', k];
    this.acts = {
      rows,
      ...this.allocAll({
        hidden: f('hidden'), normed: f('normed'), zxbcdt: f('zxbcdt'), xbc: f('xbc'), y: f('y'), yn: f('yn'),
      }),
    };
    return this.acts;
  }

  /** Floats per token row of each prefill activation buffer (Acts). */
  private actColumns() {
    const c = this.config;
    const d = c.hiddenSize, dIn = c.intermediateSize, cd = c.convDim, h = c.numHeads;
    return { hidden: d, normed: d, zxbcdt: dIn + cd + h, xbc: cd, y: dIn, yn: dIn };
  }

  protected actBytesPerRow(): number {
    return Object.values(this.actColumns()).reduce((a, b) => a + b, 0) * 4;
  }

  /** No KV cache: the state has a fixed size. */
  protected kvBytesPerToken(): number {
    return 0;
  }

  /** Figure 6, one pass over l tokens whose ids sit in history[pos .. pos+l). */
  protected encodeForward(pass: GPUComputePassEncoder, l: number, pos: number, logitRows: 'last' | 'all', logits: View): void {
    const c = this.config;
    const { ops, weights: W } = this;
    const d = c.hiddenSize, h = c.numHeads, p = c.headDim, n = c.stateSize, g = c.nGroups;
    const dIn = c.intermediateSize, cd = c.convDim;
    const a = this.acts!;
    if (a.rows < l) throw new Error('internal: reserve() was not called before encodeForward');

    const hidden = view(a.hidden, l, d);                    // (l, d)
    ops.embed(pass, this.ensureHistory(), pos, l, W.matrix('backbone.embeddings.weight'), hidden);

    for (let i = 0; i < c.numHiddenLayers; i++) {
      const pre = `backbone.layers.${i}.`;
      const normed = view(a.normed, l, d);                  // (l, d)
      ops.rmsNorm(pass, hidden, W.param(pre + 'norm.weight'), normed, c.layerNormEpsilon);

      const zxbcdt = view(a.zxbcdt, l, dIn + cd + h);       // (l, dIn + cd + h)
      ops.linear(pass, normed, W.matrix(pre + 'mixer.in_proj.weight'), c.useBias ? W.param(pre + 'mixer.in_proj.bias') : null, zxbcdt);
      const z = colSlice(zxbcdt, 0, dIn);                   // (l, dIn)
      const xBC = colSlice(zxbcdt, dIn, cd);                // (l, cd)
      const dt = colSlice(zxbcdt, dIn + cd, h);             // (l, h)

      // (x, B, C) = SiLU(conv1d(xBC)), causal over the sequence, continuing from the conv state
      const xbc = view(a.xbc, l, cd);                       // (l, cd)
      const convW = W.param(pre + 'mixer.conv1d.weight');
      const convB = c.useConvBias ? W.param(pre + 'mixer.conv1d.bias') : null;
      if (l === 1) ops.conv1dStep(pass, xBC, convW, convB, xbc, this.convState[i], c.convKernel);
      else ops.conv1d(pass, xBC, convW, convB, xbc, this.convState[i], c.convKernel);

      // selectivity view only: mean over heads of Δ = clamp(softplus(dt + dt_bias)), per token
      const limit = c.timeStepLimit[0] > 0 || c.timeStepLimit[1] < Infinity ? c.timeStepLimit : undefined;
      if (this.diag) ops.deltaMean(pass, dt, W.param(pre + 'mixer.dt_bias'), { buffer: this.diag.buffer, offset: i * this.diag.tokens + pos }, limit);

      // y = SSD(x; Δ, A, B, C) + D·x, state S carried in ssmState[i]
      const y = view(a.y, l, dIn);                          // (l, dIn)
      ops.ssd(pass, this.kernels.scan, {
        x: colSlice(xbc, 0, dIn),                           // (l, h·p)
        B: colSlice(xbc, dIn, g * n),                       // (l, g·n)
        C: colSlice(xbc, dIn + g * n, g * n),               // (l, g·n)
        dt, params: this.ssdParams[i], dtLimit: c.timeStepLimit, y,
        state: this.ssmState[i],                            // (h, p, n)
        heads: h, headDim: p, n, groups: g,
      });

      // yn = RMSNorm_group(y ⊙ SiLU(z)) ⊙ w
      const yn = view(a.yn, l, dIn);                        // (l, dIn)
      ops.gatedNorm(pass, y, z, W.param(pre + 'mixer.norm.weight'), yn, g, c.layerNormEpsilon);

      // hidden += out_proj(yn)   (the residual add is fused into the matmul epilogue)
      ops.linear(pass, yn, W.matrix(pre + 'mixer.out_proj.weight'), c.useBias ? W.param(pre + 'mixer.out_proj.bias') : null, hidden, true);
    }

    const normed = view(a.normed, l, d);
    ops.rmsNorm(pass, hidden, W.param('backbone.norm_f.weight'), normed, c.layerNormEpsilon);
    const head = W.matrix(c.tieWordEmbeddings ? 'backbone.embeddings.weight' : 'lm_head.weight');
    const rows = logitRows === 'all' ? normed : rowSlice(normed, l - 1, 1);
    ops.linear(pass, rows, head, null, logits.rows === rows.rows ? logits : rowSlice(logits, 0, rows.rows));
  }
}
