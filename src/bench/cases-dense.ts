/**
 * Benchmark cases for the dense and elementwise kernels both models share: tiled matmul (prefill Linear layers and
 * the LM head), matvec (decode Linear layers, the decode bottleneck: report GB/s), norms, elementwise, embedding,
 * argmax and sampling. Default shapes are the real ones of the 130M–160M models (d_model 768, Mamba in_proj
 * 768 → 3072, GPT-NeoX qkv 768 → 2304 and MLP 768 → 3072, vocab 50280); `quick` uses small shapes for SwiftShader.
 *
 * Bytes are the minimum a kernel must move (weights read once, activations read once, outputs written once);
 * matmul flops = 2·M·N·K.
 */
import type { BenchCase } from './harness';
import type { GpuContext } from '../gpu/context';
import { MatmulKernel, uploadLinear, releaseLinear, type WeightDType } from '../kernels/matmul';
import { MatvecKernel } from '../kernels/matvec';
import { RMSNormKernel, LayerNormKernel } from '../kernels/norm';
import { ElementwiseKernel, type UnaryOp } from '../kernels/elementwise';
import { EmbeddingKernel } from '../kernels/embedding';
import { SamplerKernel, type SamplingParams } from '../kernels/sampling';

function fill(n: number, seed: number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  let a = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    a = (Math.imul(a, 1664525) + 1013904223) >>> 0;
    out[i] = (a / 4294967296 - 0.5) * 2 * scale;
  }
  return out;
}

const wBytes = (dtype: WeightDType, N: number, K: number) => N * K * (dtype === 'f32' ? 4 : 2);

function matmulCase(M: number, K: number, N: number, dtype: WeightDType, label = ''): BenchCase {
  return {
    kernel: `matmul/${dtype}${label}`,
    shape: `M=${M} K=${K} N=${N}`,
    bytes: wBytes(dtype, N, K) + 4 * (M * K + M * N),
    flops: 2 * M * N * K,
    tokens: M,
    setup(ctx: GpuContext) {
      const w = uploadLinear(ctx, fill(N * K, 1, 0.05), N, K, { dtype, label: 'bench.w' });
      const x = ctx.upload(fill(M * K, 2), 'activations', 'bench.x');
      const y = ctx.buffer(M * N * 4, 'activations', 'bench.y');
      const k = new MatmulKernel(ctx);
      return {
        encode: (pass) => k.encode(pass, x, w, y, M),
        cleanup: () => {
          releaseLinear(ctx, w);
          ctx.pool.release(x);
          ctx.pool.release(y);
        },
      };
    },
  };
}

function matvecCase(K: number, N: number, dtype: WeightDType, rows?: number, rpt?: number): BenchCase {
  return {
    kernel: `matvec/${dtype}${rows ? `/r${rows}` : ''}${rpt ? `/t${rpt}` : ''}`,
    shape: `K=${K} N=${N}`,
    bytes: wBytes(dtype, N, K) + 4 * (K + N),
    flops: 2 * N * K,
    tokens: 1,
    setup(ctx: GpuContext) {
      const w = uploadLinear(ctx, fill(N * K, 3, 0.05), N, K, { dtype, label: 'bench.w' });
      const x = ctx.upload(fill(K, 4), 'activations', 'bench.x');
      const y = ctx.buffer(N * 4, 'activations', 'bench.y');
      const k = new MatvecKernel(ctx, { rowsPerWorkgroup: rows, rowsPerThread: rpt });
      return {
        encode: (pass) => k.encode(pass, x, w, y),
        cleanup: () => {
          releaseLinear(ctx, w);
          ctx.pool.release(x);
          ctx.pool.release(y);
        },
      };
    },
  };
}

function normCase(kind: 'rmsnorm' | 'add+rmsnorm' | 'layernorm', L: number, d: number): BenchCase {
  const fused = kind === 'add+rmsnorm';
  return {
    kernel: `norm/${kind}`,
    shape: `L=${L} d=${d}`,
    bytes: 4 * L * d * (fused ? 4 : 2),
    flops: 4 * L * d,
    tokens: L,
    setup(ctx: GpuContext) {
      const x = ctx.upload(fill(L * d, 5), 'activations');
      const r = ctx.upload(fill(L * d, 6), 'activations');
      const y = ctx.buffer(L * d * 4, 'activations');
      const w = ctx.upload(fill(d, 7), 'weights');
      const b = ctx.upload(fill(d, 8), 'weights');
      const rms = new RMSNormKernel(ctx, d);
      const ln = new LayerNormKernel(ctx, d);
      const encode =
        kind === 'rmsnorm' ? (pass: GPUComputePassEncoder) => rms.encode(pass, x, w, y, L)
        : kind === 'add+rmsnorm' ? (pass: GPUComputePassEncoder) => rms.encodeAdd(pass, x, r, w, y, L)
        : (pass: GPUComputePassEncoder) => ln.encode(pass, x, w, b, y, L);
      return { encode, cleanup: () => [x, r, y, w, b].forEach((t) => ctx.pool.release(t)) };
    },
  };
}

function elementwiseCase(op: UnaryOp | 'gate' | 'add3', rows: number, cols: number): BenchCase {
  const nIn = op === 'gate' ? 2 : op === 'add3' ? 3 : 1;
  return {
    kernel: `elementwise/${op}`,
    shape: `[${rows}, ${cols}]`,
    bytes: 4 * rows * cols * (nIn + 1),
    flops: rows * cols * (op === 'gelu' ? 30 : 5),
    setup(ctx: GpuContext) {
      const ins = [0, 1, 2].slice(0, nIn).map((i) => ctx.upload(fill(rows * cols, 10 + i), 'activations'));
      const out = ctx.buffer(rows * cols * 4, 'activations');
      const k = new ElementwiseKernel(ctx);
      const encode =
        op === 'gate' ? (pass: GPUComputePassEncoder) => k.gate(pass, ins[0], ins[1], out, rows, cols)
        : op === 'add3' ? (pass: GPUComputePassEncoder) => k.add(pass, ins, out, rows, cols)
        : (pass: GPUComputePassEncoder) => k.unary(pass, op, ins[0], out, rows, cols);
      return { encode, cleanup: () => [...ins, out].forEach((t) => ctx.pool.release(t)) };
    },
  };
}

function embeddingCase(L: number, vocab: number, d: number, dtype: WeightDType): BenchCase {
  return {
    kernel: `embedding/${dtype}`,
    shape: `L=${L} V=${vocab} d=${d}`,
    bytes: L * d * (dtype === 'f32' ? 8 : 6) + 4 * L,
    flops: 0,
    tokens: L,
    setup(ctx: GpuContext) {
      const table = uploadLinear(ctx, fill(vocab * d, 12), vocab, d, { dtype, label: 'bench.emb' });
      const ids = ctx.upload(Uint32Array.from({ length: L }, (_, i) => (i * 7919) % vocab), 'activations');
      const out = ctx.buffer(L * d * 4, 'activations');
      const k = new EmbeddingKernel(ctx);
      return {
        encode: (pass) => k.encode(pass, ids, table, out, L),
        cleanup: () => {
          releaseLinear(ctx, table);
          ctx.pool.release(ids);
          ctx.pool.release(out);
        },
      };
    },
  };
}

function samplingCase(V: number, name: string, params: SamplingParams): BenchCase {
  return {
    kernel: `sampling/${name}`,
    shape: `V=${V}`,
    bytes: 4 * V,
    flops: 0,
    tokens: 1,
    setup(ctx: GpuContext) {
      const logits = ctx.upload(fill(V, 13, 8), 'activations');
      const out = ctx.buffer(16, 'activations');
      const k = new SamplerKernel(ctx);
      let step = 0;
      return {
        encode: (pass) => k.sample(pass, logits, V, out, 0, params, { seed: 1, step: step++ }),
        cleanup: () => {
          ctx.pool.release(logits);
          ctx.pool.release(out);
        },
      };
    },
  };
}

export interface DenseBenchOptions {
  /** Small shapes for SwiftShader. */
  quick?: boolean;
}

export function denseBenchCases(opts: DenseBenchOptions = {}): BenchCase[] {
  if (opts.quick) {
    return [
      matmulCase(64, 256, 512, 'f32'),
      matmulCase(64, 256, 512, 'f16'),
      matmulCase(3, 256, 5000, 'f16', ' (lm-head)'),
      matmulCase(64, 250, 512, 'f32', ' (K tail)'), // per-element loads (K % 4 ≠ 0) beside the vec4 case above
      matvecCase(256, 4096, 'f32'),
      matvecCase(256, 4096, 'f16'),
      normCase('rmsnorm', 64, 768),
      normCase('add+rmsnorm', 64, 768),
      normCase('layernorm', 64, 768),
      elementwiseCase('gelu', 64, 1024),
      elementwiseCase('gate', 64, 1024),
      embeddingCase(64, 5000, 256, 'f16'),
      samplingCase(5000, 'argmax', { temperature: 0 }),
      samplingCase(5000, 'top-k50-p0.9', { temperature: 0.8, topK: 50, topP: 0.9 }),
      samplingCase(5000, 'full', { temperature: 1 }),
    ];
  }
  const V = 50280;
  return [
    matmulCase(512, 768, 2304, 'f32'),
    matmulCase(512, 768, 2304, 'f16'),
    matmulCase(512, 766, 2304, 'f32', ' (K tail)'), // per-element loads (K % 4 ≠ 0) beside the vec4 cases above
    matmulCase(512, 764, 2304, 'f16', ' (K tail)'), // K % 8 ≠ 0
    matmulCase(2048, 768, 3072, 'f32'),
    matmulCase(2048, 768, 3072, 'f16'),
    matmulCase(2048, 3072, 768, 'f32'),
    matmulCase(512, 768, V, 'f32', ' (lm-head)'),
    matmulCase(512, 768, V, 'f16', ' (lm-head)'),
    matvecCase(768, 2304, 'f32'),
    matvecCase(768, 3072, 'f32'),
    matvecCase(768, 3072, 'f16'),
    matvecCase(3072, 768, 'f32'),
    matvecCase(768, V, 'f32'),
    matvecCase(768, V, 'f16'),
    matvecCase(768, V, 'f32', 8, 1),
    matvecCase(768, V, 'f32', 8, 4),
    matvecCase(768, V, 'f32', 4, 2),
    matvecCase(768, V, 'f16', 8, 1),
    matvecCase(768, V, 'f16', 8, 4),
    matvecCase(768, V, 'f16', 4, 2),
    matvecCase(768, V, 'f16', 16, 2),
    matvecCase(3072, 768, 'f16'),
    matvecCase(3072, 768, 'f16', 4, 1),
    normCase('rmsnorm', 2048, 768),
    normCase('add+rmsnorm', 2048, 768),
    normCase('layernorm', 2048, 768),
    normCase('add+rmsnorm', 1, 768),
    elementwiseCase('gelu', 2048, 3072),
    elementwiseCase('gate', 2048, 1536),
    elementwiseCase('add3', 2048, 768),
    embeddingCase(2048, V, 768, 'f32'),
    embeddingCase(1, V, 768, 'f16'),
    samplingCase(V, 'argmax', { temperature: 0 }),
    samplingCase(V, 'top-k50-p0.9', { temperature: 0.8, topK: 50, topP: 0.9 }),
    samplingCase(V, 'top-p0.95', { temperature: 1, topP: 0.95 }),
    samplingCase(V, 'full', { temperature: 1 }),
  ];
}
