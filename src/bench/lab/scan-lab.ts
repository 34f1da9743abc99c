/**
 * The scan kernel lab: two fused forms of the Mamba v1 selective scan that lost to the chunked three-pass default
 * (src/kernels/scan.ts) on every GPU measured (H200: docs/benchmarks.md, docs/scan-kernel-notes.md), kept here with
 * their tests (tests/bench/scan-lab.test.ts, against the same CPU oracle) so the kernels-cli and explore benches can
 * still time them. Same inputs and outputs as SelectiveScan (ScanIO); production code never imports this folder.
 *
 *  - OnePassScan (shaders/lab/selective_scan_onepass.wgsl, needs subgroups): each workgroup walks the sequence in
 *    chunks for a few channels, one subgroup per channel scanning each chunk in parallel over time and state, every
 *    exponential computed once. H200: 52.6 us at L = 512 vs 32.9 for the three passes, 11.6 ms vs 2.74 ms at 131k.
 *  - LocalScan (shaders/lab/selective_scan_chunk_local.wgsl): the chunked form in ONE dispatch for short L: a
 *    workgroup owns a few channels and all their chunks, and the combine is a scan over the chunks in workgroup memory
 *    (no chunk states in global memory, no dependent dispatches). Designed for L ≤ 1024; H200: 38.1 us at 512 vs
 *    32.9, 119.9 us at 2k vs 68.3; SwiftShader 3-10x slower than the three passes.
 */
import type { GpuContext } from '../../gpu/context';
import { ComputeKernel } from '../../gpu/kernel';
import { chunkLength } from '../../kernels/scan_plan';
import { initMode, resolveScan, type ScanIO } from '../../kernels/scan';

/** What the benches and tests need from a scan implementation. */
export interface ScanRunner {
  encode(pass: GPUComputePassEncoder, io: ScanIO): void;
  destroy(): void;
}

/** Tuning of the one-pass kernel (see shaders/lab/selective_scan_onepass.wgsl); every field has a default. */
export interface OnePassConfig {
  /** Channels per workgroup (one subgroup each); default 8. */
  wc?: number;
  /** Tokens per lane per chunk; default 16 (the chunk is S · subgroupSize / Q tokens). */
  s?: number;
  /** vec4s of state per lane (Q = N / (4·sv) lanes share a channel's state); default 1, raised until Q fits the
   *  smallest subgroup size. */
  sv?: number;
  /** Keep exp(Δ·A) in registers between the two walks (else recompute it); default true. */
  storeA?: boolean;
  /** Sum y over the Q state lanes with a transposing butterfly (each lane ends with S/Q items) instead of a full
   *  xor-reduction per item; used only when S is a multiple of Q. Default false. */
  ybf?: boolean;
  /** Tests only: take the in-kernel sequential fallback. */
  forceSlow?: boolean;
  /** Tests only: the in-kernel fallback poisons h_L with 1e30 (proves the subgroup path ran). */
  assertFast?: boolean;
}

/** Resolved one-pass plan: the kernel's consts and the workgroup size. */
export interface OnePassPlan {
  wc: number; s: number; sv: number; q: number; nv4: number; sgMax: number; tcMax: number; wgs: number;
  storeA: boolean; ybf: boolean; forceSlow: boolean; assertFast: boolean; pf1: number; pf2: number; smemBytes: number;
}

const nextPow2 = (x: number) => 2 ** Math.ceil(Math.log2(Math.max(1, x)));

/**
 * Sizes the one-pass kernel for a device: subgroup size range from the adapter (SGMAX bounds the chunk and the
 * workgroup = WC·SGMAX), S halved and then WC halved until the workgroup memory and invocation limits are met.
 * Returns the reason as a string when the device cannot run it.
 */
export function planOnePass(N: number, cfg: OnePassConfig, dev: { hasSubgroups: boolean; sgMin: number; sgMax: number; maxInvocations: number; maxWgStorage: number }): OnePassPlan | string {
  if (!dev.hasSubgroups) return 'no subgroups feature';
  let sv = cfg.sv ?? 1;
  if (![1, 2, 4, 8, 16].includes(sv)) return `sv = ${sv} must be 1, 2, 4, 8 or 16`;
  const nv = Math.ceil(N / 4);
  // Adapters that do not report a range: assume up to 64 (larger subgroups take the in-kernel sequential path).
  const sgMax = dev.sgMax > 0 ? dev.sgMax : 64;
  const sgMin = dev.sgMin > 0 ? Math.min(dev.sgMin, sgMax) : 4;
  // Q state lanes per channel must fit the smallest subgroup: more vec4s per lane when they do not.
  while (sv < 16 && nextPow2(Math.ceil(nv / sv)) > sgMin) sv *= 2;
  const q = nextPow2(Math.ceil(nv / sv));
  const nv4 = q * sv;
  if (q > sgMax) return `${q} state lanes per channel exceed the largest subgroup (${sgMax})`;
  const storeA = cfg.storeA ?? true;
  let s = cfg.s ?? 16;
  let wc = cfg.wc ?? 8;
  if (!Number.isInteger(s) || s < 1 || !Number.isInteger(wc) || wc < 1) return `s = ${s} and wc = ${wc} must be positive integers`;
  const bytes = (wc: number, s: number) => {
    const tc = (sgMax / q) * s;
    return 5 * wc * (tc + 1) * 4 + 2 * tc * nv4 * 16 + 2 * wc * 4 + 16;
  };
  while (wc > 1 && wc * sgMax > dev.maxInvocations) wc >>= 1;
  if (wc * sgMax > dev.maxInvocations) return `workgroup of ${sgMax} invocations exceeds ${dev.maxInvocations}`;
  while (s > 1 && bytes(wc, s) > dev.maxWgStorage) s >>= 1;
  while (wc > 1 && bytes(wc, s) > dev.maxWgStorage) wc >>= 1;
  if (bytes(wc, s) > dev.maxWgStorage) return `needs ${bytes(wc, s)} bytes of workgroup memory, device has ${dev.maxWgStorage}`;
  const tcMax = (sgMax / q) * s;
  const wgs = wc * sgMax;
  return {
    wc, s, sv, q, nv4, sgMax, tcMax, wgs, storeA, ybf: (cfg.ybf ?? false) && s % q === 0,
    forceSlow: cfg.forceSlow ?? false, assertFast: cfg.assertFast ?? false,
    pf1: Math.ceil((tcMax * wc) / wgs), pf2: Math.ceil((tcMax * 2 * nv4) / wgs), smemBytes: bytes(wc, s),
  };
}

function onePassConsts(N: number, p: OnePassPlan): Record<string, number | boolean> {
  return {
    NS: N, SV: p.sv, Q: p.q, NV4: p.nv4, S: p.s, WC: p.wc, WGS: p.wgs, SGMAX: p.sgMax, TCMAX: p.tcMax,
    SA: p.storeA ? p.s : 1, STORE_A: p.storeA, YBF: p.ybf, SY: p.ybf ? p.s : 1, LOGQ: Math.log2(p.q),
    FORCE_SLOW: p.forceSlow, ASSERT_FAST: p.assertFast, PF1: p.pf1, PF2: p.pf2,
  };
}

/** Plan of the one-dispatch short-L path (selective_scan_chunk_local) for one L. */
export interface LocalPlan {
  /** Tokens per chunk, chunks, chunks per workgroup (power of 2 ≥ nc), channels per workgroup, tokens per tile. */
  chunk: number; nc: number; nch: number; cw: number; tt: number;
  /** Invocations per workgroup (cw·nch), B elements per thread per tile, vec4s and bytes of workgroup memory. */
  wgs: number; bpt: number; smv: number; smemBytes: number;
}

/**
 * Sizes the one-dispatch short-L kernel: about `threads` threads (chunks × channels) as for the three passes, all
 * chunks of a channel in one workgroup of cw·nch ≤ maxInvocations (nch ≤ 64, a power of 2), tile halved until the
 * workgroup memory fits. Returns the reason as a string when it cannot run (then the three passes do).
 */
export function planLocal(L: number, D: number, N: number, o: { threads?: number; cw?: number; tile?: number }, lim: { maxInvocations: number; maxWgStorage: number }): LocalPlan | string {
  const nv = Math.ceil(N / 4);
  const cw = o.cw ?? 8;
  if (!Number.isInteger(cw) || cw < 1) return `localChannels = ${cw} must be a positive integer`;
  const tileMax = o.tile ?? 4;
  if (![1, 2, 4, 8, 16].includes(tileMax)) return `localTile = ${tileMax} must be 1, 2, 4, 8 or 16`;
  let nchMax = 1;
  while (nchMax < 64 && 2 * nchMax * cw <= lim.maxInvocations) nchMax *= 2;
  if (nchMax < 2) return `${cw} channels × 2 chunks exceed ${lim.maxInvocations} invocations per workgroup`;
  const want = Math.max(2, Math.ceil((o.threads ?? 49152) / D));
  const smvFor = (tt: number, nch: number) => Math.max(tt * nch * 2 * nv, nch * cw * nv);
  const bytes = (tt: number, nch: number) => 16 * smvFor(tt, nch) + 4 * cw * nch;
  // Fewer, longer chunks when the scan's states (nch·cw·N floats) do not fit the workgroup memory (large N).
  let nchTarget = Math.min(nchMax, nextPow2(want));
  while (nchTarget > 2 && bytes(1, nchTarget) > lim.maxWgStorage) nchTarget >>= 1;
  const chunk = Math.ceil(L / nchTarget);
  const nc = Math.ceil(L / chunk);
  if (nc < 2) return `L = ${L}: one chunk`;
  const nch = nextPow2(nc);
  let tt = Math.min(tileMax, nextPow2(chunk));
  while (tt > 1 && bytes(tt, nch) > lim.maxWgStorage) tt >>= 1;
  if (bytes(tt, nch) > lim.maxWgStorage) return `needs ${bytes(tt, nch)} bytes of workgroup memory, device has ${lim.maxWgStorage}`;
  const wgs = cw * nch;
  return { chunk, nc, nch, cw, tt, wgs, bpt: Math.ceil((tt * nch * nv * 4) / wgs), smv: smvFor(tt, nch), smemBytes: bytes(tt, nch) };
}

/** Dummy binding for absent optional inputs. */
function dummy(ctx: GpuContext): GPUBuffer {
  return ctx.buffer(16, 'scratch', 'scan-lab-dummy');
}

/** The one-pass subgroup scan; throws at construction where the device cannot run it. */
export class OnePassScan implements ScanRunner {
  readonly plan: OnePassPlan;
  private readonly kernel: ComputeKernel;
  private readonly dummy: GPUBuffer;

  constructor(private readonly ctx: GpuContext, readonly D: number, readonly N: number, cfg: OnePassConfig = {}) {
    const info = ctx.acquired.adapterInfo;
    const lim = ctx.limits;
    const plan = planOnePass(N, cfg, {
      hasSubgroups: ctx.has('subgroups'), sgMin: info.subgroupMinSize, sgMax: info.subgroupMaxSize,
      maxInvocations: lim.maxComputeInvocationsPerWorkgroup, maxWgStorage: lim.maxComputeWorkgroupStorageSize,
    });
    if (typeof plan === 'string') throw new Error(`selective scan: one-pass kernel unavailable: ${plan}`);
    this.plan = plan;
    this.kernel = new ComputeKernel(ctx, 'lab/selective_scan_onepass', { consts: onePassConsts(N, plan) });
    this.dummy = dummy(ctx);
  }

  encode(pass: GPUComputePassEncoder, io: ScanIO): void {
    const r = resolveScan(this.D, this.N, io);
    if (!io.hFinal) throw new Error('one-pass scan: hFinal is required');
    const h0 = io.h0 ?? null;
    const init = initMode(h0, io.hFinal);
    this.kernel.dispatch(
      pass,
      // chunk / nChunks (shared Params with the chunk kernels, scan_out_io.wgsl) are not read by this kernel.
      { L: r.L, D: this.D, chunk: 0, nChunks: 0, ...r.views, flags: (r.z ? 1 : 0) | (init << 1) },
      [io.u.buffer, io.delta.buffer, r.z ?? this.dummy, r.bc, io.params, init === 1 ? h0! : this.dummy, io.y.buffer, io.hFinal],
      [Math.ceil(this.D / this.plan.wc)],
    );
  }

  destroy(): void {
    this.ctx.pool.release(this.dummy);
  }
}

export interface LocalScanOptions {
  /** Aim for about this many threads (chunks × channels); default 49152. */
  threads?: number;
  /** Channels per workgroup (default 8: 32-byte rows per chunk in the loads). */
  channels?: number;
  /** Largest tile (tokens staged per step), a power of 2; default 4, halved to fit. */
  tile?: number;
}

/** The one-dispatch short-L chunked scan. encode() throws for an L it cannot take (see plan()). */
export class LocalScan implements ScanRunner {
  private readonly kernels = new Map<string, ComputeKernel>();
  private readonly dummy: GPUBuffer;

  constructor(private readonly ctx: GpuContext, readonly D: number, readonly N: number, private readonly opts: LocalScanOptions = {}) {
    this.dummy = dummy(ctx);
  }

  /** The plan for L tokens, or why this form cannot take them (one chunk, limits). */
  plan(L: number): LocalPlan | string {
    const lim = this.ctx.limits;
    // As many chunks as the three passes would use (their chunk length for this L): one chunk needs no combine.
    if (Math.ceil(L / chunkLength(L, this.D, lim.maxComputeWorkgroupsPerDimension)) < 2) return `L = ${L}: one chunk`;
    return planLocal(L, this.D, this.N, { threads: this.opts.threads, cw: this.opts.channels, tile: this.opts.tile }, {
      maxInvocations: lim.maxComputeInvocationsPerWorkgroup, maxWgStorage: lim.maxComputeWorkgroupStorageSize,
    });
  }

  private kernel(p: LocalPlan): ComputeKernel {
    const key = `${p.cw}:${p.nch}:${p.tt}`;
    let k = this.kernels.get(key);
    if (!k) {
      const consts = {
        NS: this.N, NV: Math.ceil(this.N / 4), CW: p.cw, NCH: p.nch, TT: p.tt, WGS: p.wgs, BPT: p.bpt, BCPT: 2 * p.bpt, SMV: p.smv,
      };
      this.kernels.set(key, (k = new ComputeKernel(this.ctx, 'lab/selective_scan_chunk_local', { consts })));
    }
    return k;
  }

  encode(pass: GPUComputePassEncoder, io: ScanIO): void {
    const r = resolveScan(this.D, this.N, io);
    if (!io.hFinal) throw new Error('one-dispatch scan: hFinal is required');
    const p = this.plan(r.L);
    if (typeof p === 'string') throw new Error(`one-dispatch scan: ${p}`);
    const h0 = io.h0 ?? null;
    const init = initMode(h0, io.hFinal);
    this.kernel(p).dispatch(
      pass,
      { L: r.L, D: this.D, chunk: p.chunk, nChunks: p.nc, ...r.views, flags: (r.z ? 1 : 0) | (init << 1) },
      [io.u.buffer, io.delta.buffer, r.z ?? this.dummy, r.bc, io.params, init === 1 ? h0! : this.dummy, io.y.buffer, io.hFinal],
      [Math.ceil(this.D / p.cw)],
    );
  }

  destroy(): void {
    this.ctx.pool.release(this.dummy);
  }
}
