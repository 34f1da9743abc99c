/**
 * Layouts, call arguments and shape checks shared by the attention wrappers (see src/kernels/attention.ts).
 * All offsets and strides are in f32 elements.
 */

export interface AttentionDims {
  /** Heads. */
  H: number;
  /** Head dim. */
  hd: number;
  /** Default KV cache rows per head (the caches are [H, maxLen, hd]) for calls that do not pass maxLen. */
  maxLen?: number;
}

/** q element (head h, query i, dim d) at offset + i*rowStride + h*headStride + d. */
export interface QLayout {
  offset: number;
  rowStride: number;
  headStride: number;
}

/** out element (query i, head h, dim d) at offset + i*rowStride + h*hd + d (merged heads). */
export interface OutLayout {
  offset: number;
  rowStride: number;
}

/** q in its own buffer, [H, L, hd]. */
export function headsMajorLayout(L: number, hd: number): QLayout {
  return { offset: 0, rowStride: hd, headStride: L * hd };
}

/** q read in place from the fused qkv activations [L, H, 3, hd] (after RotaryKvKernel rotated it in place). */
export function fusedQkvLayout(H: number, hd: number, offset = 0, rowStride = 3 * H * hd): QLayout {
  return { offset, rowStride, headStride: 3 * hd };
}

export interface PrefillArgs {
  /** Queries of positions pos0..pos0+L-1; layout qLayout (default [H, L, hd]). */
  q: GPUBuffer;
  qLayout?: QLayout;
  /** [H, maxLen, hd] each, rows 0..pos0+L-1 filled. */
  kCache: GPUBuffer;
  vCache: GPUBuffer;
  /** Merged heads [L, H*hd] (or outLayout). */
  out: GPUBuffer;
  outLayout?: OutLayout;
  L: number;
  /** Positions already in the cache before this chunk; query i sits at position pos0+i and sees keys 0..pos0+i. */
  pos0: number;
  /** Cache rows per head; default dims.maxLen. */
  maxLen?: number;
}

export interface DecodeArgs {
  /** The query of the token at position pos: q[h] at qLayout.offset + h*qLayout.headStride (default [H, hd]). */
  q: GPUBuffer;
  qLayout?: QLayout;
  kCache: GPUBuffer;
  vCache: GPUBuffer;
  /** [H*hd] at outLayout.offset (default 0). */
  out: GPUBuffer;
  outLayout?: OutLayout;
  /** Position of the token; cache rows 0..pos (its own k/v included) are read. */
  pos: number;
  maxLen?: number;
}

export interface Resolved {
  H: number;
  hd: number;
  L: number;
  pos0: number;
  maxLen: number;
  q: QLayout;
  out: OutLayout;
}

export function checkBuffer(what: string, name: string, b: GPUBuffer, floats: number): void {
  if (b.size < floats * 4) throw new Error(`${what}: ${name} has ${b.size} bytes, needs ${floats * 4} (${floats} floats)`);
}

/** Validates a prefill (or decode, L = 1) call and fills in the default layouts. */
export function resolvePrefill(what: string, d: AttentionDims, a: PrefillArgs, vec4 = false): Resolved {
  const { H, hd } = d;
  const { L, pos0 } = a;
  const maxLen = a.maxLen ?? d.maxLen;
  if (maxLen === undefined) throw new Error(`${what}: maxLen (KV cache rows per head) not given`);
  if (!Number.isInteger(L) || L < 1) throw new Error(`${what}: L = ${L} must be a positive integer`);
  if (!Number.isInteger(pos0) || pos0 < 0) throw new Error(`${what}: pos0 = ${pos0} must be a non-negative integer`);
  if (pos0 + L > maxLen) throw new Error(`${what}: pos0 + L = ${pos0 + L} exceeds the KV cache length maxLen = ${maxLen}`);
  const q = a.qLayout ?? headsMajorLayout(L, hd);
  const out = a.outLayout ?? { offset: 0, rowStride: H * hd };
  if (vec4) {
    for (const [n, x] of [['hd', hd], ['q offset', q.offset], ['q rowStride', q.rowStride], ['q headStride', q.headStride], ['out offset', out.offset], ['out rowStride', out.rowStride]] as const) {
      if (x % 4 !== 0) throw new Error(`${what}: ${n} = ${x} must be a multiple of 4 (vec4 loads)`);
    }
  }
  checkBuffer(what, 'q', a.q, q.offset + (L - 1) * q.rowStride + (H - 1) * q.headStride + hd);
  checkBuffer(what, 'kCache', a.kCache, H * maxLen * hd);
  checkBuffer(what, 'vCache', a.vCache, H * maxLen * hd);
  checkBuffer(what, 'out', a.out, out.offset + (L - 1) * out.rowStride + H * hd);
  return { H, hd, L, pos0, maxLen, q, out };
}
