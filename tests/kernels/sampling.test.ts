import { describe, expect, it } from 'vitest';
import { gpu, randArray } from '../gpu';
import { NON_FINITE_TOKEN, SamplerKernel } from '../../src/kernels/sampling';
import { EmbeddingKernel } from '../../src/kernels/embedding';
import { uploadLinear } from '../../src/kernels/matmul';
import type { SamplingParams } from '../../src/math/sampling';
import { argmaxRef, hashUniform, sampleRef, samplingCandidates, samplingProbs } from '../../src/reference/sampling';
import type { GpuContext } from '../../src/gpu/context';

async function draw(ctx: GpuContext, logits: Float32Array, params: SamplingParams, rows: number, seed: number, step = 0): Promise<Uint32Array> {
  const k = new SamplerKernel(ctx);
  const lb = ctx.upload(logits);
  const ob = ctx.upload(new Uint32Array(rows).fill(0xdeadbeef));
  ctx.run((pass) => k.sample(pass, { buffer: lb, rowStride: 0 }, logits.length, ob, 0, params, { seed, step }, rows));
  const out = await ctx.readU32(ob, rows);
  ctx.pool.release(lb);
  ctx.pool.release(ob);
  return out;
}

describe('argmax', () => {
  it('matches the oracle exactly, ties to the lowest index, NaN ignored when not checking, batched rows', async () => {
    const ctx = await gpu('gpu');
    const k = new SamplerKernel(ctx, { check: false });
    const rows: Float32Array[] = [];
    for (const V of [1, 10, 257, 50280]) rows.push(randArray(V, V, -5, 5));
    const tie = randArray(1000, 3); tie[700] = 9; tie[300] = 9; tie[999] = 9; rows.push(tie);
    const tie2 = randArray(9000, 5); tie2[8500] = 9; tie2[4100] = 9; tie2[2049] = 9; rows.push(tie2); // across slices
    const inf = randArray(5000, 6); inf[4444] = Infinity; rows.push(inf);
    rows.push(new Float32Array(300).fill(-Infinity));
    const nan = randArray(500, 4); nan[0] = NaN; nan[10] = NaN; nan[400] = 7; rows.push(nan);
    for (const x of rows) {
      const lb = ctx.upload(x);
      const ob = ctx.upload(new Uint32Array(4).fill(0xdeadbeef));
      ctx.run((pass) => k.argmax(pass, lb, x.length, ob, 2));
      const out = await ctx.readU32(ob, 4);
      expect(out[2], `V=${x.length}`).toBe(argmaxRef(x));
      expect([out[0], out[1], out[3]]).toEqual([0xdeadbeef, 0xdeadbeef, 0xdeadbeef]);
    }
    expect(argmaxRef(tie)).toBe(300);
    // batched: 7 rows of 33 logits
    const V = 33, R = 7;
    const all = randArray(V * R, 9);
    const lb = ctx.upload(all);
    const ob = ctx.buffer(R * 4);
    ctx.run((pass) => k.argmax(pass, lb, V, ob, 0, R));
    const got = await ctx.readU32(ob, R);
    for (let r = 0; r < R; r++) expect(got[r]).toBe(argmaxRef(all.subarray(r * V, (r + 1) * V)));
  });
});

describe('sampling', () => {
  it('greedy limits equal argmax: temperature 0, top_k 1, and a tiny temperature in both kernels', async () => {
    const ctx = await gpu('gpu');
    const x = randArray(5000, 1, -3, 3);
    x[1234] = 4;
    const am = argmaxRef(x);
    for (const p of [{ temperature: 0 }, { temperature: 1, topK: 1 }, { temperature: 1e-3 }, { temperature: 1e-3, topK: 50 }, { temperature: 1e-3, topP: 0.9 }]) {
      const got = await draw(ctx, x, p, 16, 7);
      expect(Array.from(got), JSON.stringify(p)).toEqual(new Array(16).fill(am));
    }
  });

  it('every draw lies in the top-k / top-p set and agrees with the oracle drawing with the same uniforms', async () => {
    const ctx = await gpu('gpu');
    const V = 3001;
    const x = randArray(V, 2, -4, 4);
    for (let i = 0; i < 40; i++) x[(i * 97) % V] = 3.9; // ties at the top
    const configs: SamplingParams[] = [
      { temperature: 0.8, topK: 40 },
      { temperature: 1.0, topP: 0.5 },
      { temperature: 1.3, topK: 100, topP: 0.9 },
      { temperature: 1.0, topK: 1000 }, // capped at 256
      { temperature: 0.7 }, // full softmax
    ];
    const rows = 100;
    for (const p of configs) {
      const seed = 12345;
      const got = await draw(ctx, x, p, rows, seed, 1000);
      const allowed = new Set(samplingCandidates(x, p).ids);
      let agree = 0;
      for (let w = 0; w < rows; w++) {
        expect(allowed.has(got[w]), `${JSON.stringify(p)} token ${got[w]}`).toBe(true);
        if (got[w] === sampleRef(x, p, hashUniform(seed, 1000 + w))) agree++;
      }
      expect(agree / rows, JSON.stringify(p)).toBeGreaterThanOrEqual(0.98);
    }
  });

  it('top-k ties at the threshold take the lowest indices', async () => {
    const ctx = await gpu('gpu');
    const x = new Float32Array(600).fill(-1);
    for (const i of [50, 10, 590, 300]) x[i] = 2;
    x[400] = 5;
    const got = await draw(ctx, x, { temperature: 100, topK: 3 }, 200, 3);
    const seen = new Set(got);
    expect([...seen].sort((a, b) => a - b)).toEqual([10, 50, 400]);
  });

  it('frequencies match the oracle distribution (chi-square, V = 10, 500–1000 draws in one dispatch)', async () => {
    const ctx = await gpu('gpu');
    const x = new Float32Array([1.0, 0.5, 2.0, -1.0, 0.0, 1.5, 0.2, -0.5, 1.8, 0.9]);
    for (const p of [{ temperature: 1 }, { temperature: 0.7, topK: 5 }, { temperature: 1.2, topP: 0.8 }, { temperature: 1, topK: 6, topP: 0.9 }] as SamplingParams[]) {
      const n = p.topK || p.topP ? 500 : 1000;
      const got = await draw(ctx, x, p, n, 99, 0);
      const probs = samplingProbs(x, p);
      const counts = new Array(10).fill(0);
      for (const t of got) counts[t]++;
      let chi2 = 0, df = -1;
      for (let i = 0; i < 10; i++) {
        if (probs[i] === 0) {
          expect(counts[i], `${JSON.stringify(p)} token ${i} has zero probability`).toBe(0);
          continue;
        }
        chi2 += (counts[i] - n * probs[i]) ** 2 / (n * probs[i]);
        df++;
      }
      // 99.99th percentile of chi-square with ≤ 9 degrees of freedom is ~33.7
      expect(chi2, `${JSON.stringify(p)} counts ${counts} df ${df}`).toBeLessThan(33.7);
    }
  });

  it('writes into the token history so the embedding gather can read it in the same pass', async () => {
    const ctx = await gpu('gpu');
    const V = 100, d = 8;
    const x = randArray(V, 5);
    const E = randArray(V * d, 6);
    const table = uploadLinear(ctx, E, V, d);
    const history = ctx.upload(new Uint32Array([1, 2, 3, 4, 0, 0, 0, 0]));
    const lb = ctx.upload(x);
    const eb = ctx.buffer(d * 4);
    const s = new SamplerKernel(ctx), emb = new EmbeddingKernel(ctx);
    ctx.run((pass) => {
      s.sample(pass, lb, V, history, 4, { temperature: 0 }, { u: 0.5 });
      emb.encode(pass, history, table, eb, 1, 4);
    });
    const h = await ctx.readU32(history, 8);
    const t = argmaxRef(x);
    expect(Array.from(h)).toEqual([1, 2, 3, 4, t, 0, 0, 0]);
    expect(Array.from(await ctx.readF32(eb, d))).toEqual(Array.from(E.subarray(t * d, (t + 1) * d)));
  });

  it('top-k ties across first-pass slices still take the lowest indices', async () => {
    const ctx = await gpu('gpu');
    const x = new Float32Array(7000).fill(-1);
    for (const i of [6500, 2100, 50, 4100, 2047]) x[i] = 2;
    x[4000] = 5;
    const got = await draw(ctx, x, { temperature: 100, topK: 4 }, 80, 3);
    expect([...new Set(got)].sort((a, b) => a - b)).toEqual([50, 2047, 2100, 4000]);
  });

  it('non-finite logits give NON_FINITE_TOKEN in every mode (the model turns it into an error)', async () => {
    const ctx = await gpu('gpu');
    const k = new SamplerKernel(ctx);
    for (const bad of [NaN, Infinity, -Infinity]) {
      const x = randArray(5000, 9);
      x[3333] = bad;
      const lb = ctx.upload(x);
      const ob = ctx.buffer(64);
      for (const p of [{ temperature: 0 }, { temperature: 1, topK: 20 }, { temperature: 1, topP: 0.9 }, { temperature: 1 }] as SamplingParams[]) {
        ctx.run((pass) => k.sample(pass, lb, x.length, ob, 1, p, { seed: 1, step: 2 }));
        expect((await ctx.readU32(ob, 2))[1], `${bad} ${JSON.stringify(p)}`).toBe(NON_FINITE_TOKEN);
      }
      ctx.pool.release(lb);
      ctx.pool.release(ob);
    }
    // the same logits without the bad value select normally
    const x = randArray(5000, 9);
    const lb = ctx.upload(x), ob = ctx.buffer(16);
    ctx.run((pass) => k.argmax(pass, lb, x.length, ob));
    expect((await ctx.readU32(ob, 1))[0]).toBe(argmaxRef(x));
  });

  it('fixed-u draws match the oracle', async () => {
    const ctx = await gpu('gpu');
    const x = randArray(777, 8, -2, 2);
    const k = new SamplerKernel(ctx);
    const lb = ctx.upload(x);
    const ob = ctx.buffer(64);
    for (const p of [{ temperature: 1, topK: 20 }, { temperature: 1 }] as SamplingParams[]) {
      for (const u of [0, 0.1, 0.5, 0.93]) {
        ctx.run((pass) => k.sample(pass, lb, x.length, ob, 3, p, { u }));
        expect((await ctx.readU32(ob, 4))[3]).toBe(sampleRef(x, p, u));
      }
    }
  });
});
