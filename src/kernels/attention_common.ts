/** Shape checks shared by the attention wrappers (see src/kernels/attention.ts for the layouts). */

export interface AttentionDims {
  /** Heads. */
  H: number;
  /** Head dim. */
  hd: number;
  /** KV cache rows per head (the caches are [H, maxLen, hd]). */
  maxLen: number;
}

export function checkBuffer(what: string, name: string, b: GPUBuffer, floats: number): void {
  if (b.size < floats * 4) throw new Error(`${what}: ${name} has ${b.size} bytes, needs ${floats * 4} (${floats} floats)`);
}

/** Validates a prefill call: q [H, L, hd], caches [H, maxLen, hd] holding keys 0..pos0+L-1, out [L, H*hd]. */
export function checkPrefill(what: string, d: AttentionDims, q: GPUBuffer, k: GPUBuffer, v: GPUBuffer, out: GPUBuffer, L: number, pos0: number): void {
  if (!Number.isInteger(L) || L < 1) throw new Error(`${what}: L = ${L} must be a positive integer`);
  if (!Number.isInteger(pos0) || pos0 < 0) throw new Error(`${what}: pos0 = ${pos0} must be a non-negative integer`);
  if (pos0 + L > d.maxLen) throw new Error(`${what}: pos0 + L = ${pos0 + L} exceeds the KV cache length maxLen = ${d.maxLen}`);
  checkBuffer(what, 'q', q, d.H * L * d.hd);
  checkBuffer(what, 'kCache', k, d.H * d.maxLen * d.hd);
  checkBuffer(what, 'vCache', v, d.H * d.maxLen * d.hd);
  checkBuffer(what, 'out', out, L * d.H * d.hd);
}
