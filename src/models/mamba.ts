/**
 * Mamba language model (Gu & Dao 2023, "Mamba: Linear-Time Sequence Modeling with Selective State Spaces") on
 * WebGPU, with Hugging Face MambaForCausalLM weights. Prefill runs the fused chunk-parallel selective scan over the
 * prompt; decode is O(1) per token: a conv-state shift and one recurrence step per layer.
 *
 * Glossary (code name → paper symbol), as in mamba-minimal:
 *   l      sequence length (tokens in this pass)        d      d_model (hidden_size)
 *   dIn    d_inner = expand · d (paper's D channels)    n      state size N
 *   r      dt_rank: rank of the Δ projection            k      conv1d width
 *   delta  Δ, the input-dependent step size             A      state matrix, A = −exp(A_log)   (dIn, n)
 *   B, C   input-dependent input/output projections     D      skip connection              (dIn)
 *   z      the gate branch (res in mamba-minimal)        h      SSM state                    (dIn, n)
 * Figure 3 of the paper: x → Linear → (x, z); x → conv1d → SiLU → SSM(Δ, A, B, C, D) → y; out = Linear(y ⊙ SiLU(z)).
 */
import type { GpuContext } from '../gpu/context';
import type { Category } from '../gpu/pool';
import type { MambaConfig } from '../hub/config';
import { DispatchList, StaticUniforms } from '../gpu/kernel';
import { DecodeMatvec, EPI_ADD, EPI_BIAS } from '../kernels/decode_matvec';
import { DecodeEmbedding } from '../kernels/embedding';
import { buildMambaPack, MambaDecodeIn, MambaDecodeSsm, mambaPackLayout, type MambaDecodeShape, type MambaPackLayout } from '../kernels/mamba_decode';
import { CausalLM, lw, type DecodeHead } from './base';
import type { Ops } from './ops';
import { colSlice, rowSlice, view, type View } from './tensor';
import type { TensorSpec, WeightStore } from './weights';

/** Every tensor a MambaForCausalLM checkpoint must provide, with its shape. */
export function mambaTensorSpecs(c: MambaConfig): TensorSpec[] {
  const d = c.hiddenSize, dIn = c.intermediateSize, n = c.stateSize, r = c.timeStepRank, k = c.convKernel;
  const specs: TensorSpec[] = [
    { name: 'backbone.embeddings.weight', shape: [c.vocabSize, d], kind: 'matrix' },
    { name: 'backbone.norm_f.weight', shape: [d], kind: 'param' },
    { name: 'lm_head.weight', shape: [c.vocabSize, d], kind: 'matrix', optional: c.tieWordEmbeddings },
  ];
  for (let i = 0; i < c.numHiddenLayers; i++) {
    const p = `backbone.layers.${i}.`;
    specs.push(
      { name: p + 'norm.weight', shape: [d], kind: 'param' },
      { name: p + 'mixer.in_proj.weight', shape: [2 * dIn, d], kind: 'matrix' },
      { name: p + 'mixer.conv1d.weight', shape: [dIn, 1, k], kind: 'param' },
      { name: p + 'mixer.x_proj.weight', shape: [r + 2 * n, dIn], kind: 'matrix' },
      { name: p + 'mixer.dt_proj.weight', shape: [dIn, r], kind: 'matrix' },
      { name: p + 'mixer.dt_proj.bias', shape: [dIn], kind: 'param' },
      { name: p + 'mixer.A_log', shape: [dIn, n], kind: 'param' },
      { name: p + 'mixer.D', shape: [dIn], kind: 'param' },
      { name: p + 'mixer.out_proj.weight', shape: [d, dIn], kind: 'matrix' },
    );
    if (c.useConvBias) specs.push({ name: p + 'mixer.conv1d.bias', shape: [dIn], kind: 'param' });
    if (c.useBias) {
      specs.push(
        { name: p + 'mixer.in_proj.bias', shape: [2 * dIn], kind: 'param' },
        { name: p + 'mixer.out_proj.bias', shape: [d], kind: 'param' },
      );
    }
  }
  return specs;
}

/** The recorded decode step's kernels and buffers (made on the first decode, kept until dispose). */
interface MambaDecode {
  layout: MambaPackLayout;
  packs: GPUBuffer[];
  packed: boolean;
  hidden: GPUBuffer; // (d)        residual stream
  uz: GPUBuffer;     // (2·dIn)    u = SiLU(conv(x)) | z
  dbc: GPUBuffer;    // (r + 2n)   Δ_low | B | C
  y: GPUBuffer;      // (dIn)      gated SSM output
  embed: DecodeEmbedding;
  /** The four kernels of a layer. */
  four: { inK: MambaDecodeIn; xproj: DecodeMatvec; ssm: MambaDecodeSsm; outp: DecodeMatvec };
  head: DecodeMatvec[];
}

/** Per-pass activation buffers, sized for `rows` tokens. */
interface Acts {
  rows: number;
  hidden: GPUBuffer; // (l, d)        residual stream
  normed: GPUBuffer; // (l, d)        RMSNorm(hidden)
  xz: GPUBuffer;     // (l, 2·dIn)    in_proj output: x | z
  u: GPUBuffer;      // (l, dIn)      SiLU(conv1d(x))
  dbc: GPUBuffer;    // (l, r + 2n)   x_proj output: Δ_low | B | C
  delta: GPUBuffer;  // (l, dIn)      dt_proj(Δ_low), bias added inside the scan
  y: GPUBuffer;      // (l, dIn)      scan output, gated
}

export class MambaModel extends CausalLM {
  readonly arch = 'mamba' as const;
  protected readonly diagnosticsKind = 'delta' as const;
  protected layerCount(): number { return this.config.numHiddenLayers; }
  readonly vocabSize: number;
  readonly maxContext: number;
  private acts: Acts | null = null;
  /** Per layer: conv state (dIn, k−1) and SSM state h (dIn, n). Constant size whatever the context length. */
  private readonly convState: GPUBuffer[] = [];
  private readonly ssmState: GPUBuffer[] = [];

  constructor(ctx: GpuContext, ops: Ops, weights: WeightStore, readonly config: MambaConfig, name = 'mamba') {
    super(ctx, ops, weights, name);
    this.vocabSize = config.vocabSize;
    // No positional limit: the recurrence runs as long as you like. Cap the token history at 1M tokens.
    this.maxContext = 1 << 20;
    const { intermediateSize: dIn, stateSize: n } = config;
    for (let i = 0; i < config.numHiddenLayers; i++) {
      this.convState.push(this.alloc(dIn * ops.convStateWidth(config.convKernel) * 4, 'ssm-state', `conv_state.${i}`));
      this.ssmState.push(this.alloc(dIn * n * 4, 'ssm-state', `ssm_state.${i}`));
    }
    this.clearState();
  }

  protected clearState(): void {
    for (const b of [...this.convState, ...this.ssmState]) this.zero(b);
  }

  private blocker: string | null | undefined;

  protected fusedDecodeBlocker(): string | null {
    if (this.blocker !== undefined) return this.blocker;
    const c = this.config;
    this.blocker = c.stateSize > 256 ? `state size ${c.stateSize} > 256` : null;
    for (let i = 0; i < c.numHiddenLayers && !this.blocker; i++) {
      for (const m of ['in_proj', 'x_proj', 'dt_proj', 'out_proj']) {
        const w = this.weights.matrix(`backbone.layers.${i}.mixer.${m}.weight`);
        if (w.blocks.length > 1) { this.blocker = `${w.name} is split into ${w.blocks.length} buffers`; break; }
      }
    }
    return this.blocker;
  }

  /**
   * One token, four dispatches per layer (Figure 3 fused):
   *   1. mamba_decode_in:  (u, z) = (SiLU(conv_step(x)), z) with (x, z) = in_proj(RMSNorm(hidden))
   *   2. decode_matvec:    (Δ_low, B, C) = x_proj(u)
   *   3. mamba_decode_ssm: y = SSM_step(u; Δ = softplus(dt_proj(Δ_low) + b), A, B, C, D) ⊙ SiLU(z)
   *   4. decode_matvec:    hidden += out_proj(y)
   * then RMSNorm + LM head (+ argmax partials) in one dispatch. Plus the embedding gather in front.
   */
  protected recordDecodeStep(list: DispatchList, uniforms: StaticUniforms, io: { history: GPUBuffer; state: GPUBuffer }): DecodeHead {
    const c = this.config;
    const W = this.weights;
    const d = c.hiddenSize, dIn = c.intermediateSize, n = c.stateSize, r = c.timeStepRank;
    const L = (i: number, m: string) => W.matrix(`backbone.layers.${i}.mixer.${m}.weight`);
    const shape: MambaDecodeShape = {
      d, dIn, n, r, k: c.convKernel, eps: c.layerNormEpsilon, inDtype: L(0, 'in_proj').dtype, dtDtype: L(0, 'dt_proj').dtype,
      inBias: c.useBias, convBias: c.useConvBias, outBias: c.useBias,
    };
    const k = this.dec ??= this.makeDecode(shape);
    const param = (i: number, name: string) => W.param(`backbone.layers.${i}.${name}`).buffer;
    if (!k.packed) {
      const enc = this.ctx.device.createCommandEncoder({ label: `${this.name}.decode-packs` });
      for (let i = 0; i < c.numHiddenLayers; i++) {
        buildMambaPack(this.ctx, enc, shape, {
          aLog: param(i, 'mixer.A_log'), D: param(i, 'mixer.D'), dtBias: param(i, 'mixer.dt_proj.bias'), norm: param(i, 'norm.weight'),
          convW: param(i, 'mixer.conv1d.weight'), convB: c.useConvBias ? param(i, 'mixer.conv1d.bias') : null,
          inBias: c.useBias ? param(i, 'mixer.in_proj.bias') : null, outBias: c.useBias ? param(i, 'mixer.out_proj.bias') : null,
        }, k.packs[i]);
      }
      this.ctx.submit(enc);
      k.packed = true;
    }
    const { hidden, uz, dbc, y } = k;
    const f = k.four;
    for (const e of k.embed.bind(io.history, io.state, hidden)) list.add(e.kernel, e.group, e.grid);
    for (let i = 0; i < c.numHiddenLayers; i++) {
      const pack = k.packs[i];
      const a = f.inK.bind({ hidden, w: L(i, 'in_proj').blocks[0].buffer, pack, convState: this.convState[i], uz });
      list.add(f.inK.kernel, a.group, a.grid);
      const b = f.xproj.bind(uniforms, { x: uz, seg1: { w: L(i, 'x_proj').blocks[0].buffer, yOff: 0, epi: 0 }, y: dbc });
      list.add(f.xproj.kernel, b.group, b.grid);
      const s = f.ssm.bind({ dbc, wDt: L(i, 'dt_proj').blocks[0].buffer, pack, uz, state: this.ssmState[i], y });
      list.add(f.ssm.kernel, s.group, s.grid);
      const o = f.outp.bind(uniforms, {
        x: y, pack, y: hidden, seg1: { w: L(i, 'out_proj').blocks[0].buffer, yOff: 0, epi: EPI_ADD | (c.useBias ? EPI_BIAS : 0), biasOff: k.layout.outBias },
      });
      list.add(f.outp.kernel, o.group, o.grid);
    }
    return this.recordHead(list, uniforms, k.head, hidden, W.param('backbone.norm_f.weight').buffer, { gOff: 0, bOff: 0 }, this.headWeight());
  }

  private dec: MambaDecode | undefined;

  private headWeight() {
    return this.weights.matrix(this.config.tieWordEmbeddings ? 'backbone.embeddings.weight' : 'lm_head.weight');
  }

  private makeDecode(shape: MambaDecodeShape): MambaDecode {
    const c = this.config;
    const W = this.weights;
    const L0 = (m: string) => W.matrix(`backbone.layers.0.mixer.${m}.weight`);
    const layout = mambaPackLayout(shape);
    // all or none: out of memory here leaves nothing behind
    const specs: Record<string, [number, Category, string]> = {
      hidden: [shape.d * 4, 'activations', 'decode.hidden'], uz: [2 * shape.dIn * 4, 'activations', 'decode.uz'],
      dbc: [(shape.r + 2 * shape.n) * 4, 'activations', 'decode.dbc'], y: [shape.dIn * 4, 'activations', 'decode.y'],
    };
    for (let i = 0; i < c.numHiddenLayers; i++) specs[`pack${i}`] = [layout.total * 4, 'weights', `decode_pack.${i}`];
    const b = this.allocAll(specs);
    const head = this.headWeight();
    return {
      layout, packed: false,
      packs: Array.from({ length: c.numHiddenLayers }, (_, i) => b[`pack${i}`]),
      hidden: b.hidden, uz: b.uz, dbc: b.dbc, y: b.y,
      embed: new DecodeEmbedding(this.ctx, lw(W.matrix('backbone.embeddings.weight'))),
      four: {
        inK: new MambaDecodeIn(this.ctx, shape),
        xproj: new DecodeMatvec(this.ctx, { K: shape.dIn, N: shape.r + 2 * shape.n, dtype: L0('x_proj').dtype }),
        ssm: new MambaDecodeSsm(this.ctx, shape),
        outp: new DecodeMatvec(this.ctx, { K: shape.dIn, N: shape.d, dtype: L0('out_proj').dtype }),
      },
      head: this.headKernels(head, 'rms', c.layerNormEpsilon),
    };
  }

  protected reserve(_end: number, rows: number): void {
    this.ensureActs(rows);
  }

  /** Per token of a pass: the Acts below (hidden, normed, xz, u, dbc, delta, y); the widest is xz. */
  protected passRowBytes(): { total: number; widest: number } {
    const cols = Object.values(this.actColumns());
    return { total: this.actBytesPerRow(), widest: Math.max(...cols) * 4 };
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
    const f = (k: keyof typeof cols): [number, 'activations', string] => [rows * cols[k] * 4, 'activations', k];
    this.acts = {
      rows,
      ...this.allocAll({
        hidden: f('hidden'), normed: f('normed'), xz: f('xz'), u: f('u'), dbc: f('dbc'), delta: f('delta'), y: f('y'),
      }),
    };
    return this.acts;
  }

  /** Floats per token row of each prefill activation buffer (Acts). */
  private actColumns() {
    const c = this.config;
    const d = c.hiddenSize, dIn = c.intermediateSize, w = c.timeStepRank + 2 * c.stateSize;
    return { hidden: d, normed: d, xz: 2 * dIn, u: dIn, dbc: w, delta: dIn, y: dIn };
  }

  protected actBytesPerRow(): number {
    return Object.values(this.actColumns()).reduce((a, b) => a + b, 0) * 4;
  }

  /** No KV cache: the state has a fixed size. */
  protected kvBytesPerToken(): number {
    return 0;
  }

  /** Figure 3, one pass over l tokens whose ids sit in history[pos .. pos+l). */
  protected encodeForward(pass: GPUComputePassEncoder, l: number, pos: number, logitRows: 'last' | 'all', logits: View): void {
    const c = this.config;
    const { ops, weights: W } = this;
    const d = c.hiddenSize, dIn = c.intermediateSize, n = c.stateSize, r = c.timeStepRank;
    const a = this.acts!;
    if (a.rows < l) throw new Error('internal: reserve() was not called before encodeForward');
    const step = l === 1; // decode: one-step forms of conv and scan

    const hidden = view(a.hidden, l, d);                    // (l, d)
    ops.embed(pass, this.ensureHistory(), pos, l, W.matrix('backbone.embeddings.weight'), hidden);

    for (let i = 0; i < c.numHiddenLayers; i++) {
      const p = `backbone.layers.${i}.`;
      const normed = view(a.normed, l, d);                  // (l, d)
      ops.rmsNorm(pass, hidden, W.param(p + 'norm.weight'), normed, c.layerNormEpsilon);

      const xz = view(a.xz, l, 2 * dIn);                    // (l, 2·dIn)
      ops.linear(pass, normed, W.matrix(p + 'mixer.in_proj.weight'), c.useBias ? W.param(p + 'mixer.in_proj.bias') : null, xz);
      const x = colSlice(xz, 0, dIn);                       // (l, dIn)
      const z = colSlice(xz, dIn, dIn);                     // (l, dIn)

      // u = SiLU(conv1d(x)), causal over the sequence, continuing from the conv state
      const u = view(a.u, l, dIn);                          // (l, dIn)
      const convW = W.param(p + 'mixer.conv1d.weight');
      const convB = c.useConvBias ? W.param(p + 'mixer.conv1d.bias') : null;
      if (step) ops.conv1dStep(pass, x, convW, convB, u, this.convState[i], c.convKernel);
      else ops.conv1d(pass, x, convW, convB, u, this.convState[i], c.convKernel);

      // (Δ_low, B, C) = x_proj(u);  Δ = dt_proj(Δ_low)  (softplus(Δ + bias) happens in the scan)
      const dbc = view(a.dbc, l, r + 2 * n);                // (l, r + 2n)
      ops.linear(pass, u, W.matrix(p + 'mixer.x_proj.weight'), null, dbc);
      const delta = view(a.delta, l, dIn);                  // (l, dIn)
      ops.linear(pass, colSlice(dbc, 0, r), W.matrix(p + 'mixer.dt_proj.weight'), null, delta);
      // selectivity view only: mean over channels of Δ = softplus(delta + bias), per token
      if (this.diag) ops.deltaMean(pass, delta, W.param(p + 'mixer.dt_proj.bias'), { buffer: this.diag.buffer, offset: i * this.diag.tokens + pos });

      // y = SSM(u; Δ, A, B, C, D) ⊙ SiLU(z), state h carried in ssmState[i]
      const y = view(a.y, l, dIn);                          // (l, dIn)
      const scanArgs = {
        u, delta, z, y,
        B: colSlice(dbc, r, n),                             // (l, n)
        C: colSlice(dbc, r + n, n),                         // (l, n)
        Alog: W.param(p + 'mixer.A_log'),                   // (dIn, n)
        D: W.param(p + 'mixer.D'),                          // (dIn)
        deltaBias: W.param(p + 'mixer.dt_proj.bias'),       // (dIn)
        state: this.ssmState[i],                            // (dIn, n)
        n,
      };
      if (step) ops.ssmStep(pass, scanArgs);
      else ops.scan(pass, this.kernels.scan, scanArgs);

      // hidden += out_proj(y)   (the residual add is fused into the matmul epilogue)
      ops.linear(pass, y, W.matrix(p + 'mixer.out_proj.weight'), c.useBias ? W.param(p + 'mixer.out_proj.bias') : null, hidden, true);
    }

    const normed = view(a.normed, l, d);
    ops.rmsNorm(pass, hidden, W.param('backbone.norm_f.weight'), normed, c.layerNormEpsilon);
    const head = W.matrix(c.tieWordEmbeddings ? 'backbone.embeddings.weight' : 'lm_head.weight');
    const rows = logitRows === 'all' ? normed : rowSlice(normed, l - 1, 1);
    ops.linear(pass, rows, head, null, logits.rows === rows.rows ? logits : rowSlice(logits, 0, rows.rows));
  }
}
