/**
 * `kernels-cli --explore scan`: the selective-scan exploration bench. For each L (512 .. 131072 by default, D = 1536,
 * N = 16, with z, D skip, Δ bias, softplus: the issue's shapes) it fills the inputs once on the GPU, runs the
 * 'sequential' variant once as the reference, and then, three times over (the repeats are interleaved so drift shows
 * up as spread), times every candidate:
 *   - the chunked three-pass fused kernel with its default chunk, as a whole and per pass (state / combine / out);
 *   - the chunked kernel at fixed chunk lengths (32 .. 512) and a smaller workgroup;
 *   - the kernel lab's one-pass subgroup kernel (./lab/scan-lab.ts) in several configurations (channels per workgroup,
 *     tokens per lane, exp kept or recomputed, state lanes);
 *   - the sequential variant at short L.
 * (The 'noexp' / 'stream' modes, which timed the passes with the exponentials replaced and with the recurrence
 * dropped, gave wrong results by design and were removed from the kernels; their measurements are in
 * docs/scan-kernel-notes.md.)
 * Every candidate is checked once against the reference (h_L and 64 sampled rows of y, relative
 * error) before it is timed. Timing methods: 'iso' = one call per compute pass with GPU timestamps, each pass awaited
 * before the next is submitted (nothing overlaps the measured call); 'batch' = K calls recorded in one timestamped
 * pass, back-to-back passes (what the plain kernels-cli reports); 'wall' = K calls in K submits, wall clock / K.
 * Prints per-L lines while running and summary tables at the end; full rows go to --json / --csv.
 */
import type { GpuContext } from '../gpu/context';
import { timeGpu } from '../gpu/timing';
import { GpuFiller } from './fill';
import { scanInputs } from './cases-scan';
import { OnePassScan, type OnePassConfig } from './lab/scan-lab';
import { SelectiveScan, type ScanIO, type ScanOptions, type ScanStage, type ScanVariant } from '../kernels/scan';

/** The official CUDA selective_scan_fwd (fp32, D = 1536, N = 16) on the H200, from issue 11, in microseconds. */
export const OFFICIAL_US: Record<number, number> = { 512: 31.9, 2048: 122.0, 8192: 494.5, 32768: 1970.7, 131072: 7807.8 };

export type TimingMethod = 'iso' | 'batch' | 'wall';

export interface ExploreRow {
  L: number;
  name: string;
  variant: ScanVariant;
  stage: ScanStage | 'all';
  method: TimingMethod;
  /** Median time per call of each repeat, microseconds. */
  runs: number[];
  median: number;
  min: number;
  max: number;
  /** (max − min) / median over the repeats. */
  spread: number;
  /** Timed calls per repeat. */
  calls: number;
  /** Implementation details: chunk length and count for the chunked kernel, plan for the one-pass kernel. */
  detail: string;
  /** Relative error of y (sampled rows) and h_L against the sequential reference (normal mode, 'all' stage). */
  errY?: number;
  errH?: number;
  skipped?: string;
}

/** A scan implementation as the explorer drives it: whole calls or one pass of them. */
interface Explorable {
  /** The passes a call of L tokens has (for per-pass rows). */
  stages(io: ScanIO): ScanStage[];
  encode(pass: GPUComputePassEncoder, io: ScanIO, stage: ScanStage | 'all'): void;
  detail(L: number): string;
  destroy(): void;
}

interface Candidate {
  name: string;
  variant: ScanVariant;
  make: (ctx: GpuContext, D: number, N: number) => Explorable;
  stages: (ScanStage | 'all')[];
  methods: TimingMethod[];
}

/** SelectiveScan with these options, one variant. */
function production(variant: ScanVariant, options: Partial<ScanOptions>) {
  return (ctx: GpuContext, D: number, N: number): Explorable => {
    const s = new SelectiveScan(ctx, { ...options, D, N, variant });
    const { wg, tt } = s.tiling;
    return {
      stages: (io) => [...new Set(s.dispatches(io).map((d) => d.stage))],
      encode: (pass, io, stage) => {
        for (const d of s.dispatches(io)) if (stage === 'all' || d.stage === stage) d.kernel.dispatch(pass, d.uniforms, d.buffers, d.grid);
      },
      detail: (L) => (variant === 'fused' ? `chunk${s.chunkFor(L)} nc${Math.ceil(L / s.chunkFor(L))} wg${wg} tt${tt}` : `wg${wg} tt${tt}`),
      destroy: () => s.destroy(),
    };
  };
}

/** The lab's one-pass kernel with this configuration. */
function onePass(cfg: OnePassConfig) {
  return (ctx: GpuContext, D: number, N: number): Explorable => {
    const s = new OnePassScan(ctx, D, N, cfg);
    const p = s.plan;
    return {
      stages: () => [],
      encode: (pass, io) => s.encode(pass, io),
      detail: () => `wc${p.wc} s${p.s} sv${p.sv} q${p.q} ${p.storeA ? 'keepA' : 'recompA'}${p.ybf ? ' ybf' : ''} tcMax${p.tcMax} wg${p.wgs} smem${p.smemBytes}`,
      destroy: () => s.destroy(),
    };
  };
}

export interface ExploreOptions {
  L: number[];
  D: number;
  N: number;
  /** Target GPU time per repeat per row (ms); fewer for quick runs. */
  targetMs: number;
  /** Candidate names to keep (substring match, comma-separated); all when absent. */
  filter?: string;
  log: (s: string) => void;
  /** Called with all rows so far after each L (the CLI rewrites its JSON/CSV, so a timeout keeps what finished). */
  onProgress?: (rows: ExploreRow[]) => void;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

function candidates(L: number, quick: boolean): Candidate[] {
  const c: Candidate[] = [];
  const add = (name: string, variant: ScanVariant, make: Candidate['make'], stages: Candidate['stages'] = ['all'], methods: TimingMethod[] = ['iso']) =>
    c.push({ name, variant, make, stages, methods });
  // The chunked three-pass kernel (the default 'fused'): whole and per pass.
  add('chunked', 'fused', production('fused', {}), ['all', 'state', 'combine', 'out'], ['iso', 'batch', 'wall']);
  // Chunk sweep.
  const sweepL = quick ? [L] : [2048, 8192, 32768, 131072];
  if (sweepL.includes(L)) {
    for (const chunk of [32, 64, 128, 256, 512]) if (chunk < L) add(`chunked:c${chunk}`, 'fused', production('fused', { chunk }));
    add('chunked:wg64', 'fused', production('fused', { workgroup: 64 }));
  }
  // The lab's one-pass subgroup kernel (default wc 8, s 16, exps kept).
  add('onepass', 'fused', onePass({}), ['all'], ['iso', 'batch']);
  const op = (name: string, cfg: OnePassConfig) => add(`onepass:${name}`, 'fused', onePass(cfg));
  op('wc4', { wc: 4 });
  op('s8', { s: 8 });
  op('re16', { storeA: false });
  op('ybf', { ybf: true });
  op('sv2', { sv: 2, s: 8 });
  if (L <= (quick ? 256 : 2048)) add('sequential', 'sequential', production('sequential', {}));
  return c;
}

interface Inputs {
  io: ScanIO;
  y: GPUBuffer;
  h: GPUBuffer;
  release(): void;
}

/** Rows of y sampled for the correctness check: first, last and evenly spaced ones. */
function sampleRows(L: number): number[] {
  const rows = new Set<number>([0, L - 1]);
  for (let i = 0; i < 62; i++) rows.add(Math.floor(((i + 0.5) * L) / 62));
  return [...rows].filter((r) => r < L).sort((a, b) => a - b);
}

async function snapshot(ctx: GpuContext, inp: Inputs, D: number, N: number, rows: number[]): Promise<{ y: Float32Array; h: Float32Array }> {
  const rowBytes = D * 4;
  const staging = ctx.device.createBuffer({ size: rows.length * rowBytes + D * N * 4, usage: 0x01 | 0x08, label: 'explore-snapshot' });
  const enc = ctx.device.createCommandEncoder();
  rows.forEach((r, i) => enc.copyBufferToBuffer(inp.y, r * rowBytes, staging, i * rowBytes, rowBytes));
  enc.copyBufferToBuffer(inp.h, 0, staging, rows.length * rowBytes, D * N * 4);
  ctx.submit(enc);
  await staging.mapAsync(0x0001);
  const all = new Float32Array(staging.getMappedRange().slice(0));
  staging.destroy();
  return { y: all.subarray(0, rows.length * D), h: all.subarray(rows.length * D) };
}

function relErr(a: Float32Array, b: Float32Array): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < a.length; i++) {
    if (!Number.isFinite(a[i])) return Infinity;
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num / Math.max(den, 1e-30));
}

/** One call per timestamped pass, each awaited before the next submit. Returns per-call ms samples. */
async function timeIsolated(ctx: GpuContext, encode: (pass: GPUComputePassEncoder) => void, n: number): Promise<number[]> {
  const { device } = ctx;
  const qs = device.createQuerySet({ type: 'timestamp', count: 2 * n });
  const resolve = device.createBuffer({ size: 16 * n, usage: 0x200 | 0x04 });
  try {
    for (let i = 0; i < n; i++) {
      const enc = device.createCommandEncoder({ label: 'explore-iso' });
      const pass = enc.beginComputePass({ timestampWrites: { querySet: qs, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 } });
      encode(pass);
      pass.end();
      if (i === n - 1) enc.resolveQuerySet(qs, 0, 2 * n, resolve, 0);
      ctx.submit(enc);
      await ctx.finish();
    }
    const raw = new BigUint64Array(await ctx.read(resolve, 16 * n));
    const out: number[] = [];
    for (let i = 0; i < n; i++) out.push(Number(raw[2 * i + 1] - raw[2 * i]) / 1e6);
    return out;
  } finally {
    qs.destroy();
    resolve.destroy();
  }
}

/** Wall clock of n calls submitted one per command buffer, awaited once; ms per call. */
async function timeWall(ctx: GpuContext, encode: (pass: GPUComputePassEncoder) => void, n: number): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) ctx.run(encode, 'explore-wall');
  await ctx.finish();
  return (performance.now() - t0) / n;
}

async function timeOnce(ctx: GpuContext, method: TimingMethod, encode: (pass: GPUComputePassEncoder) => void, oneMs: number, targetMs: number): Promise<{ ms: number; calls: number }> {
  const hasTs = ctx.has('timestamp-query');
  if (method === 'iso' && hasTs) {
    const n = Math.max(3, Math.min(25, Math.ceil(targetMs / Math.max(oneMs, 1e-3))));
    return { ms: median(await timeIsolated(ctx, encode, n)), calls: n };
  }
  if (method === 'batch' && hasTs) {
    const k = Math.max(1, Math.min(50, Math.ceil(2 / Math.max(oneMs, 1e-3))));
    const iters = Math.max(3, Math.min(10, Math.ceil(targetMs / Math.max(k * oneMs, 1e-3))));
    const t = await timeGpu(ctx, (pass) => {
      for (let i = 0; i < k; i++) encode(pass);
    }, { warmup: 1, iters });
    return { ms: t.ms / k, calls: k * iters };
  }
  const n = Math.max(3, Math.min(50, Math.ceil(targetMs / Math.max(oneMs, 1e-3))));
  return { ms: await timeWall(ctx, encode, n), calls: n };
}

export async function exploreScan(ctx: GpuContext, opts: ExploreOptions): Promise<ExploreRow[]> {
  const { D, N, log } = opts;
  const quick = opts.L.every((l) => l <= 4096);
  const fill = new GpuFiller(ctx);
  const rowsOut: ExploreRow[] = [];
  const want = (name: string) => !opts.filter || opts.filter.split(',').some((f) => name.includes(f));
  log(`explore scan: D=${D} N=${N}, L = ${opts.L.join(', ')}; subgroups ${ctx.has('subgroups') ? `yes (${ctx.acquired.adapterInfo.subgroupMinSize}..${ctx.acquired.adapterInfo.subgroupMaxSize})` : 'no'}; timestamps ${ctx.has('timestamp-query') ? 'yes' : 'no (iso/batch fall back to wall)'}`);
  for (const L of opts.L) {
    const inp: Inputs = scanInputs(ctx, L, D, N, fill);
    const rows = sampleRows(L);
    const seq = new SelectiveScan(ctx, { D, N, variant: 'sequential' });
    const t0 = performance.now();
    await ctx.checked('explore reference', () => ctx.run((pass) => seq.encode(pass, inp.io, 'sequential')));
    const ref = await snapshot(ctx, inp, D, N, rows);
    log(`L=${L}: reference (sequential) in ${(performance.now() - t0).toFixed(0)} ms`);
    seq.destroy();
    const cands = candidates(L, quick).filter((c) => want(c.name));
    const scans = new Map<string, Explorable | Error>();
    const byKey = new Map<string, ExploreRow>();
    for (let rep = 0; rep < 3; rep++) {
      for (const c of cands) {
        let scan = scans.get(c.name);
        if (!scan) {
          try {
            scan = c.make(ctx, D, N);
          } catch (e) {
            scan = e as Error;
          }
          scans.set(c.name, scan);
        }
        for (const stage of c.stages) {
          for (const method of c.methods) {
            const key = `${c.name}|${stage}|${method}`;
            let row = byKey.get(key);
            if (!row) {
              row = { L, name: c.name, variant: c.variant, stage, method, runs: [], median: NaN, min: NaN, max: NaN, spread: NaN, calls: 0, detail: '' };
              byKey.set(key, row);
              rowsOut.push(row);
            }
            if (row.skipped) continue;
            if (scan instanceof Error) {
              row.skipped = scan.message.split('\n')[0];
              continue;
            }
            const s = scan;
            if (stage !== 'all' && !s.stages(inp.io).includes(stage)) {
              row.skipped = `no ${stage} pass`;
              continue;
            }
            row.detail = s.detail(L);
            const encode = (pass: GPUComputePassEncoder) => s.encode(pass, inp.io, stage);
            try {
              if (rep === 0 && stage === 'all' && method === c.methods[0]) {
                await ctx.checked(c.name, () => ctx.run(encode));
                const got = await snapshot(ctx, inp, D, N, rows);
                row.errY = relErr(got.y, ref.y);
                row.errH = relErr(got.h, ref.h);
              }
              // Warm up, then one call to size the repeat.
              ctx.run(encode);
              const one = ctx.has('timestamp-query') ? median(await timeIsolated(ctx, encode, 2)) : await timeWall(ctx, encode, 2);
              const t = await timeOnce(ctx, method, encode, one, opts.targetMs);
              row.runs.push(t.ms * 1000);
              row.calls = t.calls;
            } catch (e) {
              row.skipped = (e as Error).message.split('\n')[0];
            }
          }
        }
      }
    }
    for (const row of byKey.values()) {
      if (row.runs.length) {
        row.median = median(row.runs);
        row.min = Math.min(...row.runs);
        row.max = Math.max(...row.runs);
        row.spread = (row.max - row.min) / row.median;
      }
      log(formatExploreRow(row));
    }
    for (const s of scans.values()) if (!(s instanceof Error)) s.destroy();
    inp.release();
    await ctx.finish();
    opts.onProgress?.(rowsOut);
  }
  return rowsOut;
}

export function formatExploreRow(r: ExploreRow): string {
  const head = `L=${String(r.L).padEnd(6)} ${r.name.padEnd(18)} ${r.stage.padEnd(7)} ${r.method.padEnd(5)}`;
  if (r.skipped) return `${head} skipped: ${r.skipped}`;
  const f = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : '-');
  const err = r.errY !== undefined ? ` err y ${r.errY.toExponential(1)} h ${r.errH?.toExponential(1)}` : '';
  return `${head} ${f(r.median).padStart(9)} us [${r.runs.map(f).join(' ')}] spread ${(r.spread * 100).toFixed(1)}% ${(r.L / r.median).toFixed(2)} Mtok/s ${r.detail}${err}`;
}

/** Summary tables (printed last, so the end of the log carries them). */
export function summarizeExplore(rows: ExploreRow[], log: (s: string) => void): void {
  const Ls = [...new Set(rows.map((r) => r.L))].sort((a, b) => a - b);
  const get = (L: number, name: string, stage: ScanStage | 'all' = 'all', method: TimingMethod = 'iso') =>
    rows.find((r) => r.L === L && r.name === name && r.stage === stage && r.method === method);
  const cell = (r?: ExploreRow) => (r && !r.skipped && Number.isFinite(r.median) ? r.median.toFixed(1) : '-');
  const names = [...new Set(rows.filter((r) => r.stage === 'all' && r.method === 'iso').map((r) => r.name))];
  log('');
  log('== per call, us (iso: median of 3 repeats; * = spread > 15%; ! = error > 1e-4 vs sequential) ==');
  log(['config'.padEnd(18), ...Ls.map((L) => String(L).padStart(10))].join(' '));
  for (const name of names) {
    log([name.padEnd(18), ...Ls.map((L) => {
      const r = get(L, name);
      const flag = (r && r.spread > 0.15 ? '*' : '') + (r && ((r.errY ?? 0) > 1e-4 || (r.errH ?? 0) > 1e-4) ? '!' : '');
      return (cell(r) + flag).padStart(10);
    })].join(' '));
  }
  log('');
  log('== chunked kernel per pass (iso medians, us): all = state + combine + out + gaps ==');
  log(['L', 'chunk/nc', 'all', 'state', 'combine', 'out', 'batch', 'wall'].map((s, i) => (i < 2 ? s.padEnd(i ? 14 : 7) : s.padStart(13))).join(''));
  for (const L of Ls) {
    const base = get(L, 'chunked');
    log([String(L).padEnd(7), (base?.detail.split(' ').slice(0, 2).join('/') ?? '-').padEnd(14),
      ...[get(L, 'chunked'), get(L, 'chunked', 'state'), get(L, 'chunked', 'combine'), get(L, 'chunked', 'out'),
        get(L, 'chunked', 'all', 'batch'), get(L, 'chunked', 'all', 'wall')].map((r) => cell(r).padStart(13))].join(''));
  }
  log('');
  log('== best per L vs the official CUDA kernel (H200, issue 11) ==');
  for (const L of Ls) {
    const cands = rows.filter((r) => r.L === L && r.stage === 'all' && r.method === 'iso' && !r.skipped && Number.isFinite(r.median)
      && (r.errY ?? 1) <= 1e-4 && (r.errH ?? 1) <= 1e-4);
    if (!cands.length) continue;
    const best = cands.reduce((a, b) => (b.median < a.median ? b : a));
    const off = OFFICIAL_US[L];
    const op = get(L, 'onepass');
    log(`L=${String(L).padEnd(6)} best ${best.name.padEnd(18)} ${best.median.toFixed(1).padStart(8)} us ${(L / best.median).toFixed(2).padStart(6)} Mtok/s`
      + (off ? `  official ${off} us -> ${(off / best.median).toFixed(2)}x` : '')
      + (op && Number.isFinite(op.median) ? `  | onepass default ${op.median.toFixed(1)} us` + (off ? ` ${(off / op.median).toFixed(2)}x` : '') : ''));
  }
}

export function exploreCsv(rows: ExploreRow[]): string {
  const head = 'L,name,variant,stage,method,median_us,min_us,max_us,spread,run1,run2,run3,calls,detail,err_y,err_h,skipped';
  const q = (s: string) => `"${s.replace(/"/g, '""')}"`;
  return [head, ...rows.map((r) => [r.L, q(r.name), r.variant, r.stage, r.method, r.median, r.min, r.max, r.spread, r.runs[0] ?? '', r.runs[1] ?? '', r.runs[2] ?? '', r.calls, q(r.detail), r.errY ?? '', r.errH ?? '', q(r.skipped ?? '')].join(','))].join('\n') + '\n';
}
