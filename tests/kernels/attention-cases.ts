/** The prefill attention cases the attention tests share: inputs with NaN past the visible keys, the run against the
 *  float64 oracle, the odd shapes, and the tilings forced on the tiled kernel. */
import { poisoned, randArray, relErr } from '../gpu';
import type { GpuContext } from '../../src/gpu/context';
import type { PrefillArgs } from '../../src/kernels/attention';
import { attentionReference } from '../../src/reference/attention';

export const TOL = 1e-4;

/** Random q [H, L, hd] and caches [H, maxLen, hd] whose rows 0..pos0+L-1 are random and the rest NaN (a kernel that
 * reads past the visible keys fails). */
export function makeInputs(H: number, hd: number, L: number, pos0: number, maxLen: number, seed: number) {
  const q = randArray(H * L * hd, seed, -2, 2);
  const k = new Float32Array(H * maxLen * hd).fill(NaN);
  const v = new Float32Array(H * maxLen * hd).fill(NaN);
  const kr = randArray(H * maxLen * hd, seed + 1, -2, 2);
  const vr = randArray(H * maxLen * hd, seed + 2, -1, 1);
  for (let h = 0; h < H; h++) {
    for (let p = 0; p < pos0 + L; p++) {
      for (let i = 0; i < hd; i++) {
        const a = (h * maxLen + p) * hd + i;
        k[a] = kr[a];
        v[a] = vr[a];
      }
    }
  }
  return { q, k, v };
}

export type Prefill = { encode(pass: GPUComputePassEncoder, a: PrefillArgs): void };

export async function runPrefill(ctx: GpuContext, kernel: Prefill, H: number, hd: number, L: number, pos0: number, maxLen: number, seed: number): Promise<number> {
  const { q, k, v } = makeInputs(H, hd, L, pos0, maxLen, seed);
  const ref = attentionReference(q, k, v, { H, hd, L, pos0, maxLen });
  const qb = ctx.upload(q);
  const kb = ctx.upload(k, 'kv-cache');
  const vb = ctx.upload(v, 'kv-cache');
  const ob = poisoned(ctx, L * H * hd);
  ctx.run((pass) => kernel.encode(pass, { q: qb, kCache: kb, vCache: vb, out: ob, L, pos0, maxLen }));
  const out = await ctx.readF32(ob, L * H * hd);
  for (const b of [qb, kb, vb, ob]) ctx.pool.release(b);
  return relErr(out, ref);
}

export const prefillShapes = [
  { H: 4, hd: 64, L: 1, pos0: 0 },
  { H: 3, hd: 32, L: 131, pos0: 0 },
  { H: 2, hd: 64, L: 257, pos0: 0 },
  { H: 2, hd: 64, L: 23, pos0: 40 },
  { H: 2, hd: 48, L: 33, pos0: 3 },
  { H: 2, hd: 80, L: 77, pos0: 0 },
  { H: 2, hd: 96, L: 45, pos0: 19 },
  { H: 2, hd: 128, L: 70, pos0: 5 },
  { H: 1, hd: 256, L: 40, pos0: 9 },
  // Head dims that are not a multiple of 4 (issue 14: every shape transformers accepts; e.g. 5 heads x 10):
  // scalar IO, rows padded to ceil(hd/4) vec4s.
  { H: 5, hd: 10, L: 37, pos0: 6 },
  { H: 2, hd: 6, L: 70, pos0: 0 },
  { H: 3, hd: 18, L: 29, pos0: 11 },
  // 9 vec4s: the rowwise kernel splits a row over G = 2 threads of 5 vec4s (K/V rows padded to 10 vec4s).
  { H: 2, hd: 36, L: 50, pos0: 7 },
];

/** Tilings [BR, BC] of the tiled kernel the tests force: per shape the first three that fit the device
 * (SwiftShader: 32 KiB, 256 invocations), plus the first one whose BC/4 divides ceil(hd/4) when none of the three
 * does, so every shape runs both with and without idle output accumulators, and NTX = BC/4 of 1 to 16 and
 * NTY = BR/4 of 2 to 16 all run (shader compiles dominate the test time on SwiftShader, hence not every tiling for
 * every shape). */
export const forcedTilings: [number, number][] = [[96, 32], [64, 32], [32, 64], [64, 16], [16, 64], [32, 32], [16, 8], [16, 12], [8, 8], [20, 20], [8, 4], [4, 4]];

/** Half of the shapes (hd 64 at L 1 and 257, 48, 96, 256, 6, 36) for the variant sweeps: shader compiles
 * dominate their time on SwiftShader, and the forced-tiling tests already run every shape. */
export const everyOtherShape = [...prefillShapes.entries()].filter(([n]) => n % 2 === 0);

