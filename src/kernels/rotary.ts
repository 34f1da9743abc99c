/**
 * GPT-NeoX partial rotary + KV-cache append (shaders/rotary_kv_write.wgsl).
 *
 * Reads qkv [L, H, 3, hd] (the fused query_key_value output of L tokens at positions pos0..pos0+L-1), rotates the
 * first rot dims of q and k (rotate_half), and writes rotated k / raw v into kCache / vCache [H, maxLen, hd] at
 * rows pos0..pos0+L-1. Rotated q goes either
 *   - to a separate buffer (default layout [H, L, hd]; any (offset, rowStride, headStride) in elements), or
 *   - back into qkv in place (args.qOut omitted): the attention kernels then read q from qkv with
 *     fusedQkvLayout(H, hd) (src/kernels/attention_common.ts).
 * Oracle: src/reference/rotary.ts.
 */
import type { GpuContext } from '../gpu/context';
import { ComputeKernel } from '../gpu/kernel';
import { rotaryDims } from '../math/rotary';
import { checkBuffer, headsMajorLayout, type QLayout } from './attention_common';

export { rotaryDims };

export interface RotaryConfig {
  H: number;
  hd: number;
  /** Rotated dims per head (even). Give this or rotaryPct. */
  rot?: number;
  /** transformers' rotary_pct (0.25 for Pythia): rot = floor(hd * rotaryPct). */
  rotaryPct?: number;
  /** rotary_emb_base / rope_theta (10000 for Pythia). */
  base: number;
  /** Default cache rows per head when a call does not pass maxLen. */
  maxLen?: number;
}

export interface RotaryArgs {
  /** Fused qkv [L, H, 3, hd]; with qkvOffset / qkvRowStride (elements) for a view into a larger buffer. */
  qkv: GPUBuffer;
  qkvOffset?: number;
  qkvRowStride?: number;
  /** Rotated q destination; omit to rotate q in place inside qkv. */
  qOut?: GPUBuffer;
  /** Layout of qOut (default [H, L, hd]). */
  qLayout?: QLayout;
  kCache: GPUBuffer;
  vCache: GPUBuffer;
  L: number;
  pos0: number;
  /** Cache rows per head (the caches are [H, maxLen, hd]); default cfg.maxLen. */
  maxLen?: number;
}

export class RotaryKvKernel {
  private readonly separate: ComputeKernel;
  private readonly inPlace: ComputeKernel;
  private dummy: GPUBuffer | null = null;
  readonly rot: number;

  constructor(private readonly ctx: GpuContext, readonly cfg: RotaryConfig) {
    this.rot = cfg.rot ?? rotaryDims(cfg.hd, cfg.rotaryPct ?? 1);
    if (this.rot % 2 !== 0 || this.rot < 0 || this.rot > cfg.hd) throw new Error(`rotary: rot ${this.rot} must be even and within 0..hd (${cfg.hd})`);
    this.separate = new ComputeKernel(ctx, 'rotary_kv_write', { consts: { Q_IN_PLACE: false } });
    this.inPlace = new ComputeKernel(ctx, 'rotary_kv_write', { consts: { Q_IN_PLACE: true } });
  }

  /** Positional form: qkv [L, H, 3, hd] -> qOut [H, L, hd] (or in place when qOut is null), caches rows pos0... */
  encode(pass: GPUComputePassEncoder, qkv: GPUBuffer, qOut: GPUBuffer | null, kCache: GPUBuffer, vCache: GPUBuffer, L: number, pos0: number, maxLen?: number): void {
    this.encodeArgs(pass, { qkv, qOut: qOut ?? undefined, kCache, vCache, L, pos0, maxLen });
  }

  encodeArgs(pass: GPUComputePassEncoder, a: RotaryArgs): void {
    const { H, hd, base } = this.cfg;
    const { L, pos0 } = a;
    const maxLen = a.maxLen ?? this.cfg.maxLen;
    if (maxLen === undefined) throw new Error('rotary: maxLen (cache rows per head) not given');
    if (!(L >= 1) || !Number.isInteger(L)) throw new Error(`rotary: L = ${L} must be a positive integer`);
    if (!(pos0 >= 0) || !Number.isInteger(pos0)) throw new Error(`rotary: pos0 = ${pos0} must be a non-negative integer`);
    if (pos0 + L > maxLen) throw new Error(`rotary: pos0 + L = ${pos0 + L} exceeds the KV cache length maxLen = ${maxLen}`);
    const qkvOffset = a.qkvOffset ?? 0;
    const qkvRowStride = a.qkvRowStride ?? 3 * H * hd;
    if (qkvRowStride < 3 * H * hd) throw new Error(`rotary: qkvRowStride ${qkvRowStride} < 3*H*hd = ${3 * H * hd}`);
    checkBuffer('rotary', 'qkv', a.qkv, qkvOffset + (L - 1) * qkvRowStride + 3 * H * hd);
    checkBuffer('rotary', 'kCache', a.kCache, H * maxLen * hd);
    checkBuffer('rotary', 'vCache', a.vCache, H * maxLen * hd);
    const ql = a.qLayout ?? headsMajorLayout(L, hd);
    let qOut = a.qOut;
    if (qOut) {
      checkBuffer('rotary', 'qOut', qOut, ql.offset + (L - 1) * ql.rowStride + (H - 1) * ql.headStride + hd);
    } else {
      qOut = this.dummy ??= this.ctx.buffer(16, 'scratch', 'rotary.dummy');
    }
    const per = hd - this.rot / 2;
    const total = L * H * per;
    const groups = Math.ceil(total / 256);
    const gx = Math.min(groups, 4096);
    const gy = Math.min(Math.ceil(groups / gx), this.ctx.limits.maxComputeWorkgroupsPerDimension);
    const u = {
      L, H, hd, rot: this.rot, pos0, maxLen, stride: gx * gy * 256, qkvOffset, qkvRowStride, qOffset: ql.offset,
      qRowStride: ql.rowStride, qHeadStride: ql.headStride, log2base: Math.log2(base),
    };
    (a.qOut ? this.separate : this.inPlace).dispatch(pass, u, [a.qkv, qOut, a.kCache, a.vCache], [gx, gy]);
  }

  destroy(): void {
    this.ctx.pool.release(this.dummy);
    this.dummy = null;
  }
}
