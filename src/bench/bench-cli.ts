/**
 * `npm run bench [-- --quick] [--json FILE] [--csv FILE] [--pairs 130m,370m] [--contexts 256,1024,...]`
 *
 * Whole models with random weights in the real shapes (mamba-130m-hf vs pythia-160m, mamba-370m-hf vs pythia-410m),
 * through the same loader path (WeightStore), kernels and generate() as the page. At each context length: prefill
 * time (the whole context, in chunks of 1024), decode tokens/s continuing from that context (GPU-side argmax,
 * `stepsPerSubmit` steps per submit, one readback per batch), and GPU memory (weights, KV cache vs SSM state,
 * activations). The figures are wall clock, awaited on the GPU. --quick: tiny shapes for SwiftShader.
 */
import { writeFileSync } from 'node:fs';
import { GpuContext } from '../gpu/context';
import { acquireNodeDevice } from '../gpu/node';
import { parseConfig, type ModelConfig } from '../hub/config';
import { GptNeoxModel, gptNeoxTensorSpecs } from '../models/gptneox';
import { KernelOps } from '../models/kernel-ops';
import { MambaModel, mambaTensorSpecs } from '../models/mamba';
import { WeightStore } from '../models/weights';
import type { CausalLM } from '../models/base';
import mamba130m from '../../tests/hub/configs/state-spaces__mamba-130m-hf.json';
import mamba370m from '../../tests/hub/configs/state-spaces__mamba-370m-hf.json';
import pythia160m from '../../tests/hub/configs/EleutherAI__pythia-160m.json';
import pythia410m from '../../tests/hub/configs/EleutherAI__pythia-410m.json';

const now = () => performance.now();

interface Row {
  model: string; arch: string; context: number;
  prefillMs: number; prefillTokPerS: number; decodeTokPerS: number; decodeMsPerToken: number;
  weightsMiB: number; kvCacheMiB: number; ssmStateMiB: number; activationsMiB: number; error?: string;
}

/** Random weights (uniform, small) through WeightStore, as if streamed from a checkpoint. */
function randomModel(ctx: GpuContext, ops: KernelOps, cfg: ModelConfig, name: string): CausalLM {
  const specs = cfg.arch === 'mamba' ? mambaTensorSpecs(cfg) : gptNeoxTensorSpecs(cfg);
  const store = new WeightStore(ctx, specs);
  let seed = 12345;
  for (const s of specs) {
    if (s.optional) continue;
    const n = s.shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    const scale = s.name.endsWith('A_log') ? 0 : s.name.includes('norm') || s.name.endsWith('.D') ? 0 : 0.04;
    for (let i = 0; i < n; i++) {
      seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
      data[i] = (seed / 4294967296 - 0.5) * scale;
    }
    if (s.name.endsWith('A_log')) { const N = s.shape[1]; for (let i = 0; i < n; i++) data[i] = Math.log(1 + (i % N)); }
    if (s.name.includes('norm') && s.name.endsWith('weight')) data.fill(1);
    if (s.name.endsWith('.D')) data.fill(1);
    if (s.name.endsWith('dt_proj.bias')) data.fill(-4);
    store.accept(s.name, 'F32', s.shape, new Uint8Array(data.buffer));
  }
  store.finish();
  return cfg.arch === 'mamba' ? new MambaModel(ctx, ops, store, cfg, name) : new GptNeoxModel(ctx, ops, store, cfg, name);
}

async function measure(ctx: GpuContext, model: CausalLM, context: number, decodeTokens: number): Promise<Row> {
  const V = model.vocabSize;
  const ids = Array.from({ length: context }, (_, i) => (i * 7919) % Math.min(V, 50000));
  const mib = (b: number) => b / 2 ** 20;
  model.reset();
  await model.prefill(ids.slice(0, 16)); // warm pipelines for this shape family
  model.reset();
  const t0 = now();
  await model.prefill(ids);
  await ctx.finish();
  const prefillMs = now() - t0;
  // decode continuing from the context: greedy on the GPU, stepsPerSubmit steps per submit
  model.reset();
  await model.prefill(ids.slice(0, context - 1));
  const out = await continueDecode(model, ids[context - 1], decodeTokens);
  const m = model.memory();
  return {
    model: model.name, arch: model.arch, context, prefillMs, prefillTokPerS: context / (prefillMs / 1e3),
    decodeTokPerS: out, decodeMsPerToken: 1e3 / out,
    weightsMiB: mib(m.weights), kvCacheMiB: mib(m.kvCache), ssmStateMiB: mib(m.ssmState), activationsMiB: mib(m.activations),
  };
}

/** Decodes `n` greedy tokens after the current state (first token fed = `last`); tokens/s after an 8-token warm-up. */
async function continueDecode(model: CausalLM, last: number, n: number): Promise<number> {
  await model.decodeBatch(last, 8);
  const t0 = now();
  for (let done = 0; done < n; done += model.stepsPerSubmit) await model.decodeBatch(-1, Math.min(model.stepsPerSubmit, n - done));
  return n / ((now() - t0) / 1e3);
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const flag = (k: string) => { const i = argv.indexOf(k); return i >= 0 ? argv[i + 1] : undefined; };
  const quick = argv.includes('--quick');
  const pairs = (flag('--pairs') ?? (quick ? 'tiny' : '130m,370m')).split(',');
  const contexts = (flag('--contexts') ?? (quick ? '64,256' : '256,1024,2048,4096,8192,16384,32768')).split(',').map(Number);
  const decodeTokens = Number(flag('--decode') ?? (quick ? 8 : 128));
  const ctx = new GpuContext(await acquireNodeDevice());
  const info = ctx.acquired.adapterInfo;
  console.log(`device: ${info.vendor} ${info.architecture} ${info.description}; features: ${[...ctx.features].join(', ')}`);
  const tiny = {
    mamba: { model_type: 'mamba', hidden_size: 64, state_size: 16, num_hidden_layers: 2, expand: 2, conv_kernel: 4, vocab_size: 512, time_step_rank: 'auto', use_bias: false, use_conv_bias: true, layer_norm_epsilon: 1e-5, tie_word_embeddings: true },
    neox: { model_type: 'gpt_neox', hidden_size: 64, num_attention_heads: 4, num_hidden_layers: 2, intermediate_size: 256, rotary_pct: 0.25, rotary_emb_base: 10000, vocab_size: 512, max_position_embeddings: 2048, use_parallel_residual: true, layer_norm_eps: 1e-5, hidden_act: 'gelu', tie_word_embeddings: false },
  };
  const table: Record<string, [unknown, unknown, string, string]> = {
    tiny: [tiny.mamba, tiny.neox, 'tiny-mamba', 'tiny-pythia'],
    '130m': [mamba130m, pythia160m, 'mamba-130m', 'pythia-160m'],
    '370m': [mamba370m, pythia410m, 'mamba-370m', 'pythia-410m'],
  };
  const ops = new KernelOps(ctx);
  const rows: Row[] = [];
  console.log('model         ctx    prefill ms   prefill tok/s  decode tok/s  weights MiB  KV MiB   SSM MiB  act MiB');
  for (const p of pairs) {
    const entry = table[p];
    if (!entry) throw new Error(`unknown pair ${p} (known: ${Object.keys(table).join(', ')})`);
    for (const [cfgJson, name] of [[entry[0], entry[2]], [entry[1], entry[3]]] as const) {
      const model = randomModel(ctx, ops, parseConfig(cfgJson), name);
      model.stepsPerSubmit = 16;
      for (const c of contexts) {
        let r: Row;
        try {
          r = await measure(ctx, model, c, decodeTokens);
        } catch (e) {
          r = { model: name, arch: model.arch, context: c, prefillMs: NaN, prefillTokPerS: NaN, decodeTokPerS: NaN, decodeMsPerToken: NaN, weightsMiB: NaN, kvCacheMiB: NaN, ssmStateMiB: NaN, activationsMiB: NaN, error: (e as Error).message };
        }
        rows.push(r);
        const f = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : '-');
        console.log(`${name.padEnd(13)} ${String(c).padStart(6)} ${f(r.prefillMs).padStart(12)} ${f(r.prefillTokPerS, 0).padStart(15)} ${f(r.decodeTokPerS).padStart(13)} ${f(r.weightsMiB).padStart(12)} ${f(r.kvCacheMiB, 2).padStart(7)} ${f(r.ssmStateMiB, 2).padStart(9)} ${f(r.activationsMiB).padStart(8)}${r.error ? '  ' + r.error : ''}`);
      }
      model.dispose();
      ctx.pool.trim();
    }
  }
  const json = flag('--json');
  if (json) writeFileSync(json, JSON.stringify({ device: info, rows }, null, 1));
  const csv = flag('--csv');
  if (csv) {
    const keys = Object.keys(rows[0]) as (keyof Row)[];
    writeFileSync(csv, [keys.join(','), ...rows.map((r) => keys.map((k) => r[k] ?? '').join(','))].join('\n') + '\n');
  }
  ctx.destroy();
}

main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
