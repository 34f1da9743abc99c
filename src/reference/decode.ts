/**
 * CPU oracles for the fused decode kernels (one token), written as the unfused sequence of the reference ops they
 * replace, in float64 where the references are: the GPU kernels fuse them, these do not.
 *   decodeMatvecRef      y = epilogue(W · norm(x))                         (shaders/decode_matvec.wgsl)
 *   mambaDecodeInRef     RMSNorm → in_proj → conv step + SiLU (x half), z half   (shaders/mamba_decode_in.wgsl)
 *   mambaDecodeSsmRef    dt_proj → softplus → SSM step → D skip → SiLU(z) gate   (shaders/mamba_decode_ssm.wgsl)
 *   attentionDecodeRef   rotary on q, k → KV append → softmax(q Kᵀ/√hd) V     (attention_decode_rope_split/out)
 */
import { linearRef } from './matmul';
import { layernormRef, rmsnormRef } from './norm';
import { gelu } from './elementwise';
import { causalConv1dRef } from './conv1d';
import { selectiveScanRef } from './scan';
import { applyRotary, rotaryCosSin, rotaryInvFreq } from './rotary';

export type NormKind = 'none' | 'rms' | 'ln';

export interface MatvecRefArgs {
  x: ArrayLike<number>;       // [K]
  w: ArrayLike<number>;       // [N, K]
  K: number;
  N: number;
  norm?: NormKind;
  g?: ArrayLike<number>;      // [K] norm weight
  b?: ArrayLike<number>;      // [K] norm bias (LayerNorm)
  eps?: number;
  bias?: ArrayLike<number> | null; // [N]
  gelu?: boolean;
  /** Added after the activation (residual stream, or the old y for in-place adds). */
  add?: ArrayLike<number> | null;
}

export function normRef(x: ArrayLike<number>, kind: NormKind, g: ArrayLike<number> | undefined, b: ArrayLike<number> | undefined, eps: number): Float32Array {
  const K = x.length;
  if (kind === 'rms') return rmsnormRef(x, g!, 1, K, eps);
  if (kind === 'ln') return layernormRef(x, g!, b!, 1, K, eps);
  return Float32Array.from(x);
}

export function decodeMatvecRef(a: MatvecRefArgs): Float32Array {
  const xn = normRef(a.x, a.norm ?? 'none', a.g, a.b, a.eps ?? 1e-5);
  const y = linearRef(xn, a.w, 1, a.K, a.N, a.bias ?? null);
  for (let n = 0; n < a.N; n++) {
    let v = y[n];
    if (a.gelu) v = gelu(v);
    if (a.add) v += a.add[n];
    y[n] = v;
  }
  return y;
}

export interface MambaInRefArgs {
  hidden: ArrayLike<number>;  // [d]
  normW: ArrayLike<number>;   // [d]
  eps: number;
  wIn: ArrayLike<number>;     // [2·dIn, d]
  inBias?: ArrayLike<number> | null; // [2·dIn]
  convW: ArrayLike<number>;   // [dIn, k]
  convB?: ArrayLike<number> | null;  // [dIn]
  convState: Float32Array;    // [k−1, dIn], updated in place
  d: number;
  dIn: number;
  k: number;
}

/** Returns uz [2·dIn]: u = SiLU(conv(x)) in [0, dIn), z in [dIn, 2·dIn); shifts convState. */
export function mambaDecodeInRef(a: MambaInRefArgs): Float32Array {
  const { d, dIn, k } = a;
  const xz = linearRef(rmsnormRef(a.hidden, a.normW, 1, d, a.eps), a.wIn, 1, d, 2 * dIn, a.inBias ?? null);
  const conv = causalConv1dRef({
    L: 1, D: dIn, K: k, x: { data: xz, offset: 0, rowStride: 2 * dIn }, weight: a.convW, bias: a.convB ?? undefined,
    state: a.convState, silu: true,
  });
  a.convState.set(conv.state);
  const out = new Float32Array(2 * dIn);
  out.set(conv.out, 0);
  out.set(xz.subarray(dIn), dIn);
  return out;
}

export interface MambaSsmRefArgs {
  dbc: ArrayLike<number>;     // [r + 2n]: Δ_low | B | C
  wDt: ArrayLike<number>;     // [dIn, r]
  dtBias: ArrayLike<number>;  // [dIn]
  A: ArrayLike<number>;       // [dIn, n] (= −exp(A_log))
  D: ArrayLike<number>;       // [dIn]
  uz: ArrayLike<number>;      // [2·dIn]: u | z
  state: Float32Array;        // [dIn, n], updated in place
  dIn: number;
  n: number;
  r: number;
}

/** Returns y [dIn] = (C·h + D·u) · SiLU(z) after one SSM step with Δ = softplus(dt_proj(Δ_low) + bias). */
export function mambaDecodeSsmRef(a: MambaSsmRefArgs): Float32Array {
  const { dIn, n, r } = a;
  const dbc = Float32Array.from(a.dbc);
  const delta = linearRef(dbc.subarray(0, r), a.wDt, 1, r, dIn);
  const uz = Float32Array.from(a.uz);
  const out = selectiveScanRef({
    L: 1, D: dIn, N: n,
    u: { data: uz, offset: 0, rowStride: 2 * dIn }, delta: { data: delta, offset: 0, rowStride: dIn },
    A: Float64Array.from(a.A), B: { data: dbc, offset: r, rowStride: r + 2 * n }, C: { data: dbc, offset: r + n, rowStride: r + 2 * n },
    Dskip: a.D, z: { data: uz, offset: dIn, rowStride: 2 * dIn }, deltaBias: a.dtBias, h0: a.state,
  });
  a.state.set(out.hL);
  return out.y;
}

export interface AttentionDecodeRefArgs {
  qkv: ArrayLike<number>;     // [H, 3, hd] of the token at `pos`
  kCache: Float32Array;       // [H, maxLen, hd], rows < pos filled; row pos written here
  vCache: Float32Array;
  H: number;
  hd: number;
  rot: number;
  base: number;
  pos: number;
  maxLen: number;
}

/** Rotary on q and k (transformers' float32 angles), K/V appended at `pos`, then causal attention of that one
 *  query over cache rows 0..pos. Returns the merged heads [H·hd] (float64 sums). */
export function attentionDecodeRef(a: AttentionDecodeRefArgs): Float32Array {
  const { H, hd, rot, pos, maxLen } = a;
  const inv = rotaryInvFreq(rot, a.base, 'f32');
  const { cos, sin } = rotaryCosSin(pos, inv, 'f32');
  const out = new Float32Array(H * hd);
  for (let h = 0; h < H; h++) {
    const base = h * 3 * hd;
    const q = applyRotary(Array.from(a.qkv).slice(base, base + hd), rot, cos, sin);
    const k = applyRotary(Array.from(a.qkv).slice(base + hd, base + 2 * hd), rot, cos, sin);
    for (let i = 0; i < hd; i++) {
      a.kCache[(h * maxLen + pos) * hd + i] = k[i];
      a.vCache[(h * maxLen + pos) * hd + i] = a.qkv[base + 2 * hd + i];
    }
    const s = new Float64Array(pos + 1);
    let m = -Infinity;
    for (let j = 0; j <= pos; j++) {
      let acc = 0;
      for (let i = 0; i < hd; i++) acc += q[i] * a.kCache[(h * maxLen + j) * hd + i];
      s[j] = acc / Math.sqrt(hd);
      m = Math.max(m, s[j]);
    }
    let l = 0;
    for (let j = 0; j <= pos; j++) { s[j] = Math.exp(s[j] - m); l += s[j]; }
    for (let i = 0; i < hd; i++) {
      let acc = 0;
      for (let j = 0; j <= pos; j++) acc += s[j] * a.vCache[(h * maxLen + j) * hd + i];
      out[h * hd + i] = acc / l;
    }
  }
  return out;
}
