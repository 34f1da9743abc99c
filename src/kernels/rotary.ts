/**
 * GPT-NeoX partial rotary + KV-cache append (shaders/rotary_kv_write.wgsl).
 *
 * Reads qkv [L, H, 3, hd] (the fused query_key_value output of L tokens at positions pos0..pos0+L-1), rotates the
 * first rot = floor(hd * rotary_pct) dims of q and k (rotate_half), writes rotated q to a separate buffer
 * qOut [H, L, hd] (not in place), and writes rotated k / raw v into kCache / vCache [H, maxLen, hd] at rows
 * pos0..pos0+L-1. Oracle: src/reference/rotary.ts.
 */
import type { GpuContext } from '../gpu/context';
import { ComputeKernel, packUniforms } from '../gpu/kernel';
import { rotaryDims } from '../reference/rotary';

export { rotaryDims };

export interface RotaryConfig {
  H: number;
  hd: number;
  /** transformers' rotary_pct (0.25 for Pythia). */
  rotaryPct: number;
  /** rotary_emb_base (10000 for Pythia). */
  base: number;
  maxLen: number;
}

export class RotaryKvKernel {
  private readonly k: ComputeKernel;
  readonly rot: number;

  constructor(private readonly ctx: GpuContext, readonly cfg: RotaryConfig) {
    this.rot = rotaryDims(cfg.hd, cfg.rotaryPct);
    if (this.rot > cfg.hd || this.rot < 0) throw new Error(`rotary: rot ${this.rot} out of range for hd ${cfg.hd}`);
    this.k = new ComputeKernel(ctx, 'rotary_kv_write');
  }

  /**
   * qkv [L, H, 3, hd] -> qOut [H, L, hd], kCache/vCache [H, maxLen, hd] rows pos0..pos0+L-1.
   */
  encode(pass: GPUComputePassEncoder, qkv: GPUBuffer, qOut: GPUBuffer, kCache: GPUBuffer, vCache: GPUBuffer, L: number, pos0: number): void {
    const { H, hd, maxLen, base } = this.cfg;
    if (!(L >= 1) || !Number.isInteger(L)) throw new Error(`rotary: L = ${L} must be a positive integer`);
    if (!(pos0 >= 0) || !Number.isInteger(pos0)) throw new Error(`rotary: pos0 = ${pos0} must be a non-negative integer`);
    if (pos0 + L > maxLen) throw new Error(`rotary: pos0 + L = ${pos0 + L} exceeds the KV cache length maxLen = ${maxLen}`);
    const need = (name: string, b: GPUBuffer, floats: number) => {
      if (b.size < floats * 4) throw new Error(`rotary: ${name} has ${b.size} bytes, needs ${floats * 4}`);
    };
    need('qkv', qkv, L * 3 * H * hd);
    need('qOut', qOut, H * L * hd);
    need('kCache', kCache, H * maxLen * hd);
    need('vCache', vCache, H * maxLen * hd);
    const total = L * H * hd;
    const groups = Math.ceil(total / 256);
    const gx = Math.min(groups, 4096);
    const gy = Math.min(Math.ceil(groups / gx), this.ctx.limits.maxComputeWorkgroupsPerDimension);
    const u = packUniforms([
      ['u32', L], ['u32', H], ['u32', hd], ['u32', this.rot],
      ['u32', pos0], ['u32', maxLen], ['u32', gx * gy * 256], ['f32', Math.log2(base)],
    ]);
    this.k.dispatch(pass, u, [qkv, qOut, kCache, vCache], [gx, gy]);
  }
}
