/**
 * GPT-NeoX decode layer as one pipeline (shaders/neox_decode_layer.wgsl) against the unfused CPU oracle: LayerNorm +
 * QKV (+ LayerNorm₂ + MLP-up + GELU), rotary + KV append + attention over the cache, dense + residual, MLP-down +
 * residual; parallel and sequential residual, head dims 18 and 32, 3 / 5 / 12 heads, f32 and f16, one key and many
 * key chunks.
 */
import { describe, expect, it } from 'vitest';
import { gpu, randArray, relErr } from '../gpu';
import { NeoxDecodeLayer, neoxPackLayout, type NeoxDecodeShape } from '../../src/kernels/neox_decode';
import { uploadLinear, releaseLinear } from '../../src/kernels/matmul';
import { roundToF16 } from '../../src/math/f16';
import { attentionDecodeRef, decodeMatvecRef } from '../../src/reference/decode';

const CASES: [NeoxDecodeShape, number][] = [
  [{ d: 90, f: 200, H: 5, hd: 18, rot: 4, base: 10000, eps: 1e-5, parallel: true, dtype: 'f32', qkvBias: true, denseBias: true }, 37],
  [{ d: 96, f: 160, H: 3, hd: 32, rot: 16, base: 10000, eps: 1e-5, parallel: false, dtype: 'f16', qkvBias: false, denseBias: true }, 0],
  [{ d: 768, f: 3072, H: 12, hd: 64, rot: 16, base: 10000, eps: 1e-5, parallel: true, dtype: 'f32', qkvBias: true, denseBias: true }, 1500],
];

describe('GPT-NeoX decode layer, one pipeline', () => {
  it.each(CASES.map(([s, pos]) => [`d=${s.d} H=${s.H} hd=${s.hd} ${s.parallel ? 'parallel' : 'sequential'} ${s.dtype} pos=${pos}`, s, pos] as const))('%s', async (_, s, pos) => {
    const ctx = await gpu();
    const { d, f, H, hd } = s;
    const maxLen = pos + 9;
    const r = (a: Float32Array) => (s.dtype === 'f16' ? roundToF16(a) : a);
    const wQkv = randArray(3 * d * d, 1, -0.2, 0.2), wDense = randArray(d * d, 2, -0.2, 0.2);
    const wUp = randArray(f * d, 3, -0.2, 0.2), wDown = randArray(d * f, 4, -0.1, 0.1);
    const L = neoxPackLayout(s);
    const packV = randArray(L.total, 5, -0.3, 0.3);
    for (const o of [L.ln1g, L.ln2g]) for (let i = 0; i < d; i++) packV[o + i] += 1;
    const part = (o: number, n: number) => packV.subarray(o, o + n);
    const x0 = randArray(d, 6, -2, 2);
    const kc = randArray(H * maxLen * hd, 7), vc = randArray(H * maxLen * hd, 8);
    const layer = new NeoxDecodeLayer(ctx, s);
    const lw = [wQkv, wDense, wUp, wDown].map((w, i) => uploadLinear(ctx, w, [3 * d, d, f, d][i], [d, d, d, f][i], { dtype: s.dtype }));
    const acts = ctx.buffer(layer.acts.total * 4);
    ctx.device.queue.writeBuffer(acts, layer.acts.x * 4, x0);
    const io = {
      acts, wQkv: lw[0].blocks[0].buffer, wDense: lw[1].blocks[0].buffer, wUp: lw[2].blocks[0].buffer, wDown: lw[3].blocks[0].buffer,
      pack: ctx.upload(packV), kCache: ctx.upload(kc), vCache: ctx.upload(vc), state: ctx.upload(new Uint32Array([pos, 0, maxLen, 0])),
    };
    ctx.run((pass) => layer.encode(pass, io, pos));

    const ln1 = { norm: 'ln' as const, g: part(L.ln1g, d), b: part(L.ln1b, d), eps: s.eps };
    const ln2 = { norm: 'ln' as const, g: part(L.ln2g, d), b: part(L.ln2b, d), eps: s.eps };
    const qkv = decodeMatvecRef({ x: x0, w: r(wQkv), K: d, N: 3 * d, ...ln1, bias: s.qkvBias ? part(L.qkvB, 3 * d) : null });
    const refK = kc.slice(), refV = vc.slice();
    const att = attentionDecodeRef({ qkv, kCache: refK, vCache: refV, H, hd, rot: s.rot, base: s.base, pos, maxLen });
    const up = (x: Float32Array) => decodeMatvecRef({ x, w: r(wUp), K: d, N: f, ...ln2, bias: part(L.upB, f), gelu: true });
    const mPar = up(x0);
    const x1 = decodeMatvecRef({ x: att, w: r(wDense), K: d, N: d, bias: s.denseBias ? part(L.denseB, d) : null, add: x0 });
    const m = s.parallel ? mPar : up(x1);
    const x2 = decodeMatvecRef({ x: m, w: r(wDown), K: f, N: d, bias: part(L.downB, d), add: x1 });
    const got = await ctx.readF32(acts, layer.acts.total);
    expect(relErr(got.subarray(layer.acts.qkv, layer.acts.qkv + 3 * d), qkv), 'qkv').toBeLessThan(2e-5);
    expect(relErr(got.subarray(layer.acts.m, layer.acts.m + f), m), 'mlp hidden').toBeLessThan(2e-5);
    expect(relErr(got.subarray(layer.acts.x, layer.acts.x + d), x2), 'x').toBeLessThan(5e-5);
    expect(relErr(await ctx.readF32(io.kCache, H * maxLen * hd), refK), 'k cache').toBeLessThan(1e-5); // the new row carries qkv's f32 rounding
    expect((await ctx.readU32(io.state, 4))[1]).toBe(layer.splitsFor(pos));
    for (const l of lw) releaseLinear(ctx, l);
    for (const b of Object.values(io)) if (!lw.some((l) => l.blocks[0].buffer === b)) ctx.pool.release(b);
  });

  it('says why it cannot run: one head, mixed precisions', async () => {
    const ctx = await gpu();
    const s = CASES[0][0];
    expect(NeoxDecodeLayer.blocker(ctx, { ...s, H: 1, hd: 90 }, [])).toMatch(/one attention head/);
    expect(NeoxDecodeLayer.blocker(ctx, s, ['f16'])).toMatch(/precision/);
    expect(NeoxDecodeLayer.blocker(ctx, s, ['f32'])).toBeNull();
  });
});
