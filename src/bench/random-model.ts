/**
 * A model with random weights in a config's real shapes, through the loader's path (WeightStore) as if streamed from a
 * checkpoint: F32 bytes for f32 runs, F16 bytes (kept packed as the loader keeps f16 checkpoints) for f16 runs. The
 * bench (./bench-cli.ts) and the roofline tests use it.
 */
import type { GpuContext } from '../gpu/context';
import type { ModelConfig } from '../hub/config';
import type { CausalLM } from '../models/base';
import { GptNeoxModel, gptNeoxTensorSpecs } from '../models/gptneox';
import type { KernelOps } from '../models/kernel-ops';
import { MambaModel, mambaTensorSpecs } from '../models/mamba';
import { Mamba2Model, mamba2TensorSpecs } from '../models/mamba2';
import { WeightStore } from '../models/weights';

export function randomModel(ctx: GpuContext, ops: KernelOps, cfg: ModelConfig, name: string, dtype: 'f32' | 'f16'): CausalLM & { config: ModelConfig } {
  const specs = cfg.arch === 'mamba' ? mambaTensorSpecs(cfg) : cfg.arch === 'mamba2' ? mamba2TensorSpecs(cfg) : gptNeoxTensorSpecs(cfg);
  const store = new WeightStore(ctx, specs, { matrixDType: dtype });
  let seed = 12345;
  const next = () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0);
  for (const s of specs) {
    if (s.optional) continue;
    const n = s.shape.reduce((a, b) => a * b, 1);
    const special = s.name.endsWith('A_log') || s.name.includes('norm') || s.name.endsWith('.D') || s.name.endsWith('dt_proj.bias') || s.name.endsWith('dt_bias');
    if (dtype === 'f16' && s.kind === 'matrix') {
      // f16 bits of ±(0.5 .. 1) · 2^-5 straight away: no f32 → f16 conversion of hundreds of millions of values
      const h = new Uint16Array(n);
      for (let i = 0; i < n; i++) h[i] = ((next() >>> 16) & 0x83ff) | 0x2800;
      store.accept(s.name, 'F16', s.shape, new Uint8Array(h.buffer));
      continue;
    }
    const data = new Float32Array(n);
    if (!special) for (let i = 0; i < n; i++) data[i] = (next() / 4294967296 - 0.5) * 0.04;
    if (s.name.endsWith('A_log')) { const N = s.shape[1] ?? 16; for (let i = 0; i < n; i++) data[i] = Math.log(1 + (i % N)); }
    if (s.name.includes('norm') && s.name.endsWith('weight')) data.fill(1);
    if (s.name.endsWith('.D')) data.fill(1);
    if (s.name.endsWith('dt_proj.bias') || s.name.endsWith('dt_bias')) data.fill(-4);
    store.accept(s.name, 'F32', s.shape, new Uint8Array(data.buffer));
  }
  store.finish();
  if (cfg.arch === 'mamba') return new MambaModel(ctx, ops, store, cfg, name);
  if (cfg.arch === 'mamba2') return new Mamba2Model(ctx, ops, store, cfg, name);
  return new GptNeoxModel(ctx, ops, store, cfg, name);
}
