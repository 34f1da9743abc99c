/**
 * Benchmark cases for Mamba-2's SSD prefill (src/kernels/ssd.ts): 'fused' (the chunked three-pass form: kernel
 * ssd/fused) and 'sequential' (ssd/sequential) at each L, shape "L=<L> H=<h> P=<p> N=<n> G=<g> Q=<chunk>" (issue 18:
 * 24 heads × 64, N = 128, one group, as mamba2-130m).
 *
 * Inputs are laid out the way the model has them: x | B | C in a conv-output-like [L, h·p + 2·g·n] buffer, raw dt in
 * its own [L, h] buffer (scaled so Δ = softplus(dt + dt_bias) is mostly 0.001..0.1), A = −(1..16) per head. They are
 * generated on the GPU (./fill.ts). Byte counts are the minimum any implementation must move: read x, B, C, dt once,
 * write y [L, h·p] and the final state [h, p, n] once. Flops count the recurrence's work, per (t, h, p, n): the state
 * update (2 FMAs: decay·S + Δx·B) and the C·S readout (1 FMA) = 6 flops, as the sequential form does them; the chunked
 * form does more (its intra-chunk products) in exchange for parallelism over chunks.
 */
import type { BenchCase } from './harness';
import type { GpuContext } from '../gpu/context';
import { packSsdParams, SsdScan, SSD_VARIANTS, type SsdOptions, type SsdVariant } from '../kernels/ssd';
import { GpuFiller } from './fill';

export interface SsdBenchShape { H: number; P: number; N: number; G: number }

function ssdParams(H: number): Float32Array {
  const aLog = Float32Array.from({ length: H }, (_, h) => Math.log(1 + (h % 16)));
  const D = new Float32Array(H).fill(1);
  const bias = Float32Array.from({ length: H }, (_, h) => {
    const dt = Math.exp(Math.log(1e-3) + ((h * 0.618034) % 1) * Math.log(100));
    return dt + Math.log(-Math.expm1(-dt));
  });
  return packSsdParams(aLog, D, bias, H);
}

function ssdCase(variant: SsdVariant, L: number, s: SsdBenchShape, options: Partial<SsdOptions> = {}, tag = ''): BenchCase {
  const { H, P, N, G } = s;
  const dIn = H * P, cd = dIn + 2 * G * N;
  return {
    kernel: `ssd/${variant}${tag}`,
    shape: `L=${L} H=${H} P=${P} N=${N} G=${G}${options.chunk ? ` Q=${options.chunk}` : ''}`,
    bytes: 4 * (L * (cd + H) + 3 * H + L * dIn + H * P * N),
    flops: 6 * L * H * P * N,
    tokens: L,
    setup(ctx: GpuContext) {
      const fill = new GpuFiller(ctx);
      const bufs = [
        fill.buffer(L * cd, 21, 1, 'bench-xbc'),
        fill.buffer(L * H, 22, 0.5, 'bench-dt'),
        ctx.upload(ssdParams(H), 'weights', 'bench-ssd-params'),
        ctx.buffer(L * dIn * 4, 'activations', 'bench-y'),
        ctx.buffer(H * P * N * 4, 'ssm-state', 'bench-h'),
      ];
      const [xbc, dt, params, y, h] = bufs;
      const ssd = new SsdScan(ctx, { ...options, H, P, N, G });
      const io = {
        L,
        x: { buffer: xbc, offset: 0, rowStride: cd },
        B: { buffer: xbc, offset: dIn, rowStride: cd },
        C: { buffer: xbc, offset: dIn + G * N, rowStride: cd },
        dt: { buffer: dt },
        params,
        y: { buffer: y },
        hFinal: h,
      };
      return {
        encode: (pass: GPUComputePassEncoder) => ssd.encode(pass, io, variant),
        cleanup: () => {
          ssd.destroy();
          for (const b of bufs) ctx.pool.release(b);
        },
      };
    },
  };
}

/** SSD prefill at each L in each variant; `chunks` adds 'fused' rows at those chunk lengths (tag -q<Q>). */
export function ssdBenchCases(opts: { L: number[]; shape: SsdBenchShape; variants?: readonly SsdVariant[]; chunks?: number[] }): BenchCase[] {
  const cases: BenchCase[] = [];
  for (const L of opts.L) {
    for (const v of opts.variants ?? SSD_VARIANTS) {
      // the sequential baseline walks all L tokens per thread: skip it where it would take seconds
      if (v === 'sequential' && L > 32768) continue;
      cases.push(ssdCase(v, L, opts.shape));
    }
    for (const q of opts.chunks ?? []) cases.push(ssdCase('fused', L, opts.shape, { chunk: q }, `-q${q}`));
  }
  return cases;
}
