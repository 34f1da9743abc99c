import { describe, expect, it } from 'vitest';
import { gpu, randArray, poisoned, relErr } from '../gpu';
import type { GpuContext } from '../../src/gpu/context';
import { CausalConv1d } from '../../src/kernels/conv1d';
import { causalConv1dRef } from '../../src/reference/conv1d';

const TOL = 1e-5;

/** x lives in an in_proj-like [L, 2D] buffer (cols 0..D), like the model's. */
function problem(L: number, D: number, K: number, seed: number) {
  return {
    inproj: randArray(L * 2 * D, seed, -2, 2),
    weight: randArray(D * K, seed + 1, -0.5, 0.5),
    bias: randArray(D, seed + 2, -0.3, 0.3),
    state0: randArray((K - 1) * D, seed + 3, -2, 2),
  };
}

async function readRows(ctx: GpuContext, buf: GPUBuffer, L: number, D: number, off: number, stride: number): Promise<Float32Array> {
  const all = await ctx.readF32(buf, off + (L - 1) * stride + D);
  const y = new Float32Array(L * D);
  for (let t = 0; t < L; t++) y.set(all.subarray(off + t * stride, off + t * stride + D), t * D);
  return y;
}

describe('causal depthwise conv1d vs CPU oracle', () => {
  for (const K of [4, 3]) {
    for (const [L, D] of [[1, 48], [2, 48], [131, 48], [4097, 64]] as const) {
      it(`prefill K=${K} L=${L} D=${D}: bias+SiLU, strided x/out, state out (zero and given initial state)`, async () => {
        const ctx = await gpu();
        const p = problem(L, D, K, L * 10 + K);
        const conv = new CausalConv1d(ctx, { D, K });
        const x = ctx.upload(p.inproj);
        const w = ctx.upload(p.weight, 'weights');
        const b = ctx.upload(p.bias, 'weights');
        const outOff = 3;
        const outStride = D + 5;
        for (const init of [false, true]) {
          for (const silu of [true, false]) {
            const out = poisoned(ctx, outOff + L * outStride);
            const state = ctx.upload(init ? p.state0 : new Float32Array((K - 1) * D).fill(NaN), 'ssm-state');
            await ctx.checked('conv', () =>
              ctx.run((pass) =>
                conv.encode(pass, {
                  L,
                  x: { buffer: x, offset: 0, rowStride: 2 * D },
                  weight: w,
                  bias: b,
                  out: { buffer: out, offset: outOff, rowStride: outStride },
                  state,
                  initialState: init,
                  silu,
                }),
              ),
            );
            const ref = causalConv1dRef({ L, D, K, x: { data: p.inproj, rowStride: 2 * D }, weight: p.weight, bias: p.bias, state: init ? p.state0 : undefined, silu });
            expect(relErr(await readRows(ctx, out, L, D, outOff, outStride), ref.out), `init=${init} silu=${silu} out`).toBeLessThan(TOL);
            expect(relErr(await ctx.readF32(state, (K - 1) * D), ref.state), `init=${init} silu=${silu} state`).toBeLessThan(TOL);
            ctx.pool.release(out);
            ctx.pool.release(state);
          }
        }
        conv.destroy();
        [x, w, b].forEach((buf) => ctx.pool.release(buf));
      });
    }
  }

  it('no bias, no state buffer', async () => {
    const ctx = await gpu();
    const [L, D, K] = [37, 40, 4];
    const p = problem(L, D, K, 9);
    const conv = new CausalConv1d(ctx, { D, K });
    const x = ctx.upload(p.inproj);
    const w = ctx.upload(p.weight);
    const out = poisoned(ctx, L * D);
    ctx.run((pass) => conv.encode(pass, { L, x: { buffer: x, rowStride: 2 * D }, weight: w, out: { buffer: out } }));
    const ref = causalConv1dRef({ L, D, K, x: { data: p.inproj, rowStride: 2 * D }, weight: p.weight, silu: true });
    expect(relErr(await ctx.readF32(out, L * D), ref.out)).toBeLessThan(TOL);
    conv.destroy();
    [x, w, out].forEach((buf) => ctx.pool.release(buf));
  });

  for (const K of [4, 3]) {
    it(`step-by-step equals prefill, and split prefills equal one prefill (K=${K})`, async () => {
      const ctx = await gpu();
      const [L, D] = [7, 48];
      const p = problem(L, D, K, 40 + K);
      const conv = new CausalConv1d(ctx, { D, K });
      const x = ctx.upload(p.inproj);
      const w = ctx.upload(p.weight);
      const b = ctx.upload(p.bias);
      const full = causalConv1dRef({ L, D, K, x: { data: p.inproj, rowStride: 2 * D }, weight: p.weight, bias: p.bias, silu: true });

      // Steps from a zero state.
      const state = ctx.upload(new Float32Array((K - 1) * D), 'ssm-state');
      const out = poisoned(ctx, L * D);
      ctx.run((pass) => {
        for (let t = 0; t < L; t++) {
          conv.encodeStep(pass, { x: { buffer: x, offset: t * 2 * D }, weight: w, bias: b, state, out: { buffer: out, offset: t * D } });
        }
      });
      expect(relErr(await ctx.readF32(out, L * D), full.out), 'steps out').toBeLessThan(TOL);
      expect(relErr(await ctx.readF32(state, (K - 1) * D), full.state), 'steps state').toBeLessThan(TOL);

      // Prefill of 1 token (L < K−1 for K=4), then of 2 more continuing from the state, then steps for the rest.
      const state2 = ctx.upload(new Float32Array((K - 1) * D).fill(NaN), 'ssm-state');
      const out2 = poisoned(ctx, L * D);
      ctx.run((pass) => {
        conv.encode(pass, { L: 1, x: { buffer: x, rowStride: 2 * D }, weight: w, bias: b, out: { buffer: out2 }, state: state2 });
        conv.encode(pass, { L: 2, x: { buffer: x, offset: 2 * D, rowStride: 2 * D }, weight: w, bias: b, out: { buffer: out2, offset: D }, state: state2, initialState: true });
        for (let t = 3; t < L; t++) {
          conv.encodeStep(pass, { x: { buffer: x, offset: t * 2 * D }, weight: w, bias: b, state: state2, out: { buffer: out2, offset: t * D } });
        }
      });
      expect(relErr(await ctx.readF32(out2, L * D), full.out), 'split out').toBeLessThan(TOL);
      expect(relErr(await ctx.readF32(state2, (K - 1) * D), full.state), 'split state').toBeLessThan(TOL);
      conv.destroy();
      [x, w, b, state, out, state2, out2].forEach((buf) => ctx.pool.release(buf));
    });
  }

  it('rejects bad buffers with clear errors', async () => {
    const ctx = await gpu();
    const conv = new CausalConv1d(ctx, { D: 48, K: 4 });
    const small = ctx.buffer(64);
    const big = ctx.buffer(48 * 4 * 10);
    expect(() => ctx.run((pass) => conv.encode(pass, { L: 10, x: { buffer: big }, weight: small, out: { buffer: ctx.buffer(48 * 40) } }))).toThrow(/weight has 64 bytes/);
    expect(() => new CausalConv1d(ctx, { D: 48, K: 0 })).toThrow(/K = 0/);
    conv.destroy();
  });
});
