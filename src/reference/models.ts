/**
 * CPU reference forward passes of both models, in float64, straight from the papers' equations. Slow and simple:
 * the oracle for the GPU models on shapes the golden fixtures do not cover, and a check of the fixtures themselves.
 *
 * Glossary (Mamba, Gu & Dao 2023, Algorithm 2 / Figure 3):
 *   l: sequence length, d: d_model, d_in: d_inner = expand·d, n: state size N, r: dt_rank, k: conv width
 *   Δ (delta): input-dependent step size, A: state matrix (−exp(A_log)), B, C: input-dependent projections,
 *   D: skip, z: gate. h_t = exp(Δ_t A) ⊙ h_{t−1} + Δ_t B_t u_t ;  y_t = C_t h_t + D u_t ;  out = y ⊙ SiLU(z)
 * GPT-NeoX (Black et al. 2022): pre-LayerNorm blocks, partial rotary (rotate_half), parallel residual
 *   x ← x + Attn(LN₁(x)) + MLP(LN₂(x))   or sequential  x ← x + Attn(LN₁(x)); x ← x + MLP(LN₂(x)).
 */

import type { GptNeoxConfig, MambaConfig } from '../hub/config';

export type Weights = Map<string, Float32Array>;

export interface RefMambaConfig {
  d: number; dIn: number; n: number; r: number; k: number; layers: number; vocab: number; eps: number;
  tied: boolean; useBias: boolean; useConvBias: boolean;
}

export interface RefNeoxConfig {
  d: number; heads: number; layers: number; ffn: number; vocab: number; eps: number;
  /** as in config.json: rot = floor(hd · rotaryPct), frequencies rotaryBase^(−2i/rot) */
  rotaryPct: number; rotaryBase: number; parallelResidual: boolean;
  /** head = the input embedding (default false: `embed_out.weight`, or `lm_head.weight` as transformers ≥ 5.14 names it) */
  tied?: boolean;
}

/** The reference config of a parsed Mamba config.json. */
export function refMambaConfig(c: MambaConfig): RefMambaConfig {
  return {
    d: c.hiddenSize, dIn: c.intermediateSize, n: c.stateSize, r: c.timeStepRank, k: c.convKernel, layers: c.numHiddenLayers,
    vocab: c.vocabSize, eps: c.layerNormEpsilon, tied: c.tieWordEmbeddings, useBias: c.useBias, useConvBias: c.useConvBias,
  };
}

/** The reference config of a parsed GPT-NeoX config.json (rotary as the file gives it, not the kernels' form). */
export function refNeoxConfig(c: GptNeoxConfig): RefNeoxConfig {
  return {
    d: c.hiddenSize, heads: c.numAttentionHeads, layers: c.numHiddenLayers, ffn: c.intermediateSize, vocab: c.vocabSize,
    eps: c.layerNormEps, rotaryPct: c.rotaryPct, rotaryBase: c.ropeThetaConfig, parallelResidual: c.useParallelResidual,
    tied: c.tieWordEmbeddings,
  };
}

function get(w: Weights, name: string): Float32Array {
  const t = w.get(name);
  if (!t) throw new Error(`reference model: missing tensor ${name}`);
  return t;
}

/** y[l, out] = x[l, in] · W[out, in]ᵀ + b[out] */
export function linear(x: Float64Array, l: number, nIn: number, W: Float32Array, nOut: number, b?: Float32Array): Float64Array {
  const y = new Float64Array(l * nOut);
  for (let t = 0; t < l; t++) {
    for (let o = 0; o < nOut; o++) {
      let s = b ? b[o] : 0;
      const wo = o * nIn, xt = t * nIn;
      for (let i = 0; i < nIn; i++) s += x[xt + i] * W[wo + i];
      y[t * nOut + o] = s;
    }
  }
  return y;
}

const silu = (x: number) => x / (1 + Math.exp(-x));
const softplus = (x: number) => (x > 20 ? x : Math.log1p(Math.exp(x)));

function rmsNorm(x: Float64Array, l: number, d: number, w: Float32Array, eps: number): Float64Array {
  const y = new Float64Array(l * d);
  for (let t = 0; t < l; t++) {
    let ss = 0;
    for (let i = 0; i < d; i++) ss += x[t * d + i] ** 2;
    const inv = 1 / Math.sqrt(ss / d + eps);
    for (let i = 0; i < d; i++) y[t * d + i] = x[t * d + i] * inv * w[i];
  }
  return y;
}

function layerNorm(x: Float64Array, l: number, d: number, w: Float32Array, b: Float32Array, eps: number): Float64Array {
  const y = new Float64Array(l * d);
  for (let t = 0; t < l; t++) {
    let mean = 0;
    for (let i = 0; i < d; i++) mean += x[t * d + i];
    mean /= d;
    let v = 0;
    for (let i = 0; i < d; i++) v += (x[t * d + i] - mean) ** 2;
    const inv = 1 / Math.sqrt(v / d + eps);
    for (let i = 0; i < d; i++) y[t * d + i] = (x[t * d + i] - mean) * inv * w[i] + b[i];
  }
  return y;
}

/** erf to ~1e-15 (series for small |x|, continued fraction via erfc otherwise). */
export function erf(x: number): number {
  const ax = Math.abs(x);
  if (ax < 2.5) {
    let sum = ax, term = ax;
    for (let k = 1; k < 80; k++) {
      term *= (-ax * ax) / k;
      const add = term / (2 * k + 1);
      sum += add;
      if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
    }
    return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * sum;
  }
  // erfc continued fraction (Lentz) for ax ≥ 2.5
  let f = ax, C = ax, D = 0;
  for (let k = 1; k < 200; k++) {
    const an = k / 2;
    D = ax + an * D; D = 1 / D;
    C = ax + an / C;
    const delta = C * D;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  const erfc = Math.exp(-ax * ax) / Math.sqrt(Math.PI) / f;
  return Math.sign(x) * (1 - erfc);
}
const gelu = (x: number) => 0.5 * x * (1 + erf(x / Math.SQRT2));

/** Mamba LM forward over `ids` from zero state: logits [l, vocab]. With `diag`, pushes per layer the mean over
 *  channels of Δ_t for every token (the selectivity view's values). */
export function mambaForward(cfg: RefMambaConfig, w: Weights, ids: number[], diag?: Float64Array[]): Float64Array {
  const { d, dIn, n, r, k, vocab } = cfg;
  const l = ids.length;
  const emb = get(w, 'backbone.embeddings.weight');
  let hidden: Float64Array = new Float64Array(l * d); // (l, d)
  ids.forEach((id, t) => { for (let i = 0; i < d; i++) hidden[t * d + i] = emb[id * d + i]; });
  for (let li = 0; li < cfg.layers; li++) {
    const p = `backbone.layers.${li}.`;
    const x0 = rmsNorm(hidden, l, d, get(w, p + 'norm.weight'), cfg.eps); // (l, d)
    const xz = linear(x0, l, d, get(w, p + 'mixer.in_proj.weight'), 2 * dIn, cfg.useBias ? get(w, p + 'mixer.in_proj.bias') : undefined); // (l, 2·d_in)
    const convW = get(w, p + 'mixer.conv1d.weight'); // (d_in, 1, k)
    const convB = cfg.useConvBias ? get(w, p + 'mixer.conv1d.bias') : undefined;
    const u = new Float64Array(l * dIn); // (l, d_in): SiLU(conv1d(x))
    for (let t = 0; t < l; t++) for (let c = 0; c < dIn; c++) {
      let s = convB ? convB[c] : 0;
      for (let j = 0; j < k; j++) {
        const src = t - (k - 1) + j;
        if (src >= 0) s += convW[c * k + j] * xz[src * 2 * dIn + c];
      }
      u[t * dIn + c] = silu(s);
    }
    const dbc = linear(u, l, dIn, get(w, p + 'mixer.x_proj.weight'), r + 2 * n); // (l, r + 2n): Δ_low | B | C
    const dtLow = new Float64Array(l * r);
    for (let t = 0; t < l; t++) for (let i = 0; i < r; i++) dtLow[t * r + i] = dbc[t * (r + 2 * n) + i];
    const dt = linear(dtLow, l, r, get(w, p + 'mixer.dt_proj.weight'), dIn, get(w, p + 'mixer.dt_proj.bias')); // (l, d_in)
    const Alog = get(w, p + 'mixer.A_log'); // (d_in, n)
    const Dp = get(w, p + 'mixer.D'); // (d_in)
    const y = new Float64Array(l * dIn); // (l, d_in)
    const h = new Float64Array(dIn * n); // (d_in, n)
    if (diag) {
      const m = new Float64Array(l); // (l): mean_c Δ[t, c]
      for (let t = 0; t < l; t++) { for (let c = 0; c < dIn; c++) m[t] += softplus(dt[t * dIn + c]) / dIn; }
      diag.push(m);
    }
    for (let t = 0; t < l; t++) {
      const row = t * (r + 2 * n);
      for (let c = 0; c < dIn; c++) {
        const delta = softplus(dt[t * dIn + c]);
        const ut = u[t * dIn + c];
        let acc = 0;
        for (let s = 0; s < n; s++) {
          const A = -Math.exp(Alog[c * n + s]);
          h[c * n + s] = Math.exp(delta * A) * h[c * n + s] + delta * dbc[row + r + s] * ut;
          acc += dbc[row + r + n + s] * h[c * n + s];
        }
        const z = xz[t * 2 * dIn + dIn + c];
        y[t * dIn + c] = (acc + Dp[c] * ut) * silu(z);
      }
    }
    const out = linear(y, l, dIn, get(w, p + 'mixer.out_proj.weight'), d, cfg.useBias ? get(w, p + 'mixer.out_proj.bias') : undefined);
    for (let i = 0; i < hidden.length; i++) hidden[i] += out[i];
  }
  hidden = rmsNorm(hidden, l, d, get(w, 'backbone.norm_f.weight'), cfg.eps);
  const head = cfg.tied ? emb : get(w, 'lm_head.weight');
  return linear(hidden, l, d, head, vocab);
}

/** GPT-NeoX LM forward over `ids` from position 0: logits [l, vocab]. With `diag`, pushes per layer the attention
 *  weights of the last token over every position, averaged over heads (the selectivity view's values). */
export function neoxForward(cfg: RefNeoxConfig, w: Weights, ids: number[], diag?: Float64Array[]): Float64Array {
  const { d, heads, vocab, ffn } = cfg;
  const hd = d / heads;
  // transformers: rot = int(hd · rotary_pct), frequencies θ_j = base^(−2j/rot) for j < ceil(rot/2), each used twice
  // (rotate_half): the first 2·ceil(rot/2) dims rotate (rot + 1 when rot is odd), pairs (j, j + half).
  const rot = Math.floor(hd * cfg.rotaryPct);
  const half = Math.ceil(rot / 2);
  if (2 * half > hd) throw new Error(`reference model: rotary over ${2 * half} dims exceeds head dim ${hd}`);
  const l = ids.length;
  const emb = get(w, 'gpt_neox.embed_in.weight');
  const x = new Float64Array(l * d); // (l, d)
  ids.forEach((id, t) => { for (let i = 0; i < d; i++) x[t * d + i] = emb[id * d + i]; });
  const rope = (v: Float64Array, base: number, pos: number) => {
    const out = new Float64Array(2 * half);
    for (let j = 0; j < half; j++) {
      const ang = pos * Math.pow(cfg.rotaryBase, (-2 * j) / rot);
      const c = Math.cos(ang), s = Math.sin(ang);
      const a = v[base + j], b = v[base + j + half];
      out[j] = a * c - b * s;
      out[j + half] = b * c + a * s;
    }
    for (let j = 0; j < 2 * half; j++) v[base + j] = out[j];
  };
  for (let li = 0; li < cfg.layers; li++) {
    const p = `gpt_neox.layers.${li}.`;
    const h1 = layerNorm(x, l, d, get(w, p + 'input_layernorm.weight'), get(w, p + 'input_layernorm.bias'), cfg.eps);
    const qkv = linear(h1, l, d, get(w, p + 'attention.query_key_value.weight'), 3 * d, w.get(p + 'attention.query_key_value.bias')); // (l, H, 3, hd)
    for (let t = 0; t < l; t++) for (let hh = 0; hh < heads; hh++) {
      rope(qkv, t * 3 * d + hh * 3 * hd, t); // q
      rope(qkv, t * 3 * d + hh * 3 * hd + hd, t); // k
    }
    const att = new Float64Array(l * d); // (l, H·hd)
    const lastRow = new Float64Array(l); // (l): mean_h softmax weights of query l − 1
    const scale = 1 / Math.sqrt(hd);
    for (let hh = 0; hh < heads; hh++) for (let t = 0; t < l; t++) {
      const q = t * 3 * d + hh * 3 * hd;
      const scores = new Float64Array(t + 1);
      let m = -Infinity;
      for (let s = 0; s <= t; s++) {
        let dot = 0;
        const kk = s * 3 * d + hh * 3 * hd + hd;
        for (let i = 0; i < hd; i++) dot += qkv[q + i] * qkv[kk + i];
        scores[s] = dot * scale;
        m = Math.max(m, scores[s]);
      }
      let z = 0;
      for (let s = 0; s <= t; s++) { scores[s] = Math.exp(scores[s] - m); z += scores[s]; }
      if (t === l - 1) for (let s = 0; s <= t; s++) lastRow[s] += scores[s] / z / heads;
      for (let s = 0; s <= t; s++) {
        const vv = s * 3 * d + hh * 3 * hd + 2 * hd;
        for (let i = 0; i < hd; i++) att[t * d + hh * hd + i] += (scores[s] / z) * qkv[vv + i];
      }
    }
    diag?.push(lastRow);
    const attnOut = linear(att, l, d, get(w, p + 'attention.dense.weight'), d, w.get(p + 'attention.dense.bias'));
    const mlp = (inp: Float64Array) => {
      const h2 = layerNorm(inp, l, d, get(w, p + 'post_attention_layernorm.weight'), get(w, p + 'post_attention_layernorm.bias'), cfg.eps);
      const up = linear(h2, l, d, get(w, p + 'mlp.dense_h_to_4h.weight'), ffn, get(w, p + 'mlp.dense_h_to_4h.bias'));
      for (let i = 0; i < up.length; i++) up[i] = gelu(up[i]);
      return linear(up, l, ffn, get(w, p + 'mlp.dense_4h_to_h.weight'), d, get(w, p + 'mlp.dense_4h_to_h.bias'));
    };
    if (cfg.parallelResidual) {
      const m = mlp(x);
      for (let i = 0; i < x.length; i++) x[i] += attnOut[i] + m[i];
    } else {
      for (let i = 0; i < x.length; i++) x[i] += attnOut[i];
      const m = mlp(x);
      for (let i = 0; i < x.length; i++) x[i] += m[i];
    }
  }
  const xf = layerNorm(x, l, d, get(w, 'gpt_neox.final_layer_norm.weight'), get(w, 'gpt_neox.final_layer_norm.bias'), cfg.eps);
  const head = cfg.tied ? emb : w.get('embed_out.weight') ?? get(w, 'lm_head.weight');
  return linear(xf, l, d, head, vocab);
}
