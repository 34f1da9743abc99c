/**
 * Attention benchmark cases: flash vs reference prefill at each L (causal, pos0 = 0), and split-K decode over a
 * filled KV cache at several context lengths. The reference case throws a LimitExceededError from setup (the
 * harness records "skipped") when its [H, L, L] score buffer exceeds maxStorageBufferBindingSize.
 *
 * Figures of merit: prefill flops = 4 * L^2 * hd * H / 2 (QK^T and PV, causal half); bytes = Q, K, V read once +
 * O written once = 16 * L * H * hd. Decode at context n: flops = 4 * n * hd * H; bytes = K and V rows 0..n-1 read
 * once + q read + out written = (2n + 2) * H * hd * 4.
 */
import type { BenchCase } from './harness';
import type { GpuContext } from '../gpu/context';
import { FlashAttention } from '../kernels/attention_flash';
import { ReferenceAttention } from '../kernels/attention_reference';
import { DecodeAttention } from '../kernels/attention_decode';

function fill(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let a = seed >>> 0;
  for (let i = 0; i < n; i++) {
    a = (Math.imul(a, 1664525) + 1013904223) >>> 0;
    out[i] = a / 4294967296 - 0.5;
  }
  return out;
}

function inputs(ctx: GpuContext, H: number, hd: number, L: number, maxLen: number) {
  return {
    q: ctx.upload(fill(H * L * hd, 1), 'activations', 'bench.q'),
    k: ctx.upload(fill(H * maxLen * hd, 2), 'kv-cache', 'bench.k'),
    v: ctx.upload(fill(H * maxLen * hd, 3), 'kv-cache', 'bench.v'),
    out: ctx.buffer(L * H * hd * 4, 'activations', 'bench.out'),
  };
}

export interface AttentionBenchOptions {
  L: number[];
  H: number;
  hd: number;
  /** Context lengths for the decode cases (default 128, 1024, 4096 and the largest L). */
  decodeLens?: number[];
}

export function attentionBenchCases(opts: AttentionBenchOptions): BenchCase[] {
  const { H, hd } = opts;
  const cases: BenchCase[] = [];
  for (const L of opts.L) {
    const shape = `L=${L} H=${H} hd=${hd}`;
    const flops = (4 * L * L * hd * H) / 2;
    const bytes = 16 * L * H * hd;
    for (const variant of ['flash', 'reference'] as const) {
      cases.push({
        kernel: `attention/${variant}`,
        shape,
        bytes,
        flops,
        tokens: L,
        setup(ctx) {
          const dims = { H, hd, maxLen: L };
          const k = variant === 'flash' ? new FlashAttention(ctx, dims) : new ReferenceAttention(ctx, dims);
          if (k instanceof ReferenceAttention) k.checkFits(L, 0);
          const b = inputs(ctx, H, hd, L, L);
          return {
            encode: (pass) => k.encode(pass, { q: b.q, kCache: b.k, vCache: b.v, out: b.out, L, pos0: 0 }),
            cleanup: () => {
              if (k instanceof ReferenceAttention) k.destroy();
              for (const x of Object.values(b)) ctx.pool.release(x);
            },
          };
        },
      });
    }
  }
  const decodeLens = opts.decodeLens ?? [...new Set([128, 1024, 4096, Math.max(...opts.L)])].sort((a, b) => a - b);
  for (const n of decodeLens) {
    cases.push({
      kernel: 'attention/decode',
      shape: `ctx=${n} H=${H} hd=${hd}`,
      bytes: (2 * n + 2) * H * hd * 4,
      flops: 4 * n * hd * H,
      tokens: 1,
      setup(ctx) {
        const k = new DecodeAttention(ctx, { H, hd, maxLen: n });
        const b = inputs(ctx, H, hd, 1, n);
        return {
          encode: (pass) => k.encode(pass, { q: b.q, kCache: b.k, vCache: b.v, out: b.out, pos: n - 1 }),
          cleanup: () => {
            k.destroy();
            for (const x of Object.values(b)) ctx.pool.release(x);
          },
        };
      },
    });
  }
  return cases;
}
