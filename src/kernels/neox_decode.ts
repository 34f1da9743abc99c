/**
 * GPT-NeoX decode (one token): the shape the fused decode kernels are built for, and the per-layer pack of small
 * parameters they read (LayerNorm weights and biases, every projection's bias), one f32 buffer per layer. The kernels:
 * DecodeMatvec (LN + QKV (+ MLP-up), MLP-down), AttentionDecodeSplit / AttentionDecodeOut (attention_decode_fused.ts).
 * (A one-pipeline-per-layer form was measured slower on the H200 and removed: docs/benchmarks.md.)
 */
import type { WeightDType } from './matmul';

export interface NeoxDecodeShape {
  d: number;
  /** MLP width. */
  f: number;
  H: number;
  hd: number;
  rot: number;
  base: number;
  eps: number;
  parallel: boolean;
  dtype: WeightDType;
  qkvBias: boolean;
  denseBias: boolean;
}

/** Float offsets of the layer's small parameters in its pack buffer (every layer the same). */
export interface NeoxPackLayout { ln1g: number; ln1b: number; ln2g: number; ln2b: number; qkvB: number; denseB: number; upB: number; downB: number; total: number }

export function neoxPackLayout(s: { d: number; f: number }): NeoxPackLayout {
  const up4 = (n: number) => Math.ceil(n / 4) * 4;
  let o = 0;
  const take = (n: number) => { const at = o; o += up4(n); return at; };
  const ln1g = take(s.d), ln1b = take(s.d), ln2g = take(s.d), ln2b = take(s.d);
  const qkvB = take(3 * s.d), denseB = take(s.d), upB = take(s.f), downB = take(s.d);
  return { ln1g, ln1b, ln2g, ln2b, qkvB, denseB, upB, downB, total: o };
}
