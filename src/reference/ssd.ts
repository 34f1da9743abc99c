/**
 * CPU oracles for Mamba-2's SSD layer (Dao & Gu 2024, "Transformers are SSMs", §6-7 and the paper's "minimal SSD"
 * listing), in float64, plain loops that read like the math. Per head h (scalar decay A_h < 0), group g(h) of its B
 * and C (heads h·G/H … share one), head dim p, state n:
 *   Δ_t  = clamp(softplus(dt_t + dt_bias_h), lo, hi)            a_t = Δ_t·A_h  (log decay, ≤ 0)
 *   S_t  = exp(a_t) · S_{t−1} + Δ_t · x_t B_tᵀ                    S: (p, n) per head
 *   y_t  = S_t C_t + D_h · x_t
 * The chunked (SSD) form over chunks of Q tokens, with cs_t = Σ_{k ≤ t, k in chunk} a_k (cumulative log decay):
 *   1. intra-chunk (diagonal blocks): Y_diag[t] = Σ_{s ≤ t} (C_t·B_s) · exp(cs_t − cs_s) · Δ_s x_s   ("segment sums")
 *   2. chunk states:    E_c = Σ_s exp(cs_end − cs_s) · Δ_s x_s B_sᵀ                 (from zero state)
 *   3. state passing:   S_in(0) = h0,  S_in(c+1) = exp(cs_end(c)) · S_in(c) + E_c;   h_L = S_in(nc)
 *   4. chunk outputs:   Y_off[t] = exp(cs_t) · S_in(c) C_t;   y = Y_diag + Y_off + D x
 * Both forms give the same y and h_L (tests check it); the GPU kernels follow the chunked form (fused) and the
 * recurrence (sequential). Every token-major input is a strided view (offset, rowStride) into a flat array, as the
 * GPU wrappers take them.
 */
import { softplus, silu, type View } from './scan';

export type { View } from './scan';

export interface SsdRefInputs {
  L: number;
  /** heads, head dim, state size, groups of B/C (H % G == 0) */
  H: number; P: number; N: number; G: number;
  x: View;    // [L, H·P]   head h's channels at h·P …
  B: View;    // [L, G·N]
  C: View;    // [L, G·N]
  dt: View;   // [L, H]     before bias, softplus and clamp
  aLog: ArrayLike<number>;   // [H]   A = −exp(A_log)
  D?: ArrayLike<number>;     // [H]
  dtBias?: ArrayLike<number>; // [H]
  /** time_step_limit: Δ clamped into [lo, hi] after softplus (default [0, ∞): no clamp) */
  dtLimit?: [number, number];
  h0?: ArrayLike<number>;    // [H, P, N] initial state, zeros when absent
}

export interface SsdRefOutputs {
  y: Float64Array;  // [L, H·P] dense
  hL: Float64Array; // [H, P, N]
}

const at = (v: View, t: number, i: number) => v.data[(v.offset ?? 0) + t * v.rowStride + i];

/** Δ and a = Δ·A per token and head, [L, H] each. */
export function ssdDiscretize(p: SsdRefInputs): { dt: Float64Array; a: Float64Array } {
  const { L, H } = p;
  const [lo, hi] = p.dtLimit ?? [0, Infinity];
  const dt = new Float64Array(L * H);
  const a = new Float64Array(L * H);
  for (let t = 0; t < L; t++) {
    for (let h = 0; h < H; h++) {
      const v = Math.min(Math.max(softplus(at(p.dt, t, h) + (p.dtBias ? p.dtBias[h] : 0)), lo), hi);
      dt[t * H + h] = v;
      a[t * H + h] = v * -Math.exp(p.aLog[h]);
    }
  }
  return { dt, a };
}

/** The group of head h's B and C. */
export const groupOf = (h: number, H: number, G: number) => Math.floor(h / (H / G));

function check(p: SsdRefInputs): void {
  for (const k of ['L', 'H', 'P', 'N', 'G'] as const) {
    if (!(Number.isInteger(p[k]) && p[k] >= 1)) throw new Error(`ssd reference: ${k} = ${p[k]} must be a positive integer`);
  }
  if (p.H % p.G) throw new Error(`ssd reference: H = ${p.H} heads do not split into G = ${p.G} groups`);
}

/** The plain recurrence, token by token. */
export function ssdSequentialRef(p: SsdRefInputs): SsdRefOutputs {
  check(p);
  const { L, H, P, N, G } = p;
  const { dt, a } = ssdDiscretize(p);
  const S = new Float64Array(H * P * N); // (h, p, n)
  if (p.h0) for (let i = 0; i < S.length; i++) S[i] = p.h0[i];
  const y = new Float64Array(L * H * P);
  for (let t = 0; t < L; t++) {
    for (let h = 0; h < H; h++) {
      const g = groupOf(h, H, G);
      const decay = Math.exp(a[t * H + h]);
      const d = dt[t * H + h];
      for (let i = 0; i < P; i++) {
        const x = at(p.x, t, h * P + i);
        let acc = 0;
        for (let n = 0; n < N; n++) {
          const k = (h * P + i) * N + n;
          S[k] = decay * S[k] + d * x * at(p.B, t, g * N + n);
          acc += S[k] * at(p.C, t, g * N + n);
        }
        y[t * H * P + h * P + i] = acc + (p.D ? p.D[h] : 0) * x;
      }
    }
  }
  return { y, hL: S };
}

/**
 * Segment sums of one chunk's log decays a[0..q): segsum[i·q + j] = Σ_{j < k ≤ i} a_k for j ≤ i (0 on the
 * diagonal), −∞ above it; exp(segsum) is the chunk's causal decay mask L.
 */
export function segsum(a: ArrayLike<number>, q: number): Float64Array {
  const out = new Float64Array(q * q).fill(-Infinity);
  for (let i = 0; i < q; i++) {
    let s = 0;
    out[i * q + i] = 0;
    for (let j = i - 1; j >= 0; j--) {
      s += a[j + 1];
      out[i * q + j] = s;
    }
  }
  return out;
}

/** cs[t·H + h]: the cumulative log decay of token t within its chunk of Q tokens (inclusive). */
export function chunkCumsum(a: Float64Array, L: number, H: number, Q: number): Float64Array {
  const cs = new Float64Array(L * H);
  for (let h = 0; h < H; h++) {
    let s = 0;
    for (let t = 0; t < L; t++) {
      if (t % Q === 0) s = 0;
      s += a[t * H + h];
      cs[t * H + h] = s;
    }
  }
  return cs;
}

/** Step 2: each chunk's end state from zero, E[c, h, p, n] = Σ_s exp(cs_end − cs_s)·Δ_s·x_s[p]·B_s[n]. */
export function ssdChunkStates(p: SsdRefInputs, dt: Float64Array, cs: Float64Array, Q: number): Float64Array {
  const { L, H, P, N, G } = p;
  const nc = Math.ceil(L / Q);
  const E = new Float64Array(nc * H * P * N);
  for (let c = 0; c < nc; c++) {
    const t0 = c * Q, t1 = Math.min(L, t0 + Q);
    for (let h = 0; h < H; h++) {
      const g = groupOf(h, H, G);
      const end = cs[(t1 - 1) * H + h];
      for (let s = t0; s < t1; s++) {
        const w = Math.exp(end - cs[s * H + h]) * dt[s * H + h];
        for (let i = 0; i < P; i++) {
          const xw = w * at(p.x, s, h * P + i);
          const base = ((c * H + h) * P + i) * N;
          for (let n = 0; n < N; n++) E[base + n] += xw * at(p.B, s, g * N + n);
        }
      }
    }
  }
  return E;
}

/** Step 3: the incoming state of every chunk, [nc, H, P, N], and the final state h_L [H, P, N]. */
export function ssdStatePassing(E: Float64Array, chunkDecay: Float64Array, nc: number, H: number, PN: number, h0?: ArrayLike<number>): { states: Float64Array; hL: Float64Array } {
  const states = new Float64Array(nc * H * PN);
  const carry = new Float64Array(H * PN);
  if (h0) for (let i = 0; i < carry.length; i++) carry[i] = h0[i];
  for (let c = 0; c < nc; c++) {
    states.set(carry, c * H * PN);
    for (let h = 0; h < H; h++) {
      const decay = Math.exp(chunkDecay[c * H + h]);
      for (let k = 0; k < PN; k++) carry[h * PN + k] = decay * carry[h * PN + k] + E[(c * H + h) * PN + k];
    }
  }
  return { states, hL: carry };
}

/** Steps 1 and 4 with the D skip: y[t] = Y_diag[t] + exp(cs_t)·S_in(c)·C_t + D·x_t. */
export function ssdChunkOutputs(p: SsdRefInputs, dt: Float64Array, cs: Float64Array, states: Float64Array, Q: number): Float64Array {
  const { L, H, P, N, G } = p;
  const y = new Float64Array(L * H * P);
  for (let t = 0; t < L; t++) {
    const c = Math.floor(t / Q);
    const t0 = c * Q;
    for (let h = 0; h < H; h++) {
      const g = groupOf(h, H, G);
      // segment sums of this row: exp(cs_t − cs_s) for s ≤ t in the chunk
      const w = new Float64Array(t - t0 + 1);
      for (let s = t0; s <= t; s++) {
        let cb = 0;
        for (let n = 0; n < N; n++) cb += at(p.C, t, g * N + n) * at(p.B, s, g * N + n);
        w[s - t0] = cb * Math.exp(cs[t * H + h] - cs[s * H + h]) * dt[s * H + h];
      }
      const off = Math.exp(cs[t * H + h]);
      for (let i = 0; i < P; i++) {
        let acc = 0;
        for (let s = t0; s <= t; s++) acc += w[s - t0] * at(p.x, s, h * P + i);
        let sc = 0;
        const base = ((c * H + h) * P + i) * N;
        for (let n = 0; n < N; n++) sc += states[base + n] * at(p.C, t, g * N + n);
        y[t * H * P + h * P + i] = acc + off * sc + (p.D ? p.D[h] : 0) * at(p.x, t, h * P + i);
      }
    }
  }
  return y;
}

/** The chunked SSD form (steps 1-4) with chunks of Q tokens; the last chunk may be shorter. */
export function ssdChunkedRef(p: SsdRefInputs, Q: number): SsdRefOutputs {
  check(p);
  if (!(Number.isInteger(Q) && Q >= 1)) throw new Error(`ssd reference: chunk ${Q} must be a positive integer`);
  const { L, H, P, N } = p;
  const nc = Math.ceil(L / Q);
  const { dt, a } = ssdDiscretize(p);
  const cs = chunkCumsum(a, L, H, Q);
  const E = ssdChunkStates(p, dt, cs, Q);
  const chunkDecay = new Float64Array(nc * H);
  for (let c = 0; c < nc; c++) for (let h = 0; h < H; h++) chunkDecay[c * H + h] = cs[(Math.min(L, (c + 1) * Q) - 1) * H + h];
  const { states, hL } = ssdStatePassing(E, chunkDecay, nc, H, P * N, p.h0);
  return { y: ssdChunkOutputs(p, dt, cs, states, Q), hL };
}

/**
 * The gated RMSNorm of Mamba-2 as mamba_ssm computes it (RMSNormGated, norm_before_gate=False, group_size =
 * d_inner / G): v = y ⊙ SiLU(z); per group of d_inner / G channels v ← v / sqrt(mean(v²) + eps); out = v ⊙ w.
 * y, z views [L, dIn]; w [dIn]. Returns [L, dIn].
 */
export function gatedRmsNormRef(y: View, z: View, w: ArrayLike<number>, L: number, dIn: number, G: number, eps: number): Float64Array {
  if (dIn % G) throw new Error(`gated norm reference: ${dIn} channels do not split into ${G} groups`);
  const gs = dIn / G;
  const out = new Float64Array(L * dIn);
  const v = new Float64Array(gs);
  for (let t = 0; t < L; t++) {
    for (let g = 0; g < G; g++) {
      let ss = 0;
      for (let i = 0; i < gs; i++) {
        const c = g * gs + i;
        v[i] = at(y, t, c) * silu(at(z, t, c));
        ss += v[i] * v[i];
      }
      const inv = 1 / Math.sqrt(ss / gs + eps);
      for (let i = 0; i < gs; i++) out[t * dIn + g * gs + i] = v[i] * inv * w[g * gs + i];
    }
  }
  return out;
}
