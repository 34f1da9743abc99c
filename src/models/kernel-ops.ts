/**
 * KernelOps: the Ops seam (./ops.ts) implemented with this repo's WGSL kernels. One wrapper instance per shape,
 * created on first use and reused (their pipelines and bind groups are cached).
 */
import type { GpuContext } from '../gpu/context';
import { Attention } from '../kernels/attention';
import { fusedQkvLayout } from '../kernels/attention_common';
import { CausalConv1d } from '../kernels/conv1d';
import { AttentionRowProbsKernel, DeltaMeanKernel } from '../kernels/diagnostics';
import { ElementwiseKernel } from '../kernels/elementwise';
import { EmbeddingKernel } from '../kernels/embedding';
import type { LinearWeights } from '../kernels/matmul';
import { LinearKernel } from '../kernels/matvec';
import { LayerNormKernel, RMSNormKernel } from '../kernels/norm';
import { RotaryKvKernel } from '../kernels/rotary';
import { SamplerKernel } from '../kernels/sampling';
import { SelectiveScan } from '../kernels/scan';
import { SsmParamsCache } from '../kernels/ssm_params';
import { SsmStep } from '../kernels/ssm_step';
import { SsdGatedNorm, SsdScan } from '../kernels/ssd';
import type { CacheGeometry, Ops, ScanArgs, SsdArgs, VecOut } from './ops';
import type { Param, View, Weight } from './tensor';
import type { AttentionVariant, SamplingOptions, ScanVariant } from './types';

const sv = (v: View) => ({ buffer: v.buffer, offset: v.offset, rowStride: v.stride });

export class KernelOps implements Ops {
  private readonly linearK: LinearKernel;
  private readonly elementwise: ElementwiseKernel;
  private readonly embedding: EmbeddingKernel;
  private readonly samplerK: SamplerKernel;
  private ssmParams: SsmParamsCache;
  private readonly cache = new Map<string, unknown>();

  constructor(readonly ctx: GpuContext) {
    this.linearK = new LinearKernel(ctx);
    this.elementwise = new ElementwiseKernel(ctx);
    this.embedding = new EmbeddingKernel(ctx);
    this.samplerK = new SamplerKernel(ctx);
    this.ssmParams = new SsmParamsCache(ctx);
  }

  /**
   * Releases every buffer the kernel wrappers made (scratch, dummies, packed SSM parameters): called when the model
   * is disposed, so the pool's live bytes return to where they were before the load. The ops stay usable (wrappers
   * are made again on demand).
   */
  destroy(): void {
    for (const v of this.cache.values()) (v as { destroy?: () => void }).destroy?.();
    this.cache.clear();
    this.samplerK.destroy();
    this.ssmParams.destroy();
    this.ssmParams = new SsmParamsCache(this.ctx);
  }

  private get<T>(key: string, make: () => T): T {
    let v = this.cache.get(key) as T | undefined;
    if (v === undefined) {
      v = make();
      this.cache.set(key, v);
    }
    return v;
  }

  private static lw(W: Weight, b: Param | null): LinearWeights {
    return { dtype: W.dtype, rows: W.rows, cols: W.cols, blocks: W.blocks, bias: b?.buffer ?? null };
  }

  embed(pass: GPUComputePassEncoder, history: GPUBuffer, pos: number, l: number, E: Weight, out: View): void {
    this.embedding.encode(pass, history, KernelOps.lw(E, null), sv(out), l, pos);
  }

  rmsNorm(pass: GPUComputePassEncoder, x: View, w: Param, out: View, eps: number): void {
    const k = this.get(`rms:${x.cols}:${eps}`, () => new RMSNormKernel(this.ctx, x.cols, eps));
    k.encode(pass, sv(x), w.buffer, sv(out), x.rows);
  }

  layerNorm(pass: GPUComputePassEncoder, x: View, w: Param, b: Param, out: View, eps: number): void {
    const k = this.get(`ln:${x.cols}:${eps}`, () => new LayerNormKernel(this.ctx, x.cols, eps));
    k.encode(pass, sv(x), w.buffer, b.buffer, sv(out), x.rows);
  }

  linear(pass: GPUComputePassEncoder, x: View, W: Weight, b: Param | null, out: View, accumulate = false): void {
    if (x.cols !== W.cols || out.cols !== W.rows || x.rows !== out.rows) {
      throw new Error(`linear ${W.name}: x ${x.rows}×${x.cols}, W ${W.rows}×${W.cols}, out ${out.rows}×${out.cols} do not fit`);
    }
    this.linearK.encode(pass, sv(x), KernelOps.lw(W, b), sv(out), x.rows, { accumulate });
  }

  gelu(pass: GPUComputePassEncoder, x: View): void {
    this.elementwise.unaryInPlace(pass, 'gelu', sv(x), x.rows, x.cols);
  }

  convStateWidth(k: number): number {
    return k - 1; // CausalConv1d keeps the last k−1 inputs, [k−1, dIn], oldest first; zeros = no history
  }

  private conv(dIn: number, k: number): CausalConv1d {
    return this.get(`conv:${dIn}:${k}`, () => new CausalConv1d(this.ctx, { D: dIn, K: k }));
  }

  conv1d(pass: GPUComputePassEncoder, x: View, w: Param, b: Param | null, out: View, state: GPUBuffer, k: number): void {
    this.conv(x.cols, k).encode(pass, {
      L: x.rows, x: sv(x), weight: w.buffer, bias: b?.buffer ?? null, out: sv(out), state, initialState: true, silu: true,
    });
  }

  conv1dStep(pass: GPUComputePassEncoder, x: View, w: Param, b: Param | null, out: View, state: GPUBuffer, k: number): void {
    this.conv(x.cols, k).encodeStep(pass, {
      x: { buffer: x.buffer, offset: x.offset }, weight: w.buffer, bias: b?.buffer ?? null, state,
      out: { buffer: out.buffer, offset: out.offset }, silu: true,
    });
  }

  scan(pass: GPUComputePassEncoder, variant: ScanVariant, a: ScanArgs): void {
    const dIn = a.u.cols;
    const k = this.get(`scan:${dIn}:${a.n}`, () => new SelectiveScan(this.ctx, { D: dIn, N: a.n }));
    const params = this.ssmParams.get(pass, a.Alog.buffer, a.D.buffer, a.deltaBias.buffer, dIn, a.n);
    k.encode(pass, {
      L: a.u.rows, u: sv(a.u), delta: sv(a.delta), B: sv(a.B), C: sv(a.C), z: sv(a.z), params, y: sv(a.y),
      h0: a.state, hFinal: a.state,
    }, variant);
  }

  ssmStep(pass: GPUComputePassEncoder, a: ScanArgs): void {
    const dIn = a.u.cols;
    const k = this.get(`step:${dIn}:${a.n}`, () => new SsmStep(this.ctx, { D: dIn, N: a.n }));
    const params = this.ssmParams.get(pass, a.Alog.buffer, a.D.buffer, a.deltaBias.buffer, dIn, a.n);
    const v = (x: View) => ({ buffer: x.buffer, offset: x.offset });
    k.encode(pass, { x: v(a.u), delta: v(a.delta), B: v(a.B), C: v(a.C), z: v(a.z), params, state: a.state, y: v(a.y) });
  }

  ssd(pass: GPUComputePassEncoder, variant: ScanVariant, a: SsdArgs): void {
    const { heads: H, headDim: P, n: N, groups: G } = a;
    const k = this.get(`ssd:${H}:${P}:${N}:${G}`, () => new SsdScan(this.ctx, { H, P, N, G }));
    k.encode(pass, {
      L: a.x.rows, x: sv(a.x), B: sv(a.B), C: sv(a.C), dt: sv(a.dt), params: a.params, dtLimit: a.dtLimit, y: sv(a.y),
      h0: a.state, hFinal: a.state,
    }, variant === 'fused' ? 'fused' : 'sequential');
  }

  gatedNorm(pass: GPUComputePassEncoder, y: View, z: View, w: Param, out: View, groups: number, eps: number): void {
    const k = this.get(`gnorm:${y.cols}:${groups}:${eps}`, () => new SsdGatedNorm(this.ctx, y.cols, groups, eps));
    k.encode(pass, y.rows, sv(y), sv(z), w.buffer, sv(out));
  }

  rotaryKv(pass: GPUComputePassEncoder, qkv: View, kCache: GPUBuffer, vCache: GPUBuffer, pos: number, g: CacheGeometry): void {
    const k = this.get(`rot:${g.heads}:${g.headDim}:${g.rotaryDims}:${g.ropeTheta}`,
      () => new RotaryKvKernel(this.ctx, { H: g.heads, hd: g.headDim, rot: g.rotaryDims, base: g.ropeTheta }));
    k.encodeArgs(pass, { qkv: qkv.buffer, qkvOffset: qkv.offset, qkvRowStride: qkv.stride, kCache, vCache, L: qkv.rows, pos0: pos, maxLen: g.capacity });
  }

  private att(g: CacheGeometry): Attention {
    return this.get(`att:${g.heads}:${g.headDim}`, () => new Attention(this.ctx, { H: g.heads, hd: g.headDim }));
  }

  attention(pass: GPUComputePassEncoder, variant: AttentionVariant, qkv: View, kCache: GPUBuffer, vCache: GPUBuffer, pos: number, g: CacheGeometry, out: View): void {
    this.att(g).encode(pass, {
      q: qkv.buffer, qLayout: fusedQkvLayout(g.heads, g.headDim, qkv.offset, qkv.stride), kCache, vCache,
      out: out.buffer, outLayout: { offset: out.offset, rowStride: out.stride }, L: qkv.rows, pos0: pos, maxLen: g.capacity,
    }, variant);
  }

  decodeAttention(pass: GPUComputePassEncoder, qkv: View, kCache: GPUBuffer, vCache: GPUBuffer, pos: number, g: CacheGeometry, out: View): void {
    this.att(g).encodeDecode(pass, {
      q: qkv.buffer, qLayout: fusedQkvLayout(g.heads, g.headDim, qkv.offset, qkv.stride), kCache, vCache,
      out: out.buffer, outLayout: { offset: out.offset, rowStride: out.stride }, pos, maxLen: g.capacity,
    });
  }

  deltaMean(pass: GPUComputePassEncoder, delta: View, bias: Param, out: VecOut, limit?: [number, number]): void {
    const k = this.get(`dmean:${delta.cols}`, () => new DeltaMeanKernel(this.ctx, delta.cols));
    k.encode(pass, sv(delta), bias.buffer, out, delta.rows, limit);
  }

  attentionRow(pass: GPUComputePassEncoder, qkv: View, kCache: GPUBuffer, pos: number, g: CacheGeometry, out: VecOut): void {
    const k = this.get(`arow:${g.heads}:${g.headDim}`, () => new AttentionRowProbsKernel(this.ctx, g.heads, g.headDim));
    const last = qkv.offset + (qkv.rows - 1) * qkv.stride; // q of head h at last + h·3·hd (fused [H, 3, hd] rows)
    k.encode(pass, { q: qkv.buffer, qOffset: last, qHeadStride: fusedQkvLayout(g.heads, g.headDim).headStride, kCache, maxLen: g.capacity, n: pos + qkv.rows, out });
  }

  sampler(): SamplerKernel {
    return this.samplerK;
  }

  sample(pass: GPUComputePassEncoder, logits: View, ids: GPUBuffer, index: number, s: SamplingOptions, step: number): void {
    const lv = { buffer: logits.buffer, offset: logits.offset };
    if (s.temperature <= 0 || s.topK === 1) this.samplerK.argmax(pass, lv, logits.cols, ids, index);
    else this.samplerK.sample(pass, lv, logits.cols, ids, index, { temperature: s.temperature, topK: s.topK || undefined, topP: s.topP }, { seed: s.seed, step });
  }
}
