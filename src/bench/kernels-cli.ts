/**
 * `npm run bench:kernels [-- --quick] [--json FILE] [--csv FILE] [--filter TEXT[,TEXT...]] [--iters N] [--rep N]`
 * `npm run bench:kernels -- --explore scan [--quick] [--lengths 512,2048,...] [--filter NAME,...] [--json F] [--csv F]`
 *
 * Scan and attention rows are timed three times in the same call (column runs / spread; ms is the median), so a row's
 * stability is visible. --explore scan runs the selective-scan exploration bench instead (./explore-scan.ts): every
 * fused configuration over L = 512..131072, per pass, with and without exponentials, three interleaved repeats.
 *
 * Acquires a Node WebGPU device (Dawn), measures the vec4 copy kernel's bandwidth (best of a few sizes: the ceiling
 * every other row is compared against), then runs every kernel family's bench cases — dense (cases-dense), scan and
 * conv1d (cases-scan), Mamba-2's SSD (cases-ssd), attention (cases-attention; a family whose case list fails to build is skipped with a note) — and prints one table. --quick uses small shapes so the whole run finishes in a minute or two on
 * SwiftShader; the default uses the real model shapes and is meant for a GPU (WEBGPU_NATIVE=1).
 *
 * Each timed pass records `rep` calls of the kernel back to back and the table shows time per call. With --quick rep
 * is 1; otherwise, unless --rep fixes it, rep is chosen per case from a short calibration (enough calls for ~2 ms
 * per pass, at most 50), and long cases get fewer passes (~1.5 s of GPU time per case, at least 3 passes), so the
 * full run (scan up to L=131k, attention up to 32k) stays within a few minutes on an H100. Some drivers quantise
 * GPU timestamps (Dawn on an H100: 65.5 us steps); the full run therefore asks Dawn for
 * `disable-dawn-features=timestamp_quantization` (through WEBGPU_DAWN_OPTIONS, see src/gpu/node.ts) unless that
 * variable is already set. Caveat: repeated calls find a small weight matrix in L2 (50 MB on an
 * H100), so GB/s of matvec cases whose weights fit in L2 can exceed DRAM bandwidth; the LM-head cases do not fit.
 */
import { writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { acquireNodeDevice } from '../gpu/node';
import { GpuContext } from '../gpu/context';
import { timeGpu, type TimeOptions } from '../gpu/timing';
import { CopyKernel } from '../kernels/copy';
import { runCases, formatRow, type BenchCase, type BenchResult } from './harness';
import { denseBenchCases } from './cases-dense';
// Static imports (not import()) so the bench bundle is one self-contained .mjs for the GPU machine.
import * as scanCases from './cases-scan';
import * as attentionCases from './cases-attention';
import * as ssdCases from './cases-ssd';
import { exploreScan, summarizeExplore, exploreCsv, type ExploreRow } from './explore-scan';

interface CliArgs {
  quick: boolean;
  /** Exploration mode for one kernel family (only 'scan' so far): see ./explore-scan.ts. */
  explore?: string;
  /** Sequence lengths for --explore (comma-separated). */
  lengths?: number[];
  json?: string;
  csv?: string;
  filter?: string;
  iters?: number;
  /** Calls of each kernel recorded per timed pass (times and rates are per call). */
  rep?: number;
}

function parseArgs(argv: string[]): CliArgs {
  const a: CliArgs = { quick: false };
  for (let i = 0; i < argv.length; i++) {
    const s = argv[i];
    const val = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${s} needs a value`);
      return v;
    };
    if (s === '--quick') a.quick = true;
    else if (s === '--json') a.json = val();
    else if (s === '--csv') a.csv = val();
    else if (s === '--filter') a.filter = val();
    else if (s === '--iters') a.iters = Number(val());
    else if (s === '--rep') a.rep = Number(val());
    else if (s === '--explore') a.explore = val();
    else if (s === '--lengths') a.lengths = val().split(',').map(Number);
    else if (s === '--help' || s === '-h') {
      console.log('usage: bench:kernels [--quick] [--json FILE] [--csv FILE] [--filter TEXT[,TEXT...]] [--iters N] [--rep N]\n' +
        '       bench:kernels --explore scan [--quick] [--lengths 512,2048,...] [--filter NAME[,NAME...]] [--json FILE] [--csv FILE]');
      process.exit(0);
    } else throw new Error(`unknown argument ${s}`);
  }
  return a;
}

/** Copy-kernel bandwidth in GB/s (read + write), best over a few sizes. */
export async function measureCopy(ctx: GpuContext, quick: boolean, opts: TimeOptions, rep = 1): Promise<{ gbps: number; rows: BenchResult[] }> {
  const maxFloats = Math.floor(Math.min(ctx.limits.maxStorageBufferBindingSize, 256 << 20) / 16) * 4;
  const sizes = (quick ? [1 << 16, 1 << 20] : [1 << 24, 1 << 26]).filter((n) => n <= maxFloats);
  const k = new CopyKernel(ctx);
  const rows: BenchResult[] = [];
  let best = 0;
  for (const n of sizes) {
    const src = ctx.buffer(n * 4, 'scratch', 'copy.src');
    const dst = ctx.buffer(n * 4, 'scratch', 'copy.dst');
    const t = await timeGpu(ctx, (pass) => {
      for (let i = 0; i < rep; i++) k.encode(pass, src, dst, n);
    }, opts);
    const ms = t.ms / rep;
    const gbps = (8 * n) / (ms / 1e3) / 1e9;
    if (Number.isFinite(gbps)) best = Math.max(best, gbps);
    rows.push({ kernel: 'copy/vec4', shape: `n=${n}`, ms, method: t.method, gbps, gflops: 0, mtoks: null, vsCopy: NaN });
    ctx.pool.release(src);
    ctx.pool.release(dst);
  }
  for (const r of rows) r.vsCopy = r.gbps / best;
  return { gbps: best, rows };
}

/**
 * Keeps the GPU busy with large copies for about `ms` of wall time, so the timed cases start at full clocks (an H200
 * idles at 345 MHz; the first explore run saw its first lengths time 2-4x slow while the clocks ramped up). Returns
 * the copy bandwidth of the last batch (GB/s), a check that the GPU is at speed.
 */
export async function warmUpGpu(ctx: GpuContext, ms: number): Promise<number> {
  const n = Math.floor(Math.min(ctx.limits.maxStorageBufferBindingSize, 256 << 20) / 16) * 4;
  const src = ctx.buffer(n * 4, 'scratch', 'warmup.src');
  const dst = ctx.buffer(n * 4, 'scratch', 'warmup.dst');
  const k = new CopyKernel(ctx);
  const t0 = performance.now();
  let gbps = 0;
  try {
    do {
      const t1 = performance.now();
      ctx.run((pass) => {
        for (let i = 0; i < 20; i++) k.encode(pass, src, dst, n);
      }, 'warmup');
      await ctx.finish();
      gbps = (20 * 8 * n) / ((performance.now() - t1) / 1e3) / 1e9;
    } while (performance.now() - t0 < ms);
  } finally {
    ctx.pool.release(src);
    ctx.pool.release(dst);
  }
  return gbps;
}

/** Per-case warm-up: at least this much GPU time of the case itself before it is timed. */
const CASE_WARM_MS = 30;

type CaseSource = { name: string; load: () => Promise<BenchCase[]> };

/** Wraps a case so one encode records `rep` calls; runKernelBench divides the time back to per call. */
function repeated(c: BenchCase, rep: number): BenchCase {
  if (rep === 1) return c;
  return {
    ...c,
    bytes: c.bytes * rep,
    flops: c.flops * rep,
    tokens: c.tokens ? c.tokens * rep : undefined,
    setup(ctx) {
      const s = c.setup(ctx);
      return {
        encode: (pass) => {
          for (let i = 0; i < rep; i++) s.encode(pass);
        },
        cleanup: s.cleanup,
      };
    },
  };
}

function caseSources(quick: boolean): CaseSource[] {
  return [
    { name: 'dense', load: async () => denseBenchCases({ quick }) },
    {
      name: 'scan',
      load: async () => {
        const m = scanCases;
        // Issue 5's shapes: batch 1, D = 1536, N = 16 (mamba-130m's d_inner), L = 512 .. 131k.
        const L = quick ? [64, 256] : [512, 2048, 8192, 32768, 131072];
        const D = quick ? 256 : 1536;
        const cases: BenchCase[] = m.scanBenchCases({ L, D, N: 16 });
        if (typeof m.conv1dBenchCases === 'function') cases.push(...m.conv1dBenchCases({ L: L.filter((l) => l <= 32768), D, K: 4 }));
        return cases;
      },
    },
    {
      name: 'ssd',
      load: async () => {
        // Issue 18's shapes: mamba2-130m's SSD (24 heads × 64, N = 128, one group), L = 512 .. 131k.
        const L = quick ? [64, 256] : [512, 2048, 8192, 32768, 131072];
        const shape = quick ? { H: 4, P: 16, N: 32, G: 1 } : { H: 24, P: 64, N: 128, G: 1 };
        return ssdCases.ssdBenchCases({ L, shape, chunks: quick ? [] : [32, 128, 256] });
      },
    },
    {
      name: 'attention',
      load: async () => {
        const m = attentionCases;
        return quick
          ? m.attentionBenchCases({ L: [64, 128], H: 4, hd: 64, decodeLens: [64, 256] })
          : m.attentionBenchCases({ L: [512, 2048, 8192, 32768], H: 12, hd: 64, decodeLens: [128, 512, 2048, 8192, 32768] });
      },
    },
  ];
}

export type KernelResult = BenchResult & {
  rep?: number;
  /** Scan and attention rows: time per call (ms) of each of the three repeats; ms is their median. */
  runs?: number[];
  /** (max − min) / median of the repeats. */
  spread?: number;
};

/** Kernel families timed three times in one call (issue 11: each row within ±15% across three repeats). */
const REPEATED = ['scan/', 'ssd/', 'attention/'];
const REPEATS = 3;
const isRepeated = (kernel: string) => REPEATED.some((p) => kernel.startsWith(p));

const TARGET_PASS_MS = 2;
const MAX_REP = 50;
const CASE_BUDGET_MS = 1500;

/** Like runCases, but picks `rep` per case from a short calibration and trims the passes of long cases. */
export async function runCasesAuto(ctx: GpuContext, cases: BenchCase[], copyGbps: number, opts: TimeOptions, log: (r: KernelResult) => void): Promise<KernelResult[]> {
  const out: KernelResult[] = [];
  for (const c of cases) {
    let r: KernelResult;
    try {
      const { encode, cleanup } = c.setup(ctx);
      try {
        const cal = await timeGpu(ctx, encode, { warmup: 1, iters: 3 });
        const one = cal.ms;
        const warmCalls = Math.min(200, Math.ceil(CASE_WARM_MS / Math.max(one, 1e-3)));
        for (let i = 0; i < warmCalls; i++) ctx.run(encode, 'case-warmup');
        await ctx.finish();
        const rep = one > 0 ? Math.max(1, Math.min(MAX_REP, Math.ceil(TARGET_PASS_MS / one))) : MAX_REP;
        const perPass = Math.max(one * rep, 1e-3);
        const iters0 = opts.iters ?? 20;
        const repeats = isRepeated(c.kernel) ? REPEATS : 1;
        // The case's GPU-time budget is shared by its repeats (at least 3 passes each).
        const iters = Math.max(3, Math.min(iters0, Math.floor(CASE_BUDGET_MS / repeats / perPass)));
        const warmup = perPass > 50 ? 1 : (opts.warmup ?? 3);
        const runs: number[] = [];
        let method = '';
        for (let k = 0; k < repeats; k++) {
          const t = await timeGpu(ctx, (pass) => {
            for (let i = 0; i < rep; i++) encode(pass);
          }, { ...opts, warmup, iters });
          runs.push(t.ms / rep);
          method = t.method;
        }
        const ms = median(runs);
        const s = ms / 1e3;
        const gbps = c.bytes / s / 1e9;
        r = { kernel: c.kernel, shape: c.shape, ms, method, gbps, gflops: c.flops / s / 1e9, mtoks: c.tokens ? c.tokens / s / 1e6 : null, vsCopy: gbps / copyGbps, rep };
        if (runs.length > 1) {
          r.runs = runs;
          r.spread = (Math.max(...runs) - Math.min(...runs)) / ms;
        }
      } finally {
        cleanup();
      }
    } catch (e) {
      r = { kernel: c.kernel, shape: c.shape, ms: NaN, method: '-', gbps: NaN, gflops: NaN, mtoks: null, vsCopy: NaN, skipped: (e as Error).message.split('\n')[0] };
    }
    out.push(r);
    log(r);
  }
  return out;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Table line of a result; repeated rows add the three runs and their spread. */
export function formatResult(r: KernelResult): string {
  let line = `${formatRow(r)}${r.rep ? ` rep ${r.rep}` : ''}`;
  if (r.runs) line += ` runs ${r.runs.map((x) => (x * 1000).toFixed(1)).join('/')} us spread ${((r.spread ?? 0) * 100).toFixed(1)}%`;
  return line;
}

/** Wraps a case so that (in the fixed-rep path) repeated families are timed three times; ms = median. */
async function runCasesRepeated(ctx: GpuContext, cases: BenchCase[], copyGbps: number, opts: TimeOptions, rep: number, log: (r: KernelResult) => void): Promise<KernelResult[]> {
  const out: KernelResult[] = [];
  for (const c of cases) {
    const n = isRepeated(c.kernel) ? REPEATS : 1;
    const got: BenchResult[] = [];
    for (let k = 0; k < n; k++) got.push(...(await runCases(ctx, [repeated(c, rep)], copyGbps, opts)));
    for (const g of got) g.ms /= rep;
    const ok = got.filter((g) => !g.skipped);
    let r: KernelResult;
    if (!ok.length) r = got[0];
    else {
      const runs = ok.map((g) => g.ms);
      const ms = median(runs);
      const mid = ok.find((g) => g.ms === ms) ?? ok[0];
      const scale = mid.ms / ms;
      r = { ...mid, ms, gbps: mid.gbps * scale, gflops: mid.gflops * scale, mtoks: mid.mtoks !== null ? mid.mtoks * scale : null, vsCopy: mid.vsCopy * scale };
      if (n > 1) {
        r.runs = runs;
        r.spread = (Math.max(...runs) - Math.min(...runs)) / ms;
      }
    }
    out.push(r);
    log(r);
  }
  return out;
}

export async function runKernelBench(args: CliArgs, log: (s: string) => void = console.log): Promise<{ copyGbps: number; results: KernelResult[] }> {
  if (!args.quick && typeof process !== 'undefined' && process.env.WEBGPU_DAWN_OPTIONS === undefined) {
    process.env.WEBGPU_DAWN_OPTIONS = 'disable-dawn-features=timestamp_quantization';
  }
  log(`dawn options: ${process.env.WEBGPU_DAWN_OPTIONS ?? '(none)'}`);
  const acquired = await acquireNodeDevice();
  const ctx = new GpuContext(acquired);
  try {
    const info = acquired.adapterInfo;
    log(`device: ${[info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' / ') || 'unknown'}`);
    log(`timestamp-query: ${ctx.has('timestamp-query') ? 'yes' : 'no'}; maxStorageBufferBindingSize ${ctx.limits.maxStorageBufferBindingSize}; mode ${args.quick ? 'quick' : 'full'}`);
    const opts: TimeOptions = args.quick ? { warmup: 1, iters: args.iters ?? 3 } : { warmup: 3, iters: args.iters ?? 20 };
    const auto = !args.quick && args.rep === undefined;
    const rep = Math.max(1, Math.floor(args.rep ?? (args.quick ? 1 : 20)));
    log(auto
      ? `timing: median of up to ${opts.iters} passes; calls per pass chosen per case (column rep in the JSON); times are per call`
      : `timing: median of ${opts.iters} passes of ${rep} call(s) each; times are per call`);
    if (!args.quick) log(`warm-up: ${(await warmUpGpu(ctx, 2000)).toFixed(0)} GB/s copy in the last batch`);
    const copy = await measureCopy(ctx, args.quick, opts, rep);
    const results: KernelResult[] = [...copy.rows];
    for (const r of copy.rows) log(formatRow(r));
    log(`copy ceiling: ${copy.gbps.toFixed(1)} GB/s`);
    for (const src of caseSources(args.quick)) {
      let cases: BenchCase[];
      try {
        cases = await src.load();
      } catch (e) {
        log(`-- ${src.name}: skipped (${(e as Error).message.split('\n')[0]})`);
        continue;
      }
      if (args.filter) {
        const any = args.filter.split(',');
        cases = cases.filter((c) => any.some((f) => `${c.kernel} ${c.shape}`.includes(f)));
      }
      if (!cases.length) continue;
      log(`-- ${src.name}`);
      if (auto) {
        results.push(...(await runCasesAuto(ctx, cases, copy.gbps, opts, (r) => log(formatResult(r)))));
        continue;
      }
      results.push(...(await runCasesRepeated(ctx, cases, copy.gbps, opts, rep, (r) => log(formatResult(r)))));
    }
    return { copyGbps: copy.gbps, results };
  } finally {
    ctx.destroy();
  }
}

/** --explore scan: the exploration bench (see ./explore-scan.ts). */
async function runExplore(args: CliArgs, log: (s: string) => void): Promise<ExploreRow[]> {
  if (args.explore !== 'scan') throw new Error(`--explore ${args.explore}: only 'scan' is available`);
  if (!args.quick && process.env.WEBGPU_DAWN_OPTIONS === undefined) process.env.WEBGPU_DAWN_OPTIONS = 'disable-dawn-features=timestamp_quantization';
  log(`dawn options: ${process.env.WEBGPU_DAWN_OPTIONS ?? '(none)'}`);
  const acquired = await acquireNodeDevice();
  const ctx = new GpuContext(acquired);
  try {
    const info = acquired.adapterInfo;
    log(`device: ${[info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' / ') || 'unknown'}`);
    if (!args.quick) log(`warm-up: ${(await warmUpGpu(ctx, 2000)).toFixed(0)} GB/s copy in the last batch`);
    const copy = await measureCopy(ctx, args.quick, { warmup: 2, iters: args.quick ? 3 : 10 }, args.quick ? 1 : 10);
    log(`copy ceiling: ${copy.gbps.toFixed(1)} GB/s`);
    const L = args.lengths ?? (args.quick ? [64, 256, 1024] : [512, 1024, 2048, 4096, 8192, 16384, 32768, 65536, 131072]);
    const save = (rows: ExploreRow[]) => {
      if (args.json) writeFileSync(args.json, JSON.stringify({ explore: args.explore, quick: args.quick, dawnOptions: process.env.WEBGPU_DAWN_OPTIONS ?? '', copyGbps: copy.gbps, rows }, null, 2));
      if (args.csv) writeFileSync(args.csv, exploreCsv(rows));
    };
    const rows = await exploreScan(ctx, { L, D: args.quick ? 96 : 1536, N: 16, targetMs: args.quick ? 5 : 15, filter: args.filter, log, onProgress: save });
    summarizeExplore(rows, log);
    log(`copy ceiling ${copy.gbps.toFixed(1)} GB/s; scan floor at copy speed ~${((16 * 1536) / (copy.gbps * 1e3)).toFixed(3)} us/token (16 B per channel-token, D=1536)`);
    return rows;
  } finally {
    ctx.destroy();
  }
}

function toCsv(results: KernelResult[]): string {
  const head = 'kernel,shape,ms,method,gbps,gflops,mtoks,vs_copy,rep,run1_ms,run2_ms,run3_ms,spread,skipped';
  const q = (s: string) => `"${s.replace(/"/g, '""')}"`;
  const rows = results.map((r) => [q(r.kernel), q(r.shape), r.ms, r.method, r.gbps, r.gflops, r.mtoks ?? '', r.vsCopy, r.rep ?? '', r.runs?.[0] ?? '', r.runs?.[1] ?? '', r.runs?.[2] ?? '', r.spread ?? '', q(r.skipped ?? '')].join(','));
  return [head, ...rows].join('\n') + '\n';
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const t0 = Date.now();
  if (args.explore) {
    await runExplore(args, console.log);
    console.log(`done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    process.exit(0);
  }
  const { copyGbps, results } = await runKernelBench(args);
  console.log(`done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  if (args.json) writeFileSync(args.json, JSON.stringify({ quick: args.quick, rep: args.rep ?? (args.quick ? 1 : 'auto'), dawnOptions: process.env.WEBGPU_DAWN_OPTIONS ?? '', copyGbps, results }, null, 2));
  if (args.csv) writeFileSync(args.csv, toCsv(results));
  process.exit(0);
}

const isMain = !!process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href;
if (isMain) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
