/**
 * `npm run bench [-- --quick] [--json FILE] [--csv FILE] [--pairs 130m,370m] [--contexts 256,1024,...]
 *   [--contexts-large 1024,8192] [--dtype f32,f16] [--decode N] [--steps-per-submit N]
 *   [--prefill-chunk N] [--scan fused|unfused|sequential] [--attention flash|reference]`
 *
 * Whole models with random weights in the real shapes (mamba-130m-hf vs pythia-160m, mamba-370m-hf vs pythia-410m;
 * --pairs mamba2-130m: Mamba-2 at mamba2-130m's shapes alone, at the --contexts lengths; mamba2-tiny with --quick),
 * through the same loader path (WeightStore), kernels and decode path as the page. At each context length:
 *   prefill of the context and its time, in passes sized as the page sizes them (CausalLM.passRows: the whole
 *     context per layer where the activations fit 512 MiB and the device's bindings; columns passes, passTokens),
 *     or in fixed passes of --prefill-chunk N tokens (1024: the page's prefill before issue 20);
 *   decode continuing from it: greedy on the GPU, `--steps-per-submit` steps per submit, the next batch submitted
 *     before the previous one is read back (as generate() does): tokens/s (wall clock), GPU time per token
 *     (timestamp queries on every decode pass), CPU time per token spent encoding and submitting, dispatches per
 *     token, and the bandwidth floor: weight bytes / the copy kernel's GB/s measured in the same run (the tok/s a
 *     decode that only streams its weights once would reach);
 *   GPU memory (weights, KV cache vs SSM state, activations);
 *   the roofline of the prefill and of one decode step (src/roofline/, the rates from src/roofline/calibrate.ts measured
 *     at the start): dispatches, bytes moved, FLOPs, the bandwidth / compute / dispatch floors, the bound (the largest
 *     floor), the measured time (GPU time from timestamps, else wall) and the gap (measured / bound): the columns the
 *     page shows for the same work.
 * `--dtype f32,f16` runs every model with f32 and with f16 matrices (default f32). --contexts applies to the 130m
 * pair, --contexts-large to the 370m pair. Before the models: the encode microbench (our JS per dispatch, measured by
 * replaying the recorded decode step into a pass whose methods do nothing, vs the same replay into a real Dawn pass).
 * (The recorded step skips setPipeline / setBindGroup when they repeat. The one-pipeline-per-layer decode that
 * `--layers on` used to select was removed; its run is docs/benchmarks/models-layers-on.json.)
 * --quick: tiny shapes for SwiftShader. Set WEBGPU_DAWN_OPTIONS=disable-dawn-features=timestamp_quantization for
 * unquantised timestamps.
 */
import { writeFileSync } from 'node:fs';
import { GpuContext } from '../gpu/context';
import { acquireNodeDevice } from '../gpu/node';
import { PassTimer, timeGpu } from '../gpu/timing';
import { parseConfig, type ModelConfig } from '../hub/config';
import { KernelOps } from '../models/kernel-ops';
import type { CausalLM } from '../models/base';
import { parseKernelChoice } from '../models/kernel-choice';
import { calibrate, type Calibration } from '../roofline/calibrate';
import { measuredRooflines, PhaseMeter, type MeasuredRooflines } from '../roofline/meter';
import { randomModel } from './random-model';
import { ROOFLINE_HEADER, rooflineColumns, rooflineLines, type RooflineColumns } from './roofline-columns';
import { CopyKernel } from '../kernels/copy';
import mamba130m from '../../tests/hub/configs/state-spaces__mamba-130m-hf.json';
import mamba370m from '../../tests/hub/configs/state-spaces__mamba-370m-hf.json';
import pythia160m from '../../tests/hub/configs/EleutherAI__pythia-160m.json';
import pythia410m from '../../tests/hub/configs/EleutherAI__pythia-410m.json';

const now = () => performance.now();
type DType = 'f32' | 'f16';

interface Row {
  model: string; arch: string; dtype: DType; context: number;
  prefillMs: number; prefillTokPerS: number;
  decodeTokPerS: number; decodeMsPerToken: number; gpuMsPerToken: number; cpuMsPerToken: number; submitMsPerToken: number; dispatchesPerToken: number;
  floorTokPerS: number; weightsMiB: number; kvCacheMiB: number; ssmStateMiB: number; activationsMiB: number;
  /** Prefill passes and the tokens of the longest. */
  passes: number; passTokens: number;
  error?: string;
}

/** A row with its roofline: flat columns (CSV) and the full rooflines (JSON). */
type RoofRow = Row & Partial<RooflineColumns> & { roofline?: MeasuredRooflines | null };

/** The vec4 copy kernel's bandwidth (read + write) in GB/s, best of two sizes (as kernels-cli measures it). */
async function copyGbps(ctx: GpuContext, quick: boolean): Promise<number> {
  const maxFloats = Math.floor(Math.min(ctx.limits.maxStorageBufferBindingSize, 256 << 20) / 16) * 4;
  const k = new CopyKernel(ctx);
  let best = 0;
  for (const n of (quick ? [1 << 16, 1 << 20] : [1 << 24, 1 << 26]).filter((x) => x <= maxFloats)) {
    const src = ctx.buffer(n * 4, 'scratch', 'copy.src'), dst = ctx.buffer(n * 4, 'scratch', 'copy.dst');
    const t = await timeGpu(ctx, (pass) => k.encode(pass, src, dst, n));
    best = Math.max(best, (8 * n) / (t.ms / 1e3) / 1e9);
    ctx.pool.release(src);
    ctx.pool.release(dst);
  }
  return best;
}

interface DecodeMeasure { tokPerS: number; gpuMsPerToken: number; cpuMsPerToken: number; submitMsPerToken: number; dispatchesPerToken: number }

/** Greedy decode of `n` tokens after the current state, batches pipelined two deep (as generate() does). */
async function decodeRun(model: CausalLM, timer: PassTimer, last: number, n: number): Promise<DecodeMeasure> {
  const k = model.stepsPerSubmit;
  // warm-up: the first recording of the step, then ~50 ms of decode so that the GPU clocks are up again after the
  // prefill / CPU-only gaps (the H200 run's first row per model was ~40% slower in GPU time with one warm-up batch)
  await model.decodeBatch(last, k);
  for (let t0 = now(); now() - t0 < 50; ) await model.decodeBatch(-1, k);
  await timer.read();
  model.resetDecodeStats();
  const t0 = now();
  const inflight: Promise<Uint32Array>[] = [];
  for (let done = 0; done < n; done += k) {
    inflight.push(model.decodeBatch(-1, Math.min(k, n - done)));
    if (inflight.length >= 2) await inflight.shift();
  }
  await Promise.all(inflight);
  const wall = now() - t0;
  const gpu = await timer.read();
  const st = model.decodeStats;
  return {
    tokPerS: st.tokens / (wall / 1e3),
    gpuMsPerToken: gpu.length ? gpu.reduce((a, b) => a + b, 0) / st.tokens : NaN,
    cpuMsPerToken: st.encodeMs / st.tokens,
    submitMsPerToken: st.submitMs / st.tokens,
    dispatchesPerToken: st.dispatches / st.tokens,
  };
}

async function measure(ctx: GpuContext, model: CausalLM & { config: ModelConfig }, timer: PassTimer, context: number, decodeTokens: number, dtype: DType, copyGbps: number, cal: Calibration): Promise<RoofRow> {
  const V = model.vocabSize;
  const ids = Array.from({ length: context }, (_, i) => (i * 7919) % Math.min(V, 50000));
  const mib = (b: number) => b / 2 ** 20;
  model.reset();
  await model.prefill(ids.slice(0, 16)); // warm pipelines for this shape family
  model.reset();
  // the prefill's passes and dispatches counted, its passes timed (timestamps) for the roofline
  const meter = new PhaseMeter(model, cal);
  meter.start();
  const t0 = now();
  await model.prefill(ids.slice(0, context - 1));
  await ctx.finish();
  const prefillMs = now() - t0;
  const pre = await meter.stop();
  meter.destroy();
  const pf = model.lastPrefill;
  const d = await decodeRun(model, timer, ids[context - 1], decodeTokens);
  const m = model.memory();
  m.activations = Math.max(m.activations, pf?.activationBytes ?? 0); // what the prefill held (released after a long one)
  const decode = { tokens: 1, passes: 1, dispatches: d.dispatchesPerToken, gpuMs: Number.isFinite(d.gpuMsPerToken) ? d.gpuMsPerToken : null };
  const roofline = measuredRooflines(model, { prefill: pre.prefill, decode }, { prefillMs, decodeMsPerToken: 1e3 / d.tokPerS, decodeContext: context + decodeTokens / 2 }, cal);
  return {
    model: model.name, arch: model.arch, dtype, context, prefillMs, prefillTokPerS: (context - 1) / (prefillMs / 1e3),
    decodeTokPerS: d.tokPerS, decodeMsPerToken: 1e3 / d.tokPerS, gpuMsPerToken: d.gpuMsPerToken, cpuMsPerToken: d.cpuMsPerToken,
    submitMsPerToken: d.submitMsPerToken,
    dispatchesPerToken: d.dispatchesPerToken, floorTokPerS: (copyGbps * 1e9) / m.weights,
    weightsMiB: mib(m.weights), kvCacheMiB: mib(m.kvCache), ssmStateMiB: mib(m.ssmState), activationsMiB: mib(m.activations),
    passes: pf?.passes ?? 0, passTokens: pf?.passTokens ?? 0,
    ...rooflineColumns(roofline), roofline,
  };
}

export interface EncodeBench { model: string; dispatchesPerStep: number; dawnCallsPerStep: number; jsUsPerDispatch: number; dawnUsPerDispatch: number; batchUsPerDispatch: number; submitUsPerDispatch: number }

/**
 * Our JS per dispatch: the recorded step replayed `steps` times into a pass whose methods do nothing (only our
 * loop), vs into a real compute pass (our loop + Dawn's setPipeline / setBindGroup / dispatchWorkgroups), and the
 * whole decodeBatch (encoder, state upload, submit, readback copy) per dispatch.
 */
export async function encodeBench(ctx: GpuContext, model: CausalLM, steps = 200): Promise<EncodeBench> {
  model.reset();
  await model.decodeBatch(1, 4);
  const list = model.decodeList!;
  let calls = 0;
  const count = { setPipeline: () => void calls++, setBindGroup: () => void calls++, dispatchWorkgroups: () => void calls++ } as unknown as GPUComputePassEncoder;
  list.replay(count, 0);
  const dawnCallsPerStep = calls;
  const nop = () => {};
  const mock = { setPipeline: nop, setBindGroup: nop, dispatchWorkgroups: nop } as unknown as GPUComputePassEncoder;
  const time = (pass: GPUComputePassEncoder) => {
    const t0 = now();
    for (let i = 0; i < steps; i++) list.replay(pass, i);
    return ((now() - t0) * 1e3) / (steps * list.length);
  };
  const best = (f: () => number) => Math.min(...Array.from({ length: 5 }, f));
  const js = best(() => time(mock));
  const dawn = best(() => {
    const enc = ctx.device.createCommandEncoder();
    const pass = enc.beginComputePass();
    const us = time(pass);
    pass.end();
    enc.finish(); // recorded, never submitted
    return us;
  });
  model.reset();
  await model.decodeBatch(1, 1);
  model.resetDecodeStats();
  for (let r = 0; r < 5; r++) await model.decodeBatch(-1, 16);
  const st = model.decodeStats;
  return {
    model: model.name, dispatchesPerStep: list.length, dawnCallsPerStep, jsUsPerDispatch: js, dawnUsPerDispatch: dawn,
    batchUsPerDispatch: (st.encodeMs * 1e3) / st.dispatches, submitUsPerDispatch: (st.submitMs * 1e3) / st.dispatches,
  };
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const flag = (k: string) => { const i = argv.indexOf(k); return i >= 0 ? argv[i + 1] : undefined; };
  const quick = argv.includes('--quick');
  const pairs = (flag('--pairs') ?? (quick ? 'tiny' : '130m,370m')).split(',');
  const contexts = (flag('--contexts') ?? (quick ? '64,256' : '256,1024,4096,16384,32768')).split(',').map(Number);
  const contextsLarge = (flag('--contexts-large') ?? (quick ? '64' : '1024,8192')).split(',').map(Number);
  const dtypes = (flag('--dtype') ?? 'f32').split(',') as DType[];
  for (const d of dtypes) if (d !== 'f32' && d !== 'f16') throw new Error(`--dtype ${d}: f32 or f16`);
  const decodeTokens = Number(flag('--decode') ?? (quick ? 8 : 256));
  const stepsPerSubmit = Number(flag('--steps-per-submit') ?? (quick ? 4 : 16));
  const prefillChunk = flag('--prefill-chunk') === undefined ? null : Number(flag('--prefill-chunk'));
  if (prefillChunk !== null && !(Number.isInteger(prefillChunk) && prefillChunk > 0)) throw new Error(`--prefill-chunk ${flag('--prefill-chunk')}: a positive integer`);
  const kernels = parseKernelChoice({ scan: flag('--scan'), attention: flag('--attention') });
  const tStart = now();
  const ctx = new GpuContext(await acquireNodeDevice());
  const info = ctx.acquired.adapterInfo;
  console.log(`device: ${info.vendor} ${info.architecture} ${info.description}; features: ${[...ctx.features].join(', ')}; WEBGPU_DAWN_OPTIONS=${process.env.WEBGPU_DAWN_OPTIONS ?? ''}`);
  const copy = { gbps: await copyGbps(ctx, quick) };
  console.log(`copy kernel: ${copy.gbps.toFixed(1)} GB/s (read + write; the bandwidth floor below divides the weight bytes by it)`);
  const cal = await calibrate(ctx, { small: quick || ctx.cpuAdapter });
  console.log(`calibration (the roofline's rates): copy ${cal.copyGBps.toPrecision(3)} GB/s, one dependent dispatch ${cal.dispatchUs.toPrecision(3)} us, matmul ${cal.matmulGflops.toPrecision(3)} GFLOP/s; timestamps ${cal.timestamps.available ? `rounded to ${cal.timestamps.quantumUs?.toFixed(3) ?? '?'} us` : 'unavailable'}; timed by ${JSON.stringify(cal.timing)} in ${cal.ms.toFixed(0)} ms`);
  const tiny = {
    mamba: { model_type: 'mamba', hidden_size: 64, state_size: 16, num_hidden_layers: 2, expand: 2, conv_kernel: 4, vocab_size: 512, time_step_rank: 'auto', use_bias: false, use_conv_bias: true, layer_norm_epsilon: 1e-5, tie_word_embeddings: true },
    neox: { model_type: 'gpt_neox', hidden_size: 64, num_attention_heads: 4, num_hidden_layers: 2, intermediate_size: 256, rotary_pct: 0.25, rotary_emb_base: 10000, vocab_size: 512, max_position_embeddings: 2048, use_parallel_residual: true, layer_norm_eps: 1e-5, hidden_act: 'gelu', tie_word_embeddings: false },
  };
  // mamba2-130m's shapes (AntonV/mamba2-130m-hf); time_step_limit left at transformers' default (0, ∞)
  const mamba2 = (d: number, layers: number, heads: number, headDim: number, state: number, vocab: number) => ({
    model_type: 'mamba2', hidden_size: d, num_heads: heads, head_dim: headDim, expand: (heads * headDim) / d, n_groups: 1,
    state_size: state, num_hidden_layers: layers, conv_kernel: 4, chunk_size: 256, vocab_size: vocab, use_bias: false,
    use_conv_bias: true, layer_norm_epsilon: 1e-5, tie_word_embeddings: true, rms_norm: true,
  });
  const table: Record<string, [unknown, unknown, string, string, number[]]> = {
    tiny: [tiny.mamba, tiny.neox, 'tiny-mamba', 'tiny-pythia', contexts],
    'mamba2-tiny': [mamba2(64, 2, 8, 16, 32, 512), null, 'tiny-mamba2', '', contexts],
    'mamba2-130m': [mamba2(768, 24, 24, 64, 128, 50288), null, 'mamba2-130m', '', contexts],
    '130m': [mamba130m, pythia160m, 'mamba-130m', 'pythia-160m', contexts],
    '370m': [mamba370m, pythia410m, 'mamba-370m', 'pythia-410m', contextsLarge],
  };
  const ops = new KernelOps(ctx);
  const timer = new PassTimer(ctx, 1024);
  const rows: RoofRow[] = [];
  const encode: EncodeBench[] = [];
  const f = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '-');
  const header = 'model         dtype    ctx  prefill ms  prefill tok/s  decode tok/s  GPU ms/tok  encode ms/tok  submit ms/tok  disp/tok  floor tok/s  weights MiB   KV MiB  SSM MiB  passes x tokens';
  for (const dtype of dtypes) {
    for (const p of pairs) {
      const entry = table[p];
      if (!entry) throw new Error(`unknown pair ${p} (known: ${Object.keys(table).join(', ')})`);
      for (const [cfgJson, name] of ([[entry[0], entry[2]], [entry[1], entry[3]]] as const).filter(([c]) => c !== null)) {
        const t0 = now();
        const model = randomModel(ctx, ops, parseConfig(cfgJson), name, dtype);
        model.stepsPerSubmit = stepsPerSubmit;
        model.passTimer = timer;
        model.prefillChunk = prefillChunk;
        model.kernels = { ...kernels };
        const e = await encodeBench(ctx, model);
        encode.push(e);
        console.log(`\n${name} ${dtype}: loaded in ${((now() - t0) / 1e3).toFixed(1)} s; encode: ${e.dispatchesPerStep} dispatches and ${e.dawnCallsPerStep} Dawn pass calls per token; per dispatch: our JS ${f(e.jsUsPerDispatch, 3)} us, with the Dawn calls ${f(e.dawnUsPerDispatch, 2)} us, whole decodeBatch ${f(e.batchUsPerDispatch, 2)} us + submit ${f(e.submitUsPerDispatch, 2)} us`);
        console.log(header);
        console.log(ROOFLINE_HEADER);
        for (const c of entry[4]) {
          let r: RoofRow;
          try {
            r = await measure(ctx, model, timer, c, decodeTokens, dtype, copy.gbps, cal);
          } catch (err) {
            r = {
              model: name, arch: model.arch, dtype, context: c, prefillMs: NaN, prefillTokPerS: NaN, decodeTokPerS: NaN, decodeMsPerToken: NaN,
              gpuMsPerToken: NaN, cpuMsPerToken: NaN, submitMsPerToken: NaN, dispatchesPerToken: NaN, floorTokPerS: NaN, weightsMiB: NaN, kvCacheMiB: NaN,
              ssmStateMiB: NaN, activationsMiB: NaN, passes: NaN, passTokens: NaN, error: (err as Error).message,
            };
          }
          rows.push(r);
          console.log(`${name.padEnd(13)} ${dtype.padEnd(5)} ${String(c).padStart(6)} ${f(r.prefillMs).padStart(11)} ${f(r.prefillTokPerS, 0).padStart(14)} ${f(r.decodeTokPerS).padStart(13)} ${f(r.gpuMsPerToken, 3).padStart(11)} ${f(r.cpuMsPerToken, 3).padStart(14)} ${f(r.submitMsPerToken, 3).padStart(14)} ${f(r.dispatchesPerToken, 0).padStart(9)} ${f(r.floorTokPerS, 0).padStart(12)} ${f(r.weightsMiB).padStart(12)} ${f(r.kvCacheMiB, 1).padStart(8)} ${f(r.ssmStateMiB, 2).padStart(8)}  ${r.passes} x ${r.passTokens}${r.error ? '  ' + r.error : ''}`);
          if (!r.error) for (const line of rooflineLines(r.roofline ?? null)) console.log(line);
        }
        model.dispose();
        ctx.pool.trim();
      }
    }
  }
  console.log(`\ndone in ${((now() - tStart) / 1e3).toFixed(1)} s`);
  const json = flag('--json');
  if (json) writeFileSync(json, JSON.stringify({ device: info, dawnOptions: process.env.WEBGPU_DAWN_OPTIONS ?? '', copyGbps: copy.gbps, calibration: cal, stepsPerSubmit, decodeTokens, prefillChunk, kernels, encode, rows }, null, 1));
  const csv = flag('--csv');
  if (csv) {
    const keys = [...new Set(rows.flatMap((r) => Object.keys(r) as (keyof RoofRow)[]))].filter((k) => k !== 'roofline');
    writeFileSync(csv, [keys.join(','), ...rows.map((r) => keys.map((k) => r[k] ?? '').join(','))].join('\n') + '\n');
  }
  timer.destroy();
  ctx.destroy();
}

main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
