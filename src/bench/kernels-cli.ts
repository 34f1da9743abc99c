/**
 * `npm run bench:kernels [-- --quick] [--json FILE] [--csv FILE] [--filter TEXT[,TEXT...]] [--iters N] [--rep N]`
 *
 * Acquires a Node WebGPU device (Dawn), measures the vec4 copy kernel's bandwidth (best of a few sizes: the ceiling
 * every other row is compared against), then runs every kernel family's bench cases — dense (cases-dense), scan and
 * conv1d (cases-scan), attention (cases-attention; families whose module is missing or fails to load are skipped
 * with a note) — and prints one table. --quick uses small shapes so the whole run finishes in a minute or two on
 * SwiftShader; the default uses the real model shapes and is meant for a GPU (WEBGPU_NATIVE=1).
 *
 * Each timed pass records `rep` calls of the kernel back to back (default 1 with --quick, 50 otherwise) and the
 * table shows time per call: some drivers quantise GPU timestamps (Dawn on an H100 here: 65.5 us steps), which
 * makes single short dispatches unmeasurable. Caveat: repeated calls find a small weight matrix in L2 (50 MB on an
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

interface CliArgs {
  quick: boolean;
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
    else if (s === '--help' || s === '-h') {
      console.log('usage: bench:kernels [--quick] [--json FILE] [--csv FILE] [--filter TEXT[,TEXT...]] [--iters N] [--rep N]');
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
        const m = await import('./cases-scan');
        const L = quick ? [64, 256] : [512, 2048, 8192];
        const D = quick ? 256 : 1536;
        const cases: BenchCase[] = m.scanBenchCases({ L, D, N: 16 });
        if (typeof m.conv1dBenchCases === 'function') cases.push(...m.conv1dBenchCases({ L, D, K: 4 }));
        return cases;
      },
    },
    {
      name: 'attention',
      load: async () => {
        const m = await import('./cases-attention');
        return quick
          ? m.attentionBenchCases({ L: [64, 128], H: 4, hd: 64, decodeLens: [64, 256] })
          : m.attentionBenchCases({ L: [512, 2048], H: 12, hd: 64 });
      },
    },
  ];
}

export async function runKernelBench(args: CliArgs, log: (s: string) => void = console.log): Promise<{ copyGbps: number; results: BenchResult[] }> {
  const acquired = await acquireNodeDevice();
  const ctx = new GpuContext(acquired);
  try {
    const info = acquired.adapterInfo;
    log(`device: ${[info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' / ') || 'unknown'}`);
    log(`timestamp-query: ${ctx.has('timestamp-query') ? 'yes' : 'no'}; maxStorageBufferBindingSize ${ctx.limits.maxStorageBufferBindingSize}; mode ${args.quick ? 'quick' : 'full'}`);
    const opts: TimeOptions = args.quick ? { warmup: 1, iters: args.iters ?? 3 } : { warmup: 3, iters: args.iters ?? 20 };
    const rep = Math.max(1, Math.floor(args.rep ?? (args.quick ? 1 : 50)));
    log(`timing: median of ${opts.iters} passes of ${rep} call(s) each; times are per call`);
    const copy = await measureCopy(ctx, args.quick, opts, rep);
    const results: BenchResult[] = [...copy.rows];
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
      const perCall = (r: BenchResult) => {
        r.ms /= rep;
        log(formatRow(r));
      };
      results.push(...(await runCases(ctx, cases.map((c) => repeated(c, rep)), copy.gbps, opts, perCall)));
    }
    return { copyGbps: copy.gbps, results };
  } finally {
    ctx.destroy();
  }
}

function toCsv(results: BenchResult[]): string {
  const head = 'kernel,shape,ms,method,gbps,gflops,mtoks,vs_copy,skipped';
  const q = (s: string) => `"${s.replace(/"/g, '""')}"`;
  const rows = results.map((r) => [q(r.kernel), q(r.shape), r.ms, r.method, r.gbps, r.gflops, r.mtoks ?? '', r.vsCopy, q(r.skipped ?? '')].join(','));
  return [head, ...rows].join('\n') + '\n';
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  const t0 = Date.now();
  const { copyGbps, results } = await runKernelBench(args);
  console.log(`done in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  if (args.json) writeFileSync(args.json, JSON.stringify({ quick: args.quick, rep: args.rep, copyGbps, results }, null, 2));
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
