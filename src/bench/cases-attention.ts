/**
 * Attention benchmark cases: flash vs reference prefill at each L (causal, pos0 = 0), flash kernel candidates, and
 * split-K decode over a filled KV cache at several context lengths. The reference case throws a LimitExceededError
 * from setup (the harness records "skipped") when its [H, L, L] score buffer exceeds maxStorageBufferBindingSize.
 *
 * Rows:
 *   attention/flash         what the model uses (FlashAttention's default choice for this device)
 *   attention/reference     materialised scores
 *   attention/cand/<name>   flash kernel candidates (opts.candidates, default FLASH_CANDIDATES): the tiled kernel
 *                           at several tilings ("tiled-BRxBC-tTRxTC[-sg]") and the rowwise kernel. `--filter attention/cand`
 *                           compares them all in one run; a tiling that does not fit the device is "skipped".
 *   attention/decode        one query over a filled cache
 * Every flash row is checked once per tiling in the same run: the first setup that uses a tiling (the one
 * FlashAttention.tilesFor(L) picks for the case) also runs that tiling and the rowwise kernel on a small odd shape
 * (H 3, L 777 at pos0 19, maxLen 800, hd of the case) and reads both back; when a case's cleanup finds a relative
 * error above 1e-4 the row is reported as skipped with "wrong result" instead of a time. Every check is logged
 * ("attention check ..."), with the adapter's subgroup sizes and limits once.
 *
 * Figures of merit: prefill flops = 4 * L^2 * hd * H / 2 (QK^T and PV, causal half); bytes = Q, K, V read once +
 * O written once = 16 * L * H * hd. Decode at context n: flops = 4 * n * hd * H; bytes = K and V rows 0..n-1 read
 * once + q read + out written = (2n + 2) * H * hd * 4.
 */
import type { BenchCase } from './harness';
import type { GpuContext } from '../gpu/context';
import { FlashAttention } from '../kernels/attention_flash';
import type { FlashOptions, FlashTiles } from '../kernels/attention_flash_plan';
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

/** A named flash kernel configuration. */
export interface FlashCandidate {
  name: string;
  opts: FlashOptions;
}

export function tiledCandidate(BR: number, BC: number, v: { sg?: boolean; redInV?: boolean } = {}): FlashCandidate {
  const name = `tiled-${BR}x${BC}${v.sg ? '-sg' : ''}${v.redInV ? '-rv' : ''}`;
  return { name, opts: { kernel: 'tiled', BR, BC, subgroups: v.sg, redInV: v.redInV } };
}

/** Candidates for hd 64 on a 48 KiB / 1024-invocation device (the H200); those that do not fit are skipped.
 * "-sg": row reductions with subgroup shuffles; "-rv": reduction slots in the V tile (5 barriers per block). The
 * default tiling is the attention/flash row. Kept short: every candidate costs ~8 s of GPU time per run (4 lengths).
 * (The register-prefetch and V-from-global variants were measured, never won, and were removed; their rows are in
 * docs/benchmarks.md and docs/flash-attention-notes.md.) */
export const FLASH_CANDIDATES: FlashCandidate[] = [
  tiledCandidate(64, 64, { redInV: true }),
  tiledCandidate(64, 64, { sg: true }),
  { name: 'rowwise', opts: { kernel: 'rowwise' } },
];

const CHECK_TOL = 1e-4;
type CheckState = { done: false } | { done: true; err: number; detail: string };
/** One correctness check per (context, head dims, kernel options), shared by all rows of that kernel. */
const checks = new WeakMap<GpuContext, Map<string, CheckState>>();

function relErr(a: Float32Array, b: Float32Array): number {
  let num = 0, den = 0;
  for (let i = 0; i < a.length; i++) {
    const d = a[i] - b[i];
    num += d * d;
    den += b[i] * b[i];
  }
  const e = Math.sqrt(num / Math.max(den, 1e-30));
  return Number.isNaN(e) ? Infinity : e;
}

/** Options that force exactly these tiles. */
function forcing(t: FlashTiles): FlashOptions {
  if (t.kernel === 'rowwise') return { kernel: 'rowwise', BR: t.BR, BC: t.BC };
  return { kernel: 'tiled', BR: t.BR, BC: t.BC, subgroups: t.sg, redInV: t.redInV };
}

/** Starts (once per tiles) the check of these tiles against the rowwise kernel on a small odd shape; returns the
 * state to consult in cleanup. */
function startCheck(ctx: GpuContext, hd: number, tiles: FlashTiles, key: string, log: (s: string) => void): CheckState {
  let m = checks.get(ctx);
  if (!m) {
    checks.set(ctx, (m = new Map()));
    const i = ctx.acquired.adapterInfo;
    log(`attention: subgroups ${ctx.has('subgroups') ? `yes (sizes ${i.subgroupMinSize}..${i.subgroupMaxSize})` : 'no'}; maxComputeWorkgroupStorageSize ${ctx.limits.maxComputeWorkgroupStorageSize}; maxComputeInvocationsPerWorkgroup ${ctx.limits.maxComputeInvocationsPerWorkgroup}`);
  }
  const have = m.get(key);
  if (have) return have;
  const pending: CheckState = { done: false };
  m.set(key, pending);
  const H = 3, L = 777, pos0 = 19, maxLen = 800; // H differs from every bench shape's, on purpose
  const dims = { H, hd, maxLen };
  const q = ctx.upload(fill(H * L * hd, 11).map((x) => 4 * x), 'scratch', 'check.q');
  const kc = ctx.upload(fill(H * maxLen * hd, 12).map((x) => 4 * x), 'scratch', 'check.k');
  const vc = ctx.upload(fill(H * maxLen * hd, 13), 'scratch', 'check.v');
  const o1 = ctx.buffer(L * H * hd * 4, 'scratch', 'check.out');
  const o2 = ctx.buffer(L * H * hd * 4, 'scratch', 'check.ref');
  try {
    const k = new FlashAttention(ctx, dims, forcing(tiles));
    const oracle = new FlashAttention(ctx, dims, { kernel: 'rowwise' });
    ctx.run((pass) => {
      k.encode(pass, { q, kCache: kc, vCache: vc, out: o1, L, pos0, maxLen });
      oracle.encode(pass, { q, kCache: kc, vCache: vc, out: o2, L, pos0, maxLen });
    }, 'attention-check');
  } catch (e) {
    const s: CheckState = { done: true, err: Infinity, detail: `check failed: ${(e as Error).message}` };
    m.set(key, s);
    log(`attention check ${key}: ${s.detail}`);
    for (const b of [q, kc, vc, o1, o2]) ctx.pool.release(b);
    return s;
  }
  void Promise.all([ctx.readF32(o1, L * H * hd), ctx.readF32(o2, L * H * hd)]).then(
    ([a, b]) => {
      const err = relErr(a, b);
      const s: CheckState = { done: true, err, detail: `H=${H} L=${L} pos0=${pos0} hd=${hd} vs rowwise` };
      m.set(key, s);
      log(`attention check ${key}: relErr ${err.toExponential(2)} (${s.detail})${err > CHECK_TOL ? ' WRONG' : ''}`);
    },
    (e) => {
      m.set(key, { done: true, err: Infinity, detail: `readback failed: ${(e as Error).message}` });
      log(`attention check ${key}: readback failed: ${(e as Error).message}`);
    },
  ).finally(() => {
    for (const b of [q, kc, vc, o1, o2]) ctx.pool.release(b);
  });
  return pending;
}

function checkedCleanup(ctx: GpuContext, key: string, release: () => void): () => void {
  return () => {
    release();
    const s = checks.get(ctx)?.get(key);
    if (s?.done && !(s.err <= CHECK_TOL)) throw new Error(`wrong result: relErr ${s.err.toExponential(2)} (${s.detail})`);
  };
}

export interface AttentionBenchOptions {
  L: number[];
  H: number;
  hd: number;
  /** Context lengths for the decode cases (default 128, 1024, 4096 and the largest L). */
  decodeLens?: number[];
  /** Flash candidates (default FLASH_CANDIDATES; [] for none). */
  candidates?: FlashCandidate[];
  /** Where check results go (default console.log). */
  log?: (s: string) => void;
}

export function attentionBenchCases(opts: AttentionBenchOptions): BenchCase[] {
  const { H, hd } = opts;
  const log = opts.log ?? ((s: string) => console.log(s));
  const cases: BenchCase[] = [];
  const flashRows: { kernel: string; opts: FlashOptions }[] = [
    { kernel: 'attention/flash', opts: {} },
    ...(opts.candidates ?? FLASH_CANDIDATES).map((c) => ({ kernel: `attention/cand/${c.name}`, opts: c.opts })),
  ];
  for (const L of opts.L) {
    const shape = `L=${L} H=${H} hd=${hd}`;
    const flops = (4 * L * L * hd * H) / 2;
    const bytes = 16 * L * H * hd;
    for (const row of flashRows) {
      cases.push({
        kernel: row.kernel,
        shape,
        bytes,
        flops,
        tokens: L,
        setup(ctx) {
          const k = new FlashAttention(ctx, { H, hd, maxLen: L }, row.opts);
          const tiles = k.tilesFor(L);
          const key = JSON.stringify(tiles);
          startCheck(ctx, hd, tiles, key, log);
          const b = inputs(ctx, H, hd, L, L);
          return {
            encode: (pass) => k.encode(pass, { q: b.q, kCache: b.k, vCache: b.v, out: b.out, L, pos0: 0 }),
            cleanup: checkedCleanup(ctx, key, () => {
              for (const x of Object.values(b)) ctx.pool.release(x);
            }),
          };
        },
      });
    }
    cases.push({
      kernel: 'attention/reference',
      shape,
      bytes,
      flops,
      tokens: L,
      setup(ctx) {
        const k = new ReferenceAttention(ctx, { H, hd, maxLen: L });
        k.checkFits(L, 0);
        const b = inputs(ctx, H, hd, L, L);
        return {
          encode: (pass) => k.encode(pass, { q: b.q, kCache: b.k, vCache: b.v, out: b.out, L, pos0: 0 }),
          cleanup: () => {
            k.destroy();
            for (const x of Object.values(b)) ctx.pool.release(x);
          },
        };
      },
    });
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
