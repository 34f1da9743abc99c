/**
 * Next-token selection on the GPU in two passes over many workgroups (shaders/sample_partial.wgsl reduces slices of
 * S = 2048 logits in parallel, shaders/sample_final.wgsl merges them in one workgroup per row), writing the chosen id
 * into a u32 buffer, typically the token history, which the next step's embedding gather reads, so decode steps
 * chain without readbacks. Greedy (temperature ≤ 0 or top_k = 1) is argmax (ties → lowest index). Otherwise
 * temperature + top-k + top-p: k is capped at 256 (SAMPLE_KMAX), top-p without top-k takes its nucleus among the
 * 256 most likely tokens; no top-k and no top-p samples the full softmax. Randomness: `{ u }` (a uniform in [0, 1)
 * chosen on the CPU) or `{ seed, step }` hashed on the GPU (row w of a batched call uses step + w);
 * src/reference/sampling.ts mirrors both.
 *
 * Non-finite logits: with `check` (the default) a row holding NaN or ±Inf yields NON_FINITE_TOKEN (0xffffffff), which
 * the model turns into an error naming itself; without it NaN and −inf count as −FLT_MAX and +inf as +FLT_MAX.
 *
 * The decode program (src/models/base.ts) records these passes once with `bindDecode` (state mode: the token goes to
 * history[pos + 1] and the GPU-side position advances); greedy decode skips the first pass, because the LM head
 * kernel already wrote the argmax partials (shaders/decode_matvec.wgsl ARGMAX).
 */
import type { GpuContext } from '../gpu/context';
import { ComputeKernel, DispatchList, StaticUniforms } from '../gpu/kernel';
import type { UniformValues } from '../gpu/uniforms';
import { dummyBuffer } from './matmul';
import { SAMPLE_KMAX, effectiveK, type SamplingParams } from '../math/sampling';

export { SAMPLE_KMAX, type SamplingParams };

/** The id written for a row whose logits were not all finite (when checking). */
export const NON_FINITE_TOKEN = 0xffffffff;

export type RandomSource = { u: number } | { seed: number; step: number };

export interface LogitsView {
  buffer: GPUBuffer;
  /** Float offset of row 0 (e.g. the last position of a prefill's [L, V] logits). */
  offset?: number;
  /** Floats between rows for batched calls (0: every row reads the same logits). Default V. */
  rowStride?: number;
}

/** Logits per first-pass workgroup. */
export const SAMPLE_SLICE = 2048;

type Mode = 'argmax' | 'topk' | 'full';

export interface SamplerOptions {
  /** Non-finite logits give NON_FINITE_TOKEN (default true). */
  check?: boolean;
}

/** Everything one selection needs, resolved from the sampling parameters. */
interface Plan {
  mode: Mode;
  V: number;
  G: number;
  k: number;
  KC: number;
  topP: number;
  invTemp: number;
}

export interface DecodeSamplingIO {
  /** Logits [V] at offset 0, followed by the LM head's argmax partials at `headPartials`. */
  logits: GPUBuffer;
  V: number;
  headPartials: number;
  /** How many (max, index, flag) partials the LM head writes there. */
  headGroups: number;
  history: GPUBuffer;
  state: GPUBuffer;
  /** First-pass partials for sampling (decodePartFloats floats); unused by greedy decode. */
  part?: GPUBuffer | null;
}

/** Floats of first-pass partials a decode step with these parameters needs (0 for greedy). */
export function decodePartFloats(V: number, params: SamplingParams): number {
  const p = SamplerKernel.plan(V, params);
  return p.mode === 'argmax' ? 0 : SamplerKernel.partFloats(p);
}

export class SamplerKernel {
  // one pipeline per selection mode and stage, compiled on first use (a greedy run never compiles top-k's)
  private readonly kernels = new Map<string, ComputeKernel>();
  private scratch: GPUBuffer | null = null;
  private retired: GPUBuffer[] = [];
  private readonly check: boolean;

  constructor(private readonly ctx: GpuContext, opts: SamplerOptions = {}) {
    if (ctx.limits.maxComputeInvocationsPerWorkgroup < 256) throw new Error('sampler needs 256 invocations per workgroup');
    this.check = opts.check ?? true;
  }

  private kernel(stage: 'sample_partial' | 'sample_final', mode: Mode): ComputeKernel {
    const key = `${stage}:${mode}`;
    let k = this.kernels.get(key);
    if (!k) this.kernels.set(key, (k = new ComputeKernel(this.ctx, stage, { entryPoint: mode })));
    return k;
  }

  /** How a selection with these parameters runs over V logits. */
  static plan(V: number, params: SamplingParams | null): Plan {
    if (!(V >= 1 && Number.isInteger(V))) throw new Error(`sampling: V = ${V} must be a positive integer`);
    if (V >= 2 ** 24) throw new Error(`sampling: V = ${V} ≥ 2^24 (indices travel as f32)`);
    const G = Math.ceil(V / SAMPLE_SLICE);
    if (!params || params.temperature <= 0 || params.topK === 1) return { mode: 'argmax', V, G, k: 1, KC: 0, topP: 1, invTemp: 1 };
    const topP = params.topP ?? 1;
    if (!(topP > 0 && topP <= 1)) throw new Error(`sampling: top_p = ${topP} must be in (0, 1]`);
    if (!(params.temperature > 0 && Number.isFinite(params.temperature))) throw new Error(`sampling: temperature = ${params.temperature} must be finite`);
    const k = effectiveK(params, V);
    const invTemp = 1 / params.temperature;
    if (k === 0) return { mode: 'full', V, G, k: 0, KC: 0, topP, invTemp };
    return { mode: 'topk', V, G, k, KC: Math.min(k, SAMPLE_SLICE), topP, invTemp };
  }

  /** Floats of first-pass partials per row. */
  static partFloats(p: Plan): number {
    return p.mode === 'topk' ? p.G * (1 + 2 * p.KC) : 3 * p.G;
  }

  private ensureScratch(floats: number): GPUBuffer {
    if (!this.scratch || this.scratch.size < floats * 4) {
      if (this.scratch) this.retired.push(this.scratch);
      this.scratch = this.ctx.buffer(Math.max(floats, 64) * 4, 'scratch', 'sampler.partials');
    }
    return this.scratch;
  }

  private view(what: string, logits: GPUBuffer | LogitsView, V: number, rows: number) {
    const lv = 'mapState' in logits ? { buffer: logits, offset: 0, rowStride: V } : { buffer: logits.buffer, offset: logits.offset ?? 0, rowStride: logits.rowStride ?? V };
    if (!(rows >= 1 && rows <= this.ctx.limits.maxComputeWorkgroupsPerDimension)) throw new Error(`${what}: rows = ${rows} out of range`);
    const need = lv.offset + (rows - 1) * lv.rowStride + V;
    if (need * 4 > lv.buffer.size) throw new Error(`${what}: logits need ${need} floats, buffer holds ${lv.buffer.size / 4}`);
    return lv;
  }

  private partialUniforms(p: Plan, lv: { offset: number; rowStride: number }): UniformValues {
    return {
      V: p.V, off: lv.offset, stride: lv.rowStride, k: p.k, invTemp: p.invTemp, S: SAMPLE_SLICE, G: p.G, KC: p.KC,
    };
  }

  private finalUniforms(p: Plan, lv: { offset: number; rowStride: number }, o: { outIndex: number; partOff: number; state: boolean; random: RandomSource }): UniformValues {
    let u = -1, seed = 0, step = 0;
    if ('u' in o.random) {
      if (!(o.random.u >= 0 && o.random.u < 1)) throw new Error(`sampling: u = ${o.random.u} must be in [0, 1)`);
      u = o.random.u;
    } else {
      seed = o.random.seed >>> 0;
      step = o.random.step >>> 0;
    }
    return {
      V: p.V, off: lv.offset, stride: lv.rowStride, k: p.k, topP: p.topP, invTemp: p.invTemp, seed, step, u, G: p.G,
      S: SAMPLE_SLICE, KC: p.KC, outIndex: o.outIndex, partOff: o.partOff,
      flags: (o.state ? 1 : 0) | (this.check ? 2 : 0),
    };
  }

  /** out[outIndex + w] = argmax of logits row w (rows default 1). */
  argmax(pass: GPUComputePassEncoder, logits: GPUBuffer | LogitsView, V: number, out: GPUBuffer, outIndex = 0, rows = 1): void {
    this.select(pass, logits, V, out, outIndex, null, { u: 0 }, rows);
  }

  /** Samples one token per row into out[outIndex + w]; greedy parameters run argmax. */
  sample(pass: GPUComputePassEncoder, logits: GPUBuffer | LogitsView, V: number, out: GPUBuffer, outIndex: number, params: SamplingParams, random: RandomSource, rows = 1): void {
    this.select(pass, logits, V, out, outIndex, params, random, rows);
  }

  private select(pass: GPUComputePassEncoder, logits: GPUBuffer | LogitsView, V: number, out: GPUBuffer, outIndex: number, params: SamplingParams | null, random: RandomSource, rows: number): void {
    const p = SamplerKernel.plan(V, params);
    const what = `${p.mode} V=${V}`;
    const lv = this.view(what, logits, V, rows);
    if (!(Number.isInteger(outIndex) && outIndex >= 0)) throw new Error(`${what}: output index ${outIndex} must be a non-negative integer`);
    if ((outIndex + rows) * 4 > out.size) throw new Error(`${what}: output index ${outIndex + rows - 1} is past the end of the id buffer (${out.size / 4} entries)`);
    if (lv.buffer === out) throw new Error(`${what}: logits and output must be different buffers`);
    const part = this.ensureScratch(rows * SamplerKernel.partFloats(p));
    this.kernel('sample_partial', p.mode).dispatch(pass, this.partialUniforms(p, lv), [lv.buffer, part], [p.G, rows]);
    this.kernel('sample_final', p.mode).dispatch(pass, this.finalUniforms(p, lv, { outIndex, partOff: 0, state: false, random }), [lv.buffer, part, out, dummyBuffer(this.ctx)], [rows]);
  }

  /**
   * Records one decode step's selection into `list`: logits [V] at `logits` (offset 0); token to history[pos + 1]
   * with pos = state[0], which it advances. Greedy reads the LM head's argmax partials at `headPartials` (floats
   * into `logits`) instead of running a first pass. Sampling draws with u = hash(seed, pos).
   */
  bindDecode(list: DispatchList, uniforms: StaticUniforms, io: DecodeSamplingIO, params: SamplingParams, seed: number): void {
    const p = SamplerKernel.plan(io.V, params);
    const lv = { offset: 0, rowStride: io.V };
    const random = { seed, step: 0 };
    if (p.mode === 'argmax') {
      const fin = this.kernel('sample_final', 'argmax');
      const u = uniforms.add(fin.uniforms(this.finalUniforms({ ...p, G: io.headGroups }, lv, { outIndex: 0, partOff: io.headPartials, state: true, random })));
      list.add(fin, fin.bindGroup(u, [io.logits, io.logits, io.history, io.state]), [1]);
      return;
    }
    const part = io.part;
    if (!part || part.size < SamplerKernel.partFloats(p) * 4) throw new Error(`decode sampling: partials need ${SamplerKernel.partFloats(p)} floats`);
    const [partial, fin] = [this.kernel('sample_partial', p.mode), this.kernel('sample_final', p.mode)];
    const u1 = uniforms.add(partial.uniforms(this.partialUniforms(p, lv)));
    list.add(partial, partial.bindGroup(u1, [io.logits, part]), [p.G, 1]);
    const u2 = uniforms.add(fin.uniforms(this.finalUniforms(p, lv, { outIndex: 0, partOff: 0, state: true, random })));
    list.add(fin, fin.bindGroup(u2, [io.logits, part, io.history, io.state]), [1]);
  }

  destroy(): void {
    for (const b of this.retired) this.ctx.pool.release(b);
    this.retired = [];
    this.ctx.pool.release(this.scratch);
    this.scratch = null;
  }
}
