/**
 * Next-token selection on the GPU (shaders/argmax.wgsl, shaders/sample.wgsl): reads logits [V] (or rows of them)
 * from a GPU buffer and writes the chosen token id into a u32 buffer at `outIndex` — typically the token-history
 * buffer at the next position, which the embedding gather then reads, so several decode steps can be encoded
 * without a readback. Greedy (temperature ≤ 0 or top_k = 1) uses argmax (ties → lowest index). Otherwise
 * temperature + top-k + top-p in one workgroup: k is capped at 256 (SAMPLE_KMAX), and top-p without top-k takes its
 * nucleus among the 256 most likely tokens (a nucleus that would need more is truncated there); no top-k and no
 * top-p samples the full softmax. Randomness: `{ u }` (a uniform in [0, 1) chosen on the CPU) or `{ seed, step }`
 * hashed on the GPU (row w of a batched call uses step + w); src/reference/sampling.ts mirrors both.
 */
import type { GpuContext } from '../gpu/context';
import { ComputeKernel, packUniforms } from '../gpu/kernel';
import { SAMPLE_KMAX, effectiveK, type SamplingParams } from '../reference/sampling';

export { SAMPLE_KMAX, type SamplingParams };

export type RandomSource = { u: number } | { seed: number; step: number };

export interface LogitsView {
  buffer: GPUBuffer;
  /** Float offset of row 0 (e.g. the last position of a prefill's [L, V] logits). */
  offset?: number;
  /** Floats between rows for batched calls (0: every row reads the same logits). Default V. */
  rowStride?: number;
}

export class SamplerKernel {
  private readonly argmaxK: ComputeKernel;
  private readonly topkK: ComputeKernel;
  private readonly fullK: ComputeKernel;

  constructor(private readonly ctx: GpuContext) {
    if (ctx.limits.maxComputeInvocationsPerWorkgroup < 256) throw new Error('sampler needs 256 invocations per workgroup');
    this.argmaxK = new ComputeKernel(ctx, 'argmax', 'main', { WG: 256 });
    this.topkK = new ComputeKernel(ctx, 'sample', 'topk');
    this.fullK = new ComputeKernel(ctx, 'sample', 'full');
  }

  private check(what: string, logits: GPUBuffer | LogitsView, V: number, out: GPUBuffer, outIndex: number, rows: number) {
    const lv = 'mapState' in logits ? { buffer: logits, offset: 0, rowStride: V } : { buffer: logits.buffer, offset: logits.offset ?? 0, rowStride: logits.rowStride ?? V };
    if (!(V >= 1 && Number.isInteger(V))) throw new Error(`${what}: V = ${V} must be a positive integer`);
    if (!(rows >= 1 && rows <= this.ctx.limits.maxComputeWorkgroupsPerDimension)) throw new Error(`${what}: rows = ${rows} out of range`);
    const need = lv.offset + (rows - 1) * lv.rowStride + V;
    if (need * 4 > lv.buffer.size) throw new Error(`${what}: logits need ${need} floats, buffer holds ${lv.buffer.size / 4}`);
    if ((outIndex + rows) * 4 > out.size) throw new Error(`${what}: output index ${outIndex + rows - 1} is past the end of the id buffer (${out.size / 4} entries)`);
    if (lv.buffer === out) throw new Error(`${what}: logits and output must be different buffers`);
    return lv;
  }

  /** out[outIndex + w] = argmax of logits row w (rows default 1). */
  argmax(pass: GPUComputePassEncoder, logits: GPUBuffer | LogitsView, V: number, out: GPUBuffer, outIndex = 0, rows = 1): void {
    const lv = this.check(`argmax V=${V}`, logits, V, out, outIndex, rows);
    this.argmaxK.dispatch(pass, packUniforms([['u32', V], ['u32', lv.offset], ['u32', lv.rowStride], ['u32', outIndex]]), [lv.buffer, out], [rows]);
  }

  /** Samples one token per row into out[outIndex + w]; greedy parameters dispatch argmax instead. */
  sample(pass: GPUComputePassEncoder, logits: GPUBuffer | LogitsView, V: number, out: GPUBuffer, outIndex: number, params: SamplingParams, random: RandomSource, rows = 1): void {
    if (params.temperature <= 0 || params.topK === 1) return this.argmax(pass, logits, V, out, outIndex, rows);
    const what = `sample V=${V}`;
    const lv = this.check(what, logits, V, out, outIndex, rows);
    const topP = params.topP ?? 1;
    if (!(topP > 0 && topP <= 1)) throw new Error(`${what}: top_p = ${topP} must be in (0, 1]`);
    const k = effectiveK(params, V);
    let u = -1, seed = 0, step = 0;
    if ('u' in random) {
      if (!(random.u >= 0 && random.u < 1)) throw new Error(`${what}: u = ${random.u} must be in [0, 1)`);
      u = random.u;
    } else {
      seed = random.seed >>> 0;
      step = random.step >>> 0;
    }
    const uniforms = packUniforms([
      ['u32', V], ['u32', lv.offset], ['u32', lv.rowStride], ['u32', outIndex],
      ['u32', k], ['f32', topP], ['f32', 1 / params.temperature], ['u32', seed], ['u32', step], ['f32', u],
    ]);
    (k === 0 ? this.fullK : this.topkK).dispatch(pass, uniforms, [lv.buffer, out], [rows]);
  }
}
