/**
 * CPU oracle for the Mamba v1 selective scan (mamba_ssm selective_scan_fn with delta_softplus=True) and its one-token
 * decode step. Plain loops in float64 that read like the math:
 *   Δ_t = softplus(delta_t + delta_bias)                                  per channel d
 *   h_t[d,n] = exp(Δ_t[d]·A[d,n]) · h_{t−1}[d,n] + Δ_t[d]·B_t[n]·u_t[d]
 *   y_t[d] = Σ_n C_t[n]·h_t[d,n] + Dskip[d]·u_t[d]
 *   out_t[d] = y_t[d] · SiLU(z_t[d])        (when z is given)
 * Every token-major input is described by a strided view (offset, rowStride) into a flat array, exactly like the
 * GPU wrappers' Params, so the oracle reads the same buffers the kernels do.
 */

/** A view of rows of a token-major matrix inside a flat array: element (t, i) is data[offset + t·rowStride + i]. */
export interface View {
  data: ArrayLike<number>;
  offset?: number;
  rowStride: number;
}

export function softplus(x: number): number {
  return x > 20 ? x : Math.log1p(Math.exp(x));
}

export function silu(x: number): number {
  return x / (1 + Math.exp(-x));
}

/** A = −exp(A_log), [D, N] row-major. */
export function aFromALog(aLog: ArrayLike<number>): Float64Array {
  const a = new Float64Array(aLog.length);
  for (let i = 0; i < aLog.length; i++) a[i] = -Math.exp(aLog[i]);
  return a;
}

export interface ScanRefInputs {
  L: number;
  D: number;
  N: number;
  u: View; // [L, D]
  delta: View; // [L, D] (before bias and softplus)
  B: View; // [L, N]
  C: View; // [L, N]
  z?: View; // [L, D]; no gate when absent
  A: ArrayLike<number>; // [D, N] (already −exp(A_log))
  Dskip?: ArrayLike<number>; // [D]
  deltaBias?: ArrayLike<number>; // [D]
  h0?: ArrayLike<number>; // [D, N] initial state, zeros when absent
}

export interface ScanRefOutputs {
  y: Float32Array; // [L, D] dense
  hL: Float32Array; // [D, N]
}

const at = (v: View, t: number, i: number) => v.data[(v.offset ?? 0) + t * v.rowStride + i];

export function selectiveScanRef(p: ScanRefInputs): ScanRefOutputs {
  const { L, D, N } = p;
  const h = new Float64Array(D * N);
  if (p.h0) for (let i = 0; i < D * N; i++) h[i] = p.h0[i];
  const y = new Float32Array(L * D);
  for (let t = 0; t < L; t++) {
    for (let d = 0; d < D; d++) {
      const dt = softplus(at(p.delta, t, d) + (p.deltaBias ? p.deltaBias[d] : 0));
      const u = at(p.u, t, d);
      let acc = 0;
      for (let n = 0; n < N; n++) {
        const k = d * N + n;
        h[k] = Math.exp(dt * p.A[k]) * h[k] + dt * at(p.B, t, n) * u;
        acc += at(p.C, t, n) * h[k];
      }
      acc += (p.Dskip ? p.Dskip[d] : 0) * u;
      if (p.z) acc *= silu(at(p.z, t, d));
      y[t * D + d] = acc;
    }
  }
  return { y, hL: Float32Array.from(h) };
}

/** One decode step: the scan applied to a single token, updating `h` [D, N] in place; returns y_t [D]. */
export function ssmStepRef(p: Omit<ScanRefInputs, 'L' | 'h0'> & { h: Float32Array }): Float32Array {
  const out = selectiveScanRef({ ...p, L: 1, h0: p.h });
  p.h.set(out.hL);
  return out.y;
}
