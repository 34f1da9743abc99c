/**
 * CPU reference forward pass of the Mamba-2 LM (Mamba2ForCausalLM), in float64, straight from the equations: the
 * oracle for the GPU model on shapes the golden fixtures do not cover, as ./models.ts is for Mamba-1.
 *
 * Glossary (Dao & Gu 2024, "Transformers are SSMs"; code name → paper symbol):
 *   l  tokens   d  d_model   h  heads   p  head dim   n  state size N   g  groups of B/C   k  conv width
 *   d_in = h·p = expand·d     conv_dim = d_in + 2·g·n (the conv runs over x, B and C together)
 * A block (pre-norm, residual):  (z, xBC, dt) = in_proj(RMSNorm(u));  (x, B, C) = SiLU(conv1d(xBC));
 *   y = SSD(x, Δ = clamp(softplus(dt + dt_bias)), A = −exp(A_log), B, C) + D·x   (./ssd.ts, per head, scalar A)
 *   out = out_proj(rmsnorm_group(y ⊙ SiLU(z)) ⊙ w)   (the norm per group of d_in / g channels, as mamba_ssm)
 */
import type { Mamba2Config } from '../hub/config';
import { linear, type Weights } from './models';
import { gatedRmsNormRef, ssdDiscretize, ssdSequentialRef, type SsdRefInputs } from './ssd';

export interface RefMamba2Config {
  d: number; h: number; p: number; n: number; g: number; k: number; layers: number; vocab: number; eps: number;
  tied: boolean; useBias: boolean; useConvBias: boolean; dtLimit: [number, number];
}

/** The reference config of a parsed Mamba-2 config.json. */
export function refMamba2Config(c: Mamba2Config): RefMamba2Config {
  return {
    d: c.hiddenSize, h: c.numHeads, p: c.headDim, n: c.stateSize, g: c.nGroups, k: c.convKernel, layers: c.numHiddenLayers,
    vocab: c.vocabSize, eps: c.layerNormEpsilon, tied: c.tieWordEmbeddings, useBias: c.useBias, useConvBias: c.useConvBias,
    dtLimit: c.timeStepLimit,
  };
}

function get(w: Weights, name: string): Float32Array {
  const t = w.get(name);
  if (!t) throw new Error(`reference model: missing tensor ${name}`);
  return t;
}

const silu = (x: number) => x / (1 + Math.exp(-x));

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

/** Mamba-2 LM forward over `ids` from zero state: logits [l, vocab]. With `diag`, pushes per layer the mean over
 *  heads of Δ_t for every token (the selectivity view's values). */
export function mamba2Forward(cfg: RefMamba2Config, w: Weights, ids: number[], diag?: Float64Array[]): Float64Array {
  const { d, h, p, n, g, k, vocab } = cfg;
  const l = ids.length;
  const dIn = h * p, cd = dIn + 2 * g * n, proj = dIn + cd + h;
  const emb = get(w, 'backbone.embeddings.weight');
  let hidden: Float64Array = new Float64Array(l * d); // (l, d)
  ids.forEach((id, t) => { for (let i = 0; i < d; i++) hidden[t * d + i] = emb[id * d + i]; });
  for (let li = 0; li < cfg.layers; li++) {
    const pre = `backbone.layers.${li}.`;
    const u = rmsNorm(hidden, l, d, get(w, pre + 'norm.weight'), cfg.eps); // (l, d)
    const zxbcdt = linear(u, l, d, get(w, pre + 'mixer.in_proj.weight'), proj, cfg.useBias ? get(w, pre + 'mixer.in_proj.bias') : undefined); // (l, d_in + conv_dim + h)
    const convW = get(w, pre + 'mixer.conv1d.weight'); // (conv_dim, 1, k)
    const convB = cfg.useConvBias ? get(w, pre + 'mixer.conv1d.bias') : undefined; // (conv_dim)
    const xbc = new Float64Array(l * cd); // (l, conv_dim): SiLU(conv1d(xBC)) = x | B | C
    for (let t = 0; t < l; t++) for (let c = 0; c < cd; c++) {
      let s = convB ? convB[c] : 0;
      for (let j = 0; j < k; j++) {
        const src = t - (k - 1) + j;
        if (src >= 0) s += convW[c * k + j] * zxbcdt[src * proj + dIn + c];
      }
      xbc[t * cd + c] = silu(s);
    }
    const ssd: SsdRefInputs = {
      L: l, H: h, P: p, N: n, G: g,
      x: { data: xbc, offset: 0, rowStride: cd },                // (l, h·p)
      B: { data: xbc, offset: dIn, rowStride: cd },              // (l, g·n)
      C: { data: xbc, offset: dIn + g * n, rowStride: cd },      // (l, g·n)
      dt: { data: zxbcdt, offset: dIn + cd, rowStride: proj },   // (l, h)
      aLog: get(w, pre + 'mixer.A_log'), D: get(w, pre + 'mixer.D'), dtBias: get(w, pre + 'mixer.dt_bias'), dtLimit: cfg.dtLimit,
    };
    if (diag) {
      const { dt } = ssdDiscretize(ssd); // (l, h)
      const m = new Float64Array(l);
      for (let t = 0; t < l; t++) for (let i = 0; i < h; i++) m[t] += dt[t * h + i] / h;
      diag.push(m);
    }
    const { y } = ssdSequentialRef(ssd); // (l, d_in)
    const yn = gatedRmsNormRef({ data: y, rowStride: dIn }, { data: zxbcdt, offset: 0, rowStride: proj }, get(w, pre + 'mixer.norm.weight'), l, dIn, g, cfg.eps); // (l, d_in)
    const out = linear(yn, l, dIn, get(w, pre + 'mixer.out_proj.weight'), d, cfg.useBias ? get(w, pre + 'mixer.out_proj.bias') : undefined); // (l, d)
    for (let i = 0; i < hidden.length; i++) hidden[i] += out[i];
  }
  hidden = rmsNorm(hidden, l, d, get(w, 'backbone.norm_f.weight'), cfg.eps);
  const head = cfg.tied ? emb : get(w, 'lm_head.weight');
  return linear(hidden, l, d, head, vocab);
}
