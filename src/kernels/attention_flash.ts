/**
 * Flash attention: causal attention with online softmax, no L x L buffer. Two kernels, same bindings and uniforms:
 * 'tiled' (shaders/flash_attention_tiled.wgsl) and 'rowwise' (shaders/flash_attention.wgsl); which one and its
 * tiling come from flashPlan (./attention_flash_plan.ts), from the adapter's limits.
 *
 * Any head dim: both kernels work on HD4 = ceil(hd/4) vec4s per row (hd rounded up to a multiple of 4, the padding
 * read as zeros), through the IO snippet the kernel includes: flash_attention_io_vec4.wgsl (vec4 bindings, one
 * 16-byte load per vec4: the fast path) when hd and the call's offsets/strides are all multiples of 4, else
 * flash_attention_io_scalar.wgsl (f32 bindings, 4 masked scalar loads per vec4; e.g. hd 10, where q is read in
 * place from the fused qkv rows). A FlashAttention compiles each (tiles, IO) pair on first use.
 */
import type { GpuContext } from '../gpu/context';
import { ComputeKernel } from '../gpu/kernel';
import { resolvePrefill, type AttentionDims, type PrefillArgs } from './attention_common';
import { flashPlan, headVec4s, SMALL_GRID, tiledProblem, type FlashOptions, type FlashPlan, type FlashTiles } from './attention_flash_plan';

/** The adapter's smallest subgroup size when the device has the subgroups feature, else 0. */
export function subgroupMinSize(ctx: GpuContext): number {
  return ctx.has('subgroups') ? ctx.acquired.adapterInfo.subgroupMinSize : 0;
}

/** How a call reads q / K / V and writes out: 'vec4' (hd, offsets and strides multiples of 4) or 'scalar'. */
export type FlashIO = 'vec4' | 'scalar';

function makeKernel(ctx: GpuContext, hd: number, t: FlashTiles, io: FlashIO): ComputeKernel {
  const HD4 = headVec4s(hd);
  if (io === 'vec4' && hd % 4 !== 0) throw new Error(`flash attention: vec4 IO needs a head dim multiple of 4, got ${hd}`);
  const dims = { HEAD_DIM: hd, HD4, BR: t.BR, BC: t.BC };
  if (t.kernel === 'tiled') {
    return new ComputeKernel(ctx, 'flash_attention_tiled', {
      include: { IO: io, RED: t.sg ? 'subgroup' : 'shared' },
      consts: { ...dims, RED_IN_V: t.redInV },
    });
  }
  return new ComputeKernel(ctx, 'flash_attention', { include: { IO: io }, consts: { ...dims, G: t.G, DPT4: Math.ceil(HD4 / t.G) } });
}

export class FlashAttention {
  readonly plan: FlashPlan;
  /** Compiled kernels by tiles (large / small) and IO. */
  private readonly kernels = new Map<string, ComputeKernel>();

  constructor(private readonly ctx: GpuContext, readonly dims: AttentionDims, opts: FlashOptions = {}) {
    const maxStorage = Math.min(opts.maxWorkgroupStorage ?? Infinity, ctx.limits.maxComputeWorkgroupStorageSize);
    // CPU plans (GpuContext.cpuTiling): one 32 x 32 tiling (64 threads) for every length unless the caller picks one:
    // one pipeline to compile instead of two, and a quarter of the invocations waiting at each barrier
    const cpu = ctx.cpuTiling && opts.BR === undefined && opts.BC === undefined && opts.kernel !== 'rowwise';
    const cpuTiles = cpu && !tiledProblem(dims.hd, 32, 32, maxStorage, ctx.limits.maxComputeInvocationsPerWorkgroup);
    this.plan = flashPlan(dims.hd, maxStorage, ctx.limits.maxComputeInvocationsPerWorkgroup, cpuTiles ? { ...opts, BR: 32, BC: 32 } : opts, subgroupMinSize(ctx));
    // Compile the usual kernel now (shader errors surface at construction).
    this.kernel(this.plan.large, dims.hd % 4 === 0 ? 'vec4' : 'scalar');
  }

  private kernel(t: FlashTiles, io: FlashIO): ComputeKernel {
    const key = `${t === this.plan.large ? 'large' : 'small'}:${io}`;
    let k = this.kernels.get(key);
    if (!k) this.kernels.set(key, (k = makeKernel(this.ctx, this.dims.hd, t, io)));
    return k;
  }

  /** The IO form a call with these (resolved) layouts uses: vec4 when every offset and stride allows 16-byte loads. */
  static ioFor(r: { hd: number; q: { offset: number; rowStride: number; headStride: number }; out: { offset: number; rowStride: number } }): FlashIO {
    const xs = [r.hd, r.q.offset, r.q.rowStride, r.q.headStride, r.out.offset, r.out.rowStride];
    return xs.every((x) => x % 4 === 0) ? 'vec4' : 'scalar';
  }

  /** The tiles of the large (usual) choice. */
  get tiles(): FlashTiles {
    return this.plan.large;
  }

  /** The tiles a call with L queries uses. */
  tilesFor(L: number): FlashTiles {
    const { large, small } = this.plan;
    return small && Math.ceil(L / large.BR) * this.dims.H < SMALL_GRID ? small : large;
  }

  encode(pass: GPUComputePassEncoder, a: PrefillArgs): void {
    const r = resolvePrefill('flash attention', this.dims, a);
    const t = this.tilesFor(r.L);
    const k = this.kernel(t, FlashAttention.ioFor(r));
    const nqb = Math.ceil(r.L / t.BR);
    // The tiled kernel computes exp2(s - m) with log2(e) folded into the scale.
    const scale = (t.kernel === 'tiled' ? Math.LOG2E : 1) / Math.sqrt(r.hd);
    k.dispatch(
      pass,
      {
        L: r.L, pos0: r.pos0, maxLen: r.maxLen, H: r.H, scale, qOffset: r.q.offset, qRowStride: r.q.rowStride,
        qHeadStride: r.q.headStride, oOffset: r.out.offset, oRowStride: r.out.rowStride, nqb,
      },
      [a.q, a.kCache, a.vCache, a.out],
      [nqb, r.H],
    );
  }
}
