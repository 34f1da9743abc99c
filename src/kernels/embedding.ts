/**
 * Embedding gather (shaders/embedding.wgsl): out[t, :] = E[ids[idsOff + t], :] with ids read from a u32 GPU buffer,
 * so decode can gather the token the sampler just wrote into the token-history buffer without a readback.
 * E is a LinearWeights-style [vocab, d] table (f32 or packed f16, possibly split into row blocks: one dispatch per
 * block). Ids ≥ vocab give a zero row; when the ids are known on the CPU, pass them to have them checked first.
 */
import type { GpuContext } from '../gpu/context';
import { ComputeKernel } from '../gpu/kernel';
import { asView, checkView, checkWeights, type LinearWeights, type ViewLike } from './matmul';

export class EmbeddingKernel {
  private readonly f32: ComputeKernel;
  private readonly f16: ComputeKernel;

  constructor(ctx: GpuContext) {
    this.f32 = new ComputeKernel(ctx, 'embedding', { constants: { W_F16: 0 } });
    this.f16 = new ComputeKernel(ctx, 'embedding', { constants: { W_F16: 1 } });
  }

  /**
   * out[L, d] (buffer or strided view) = table rows for ids[idsOffset .. idsOffset + L).
   * `knownIds`: the same ids on the CPU, validated against the vocabulary (throws on out-of-range ids).
   */
  encode(pass: GPUComputePassEncoder, ids: GPUBuffer, table: LinearWeights, out: ViewLike, L: number, idsOffset = 0, knownIds?: ArrayLike<number>): void {
    const vocab = table.rows;
    const d = table.cols;
    const what = `embedding L=${L} vocab=${vocab} d=${d}`;
    checkWeights(what, table);
    if (!(L >= 1 && Number.isInteger(L))) throw new Error(`${what}: L must be a positive integer`);
    if (ids.size < (idsOffset + L) * 4) throw new Error(`${what}: ids buffer holds ${ids.size / 4} ids, needs ${idsOffset + L}`);
    const ov = asView(out, d);
    checkView(`${what} out`, ov, L, d);
    if (knownIds) {
      if (knownIds.length < L) throw new Error(`${what}: ${knownIds.length} known ids for L = ${L}`);
      for (let t = 0; t < L; t++) {
        const id = knownIds[t];
        if (!Number.isInteger(id) || id < 0 || id >= vocab) throw new Error(`${what}: token id ${id} at position ${t} is outside [0, ${vocab})`);
      }
    }
    const k = table.dtype === 'f16' ? this.f16 : this.f32;
    const grid: [number, number, number] = [Math.ceil(d / 256), Math.min(L, 32768), Math.ceil(L / 32768)];
    let r0 = 0;
    table.blocks.forEach((b, i) => {
      const u = {
        L, d, idsOff: idsOffset, rowStart: r0, blockRows: b.rows, vocab, outOff: ov.offset, outStride: ov.rowStride,
        zeroOOR: i === 0 ? 1 : 0,
      };
      k.dispatch(pass, u, [ids, b.buffer, ov.buffer], grid);
      r0 += b.rows;
    });
  }
}

/**
 * The decode form (shaders/decode_embed.wgsl): out[0, :] = E[history[state[0]], :], the token at the position the
 * GPU-side decode state holds. One kernel per table block (the block's rows are override constants), made once and
 * recorded into a decode step.
 */
export class DecodeEmbedding {
  private readonly kernels: ComputeKernel[];

  constructor(ctx: GpuContext, readonly table: LinearWeights) {
    checkWeights('decode embedding', table);
    let r0 = 0;
    this.kernels = table.blocks.map((b, i) => {
      const k = new ComputeKernel(ctx, 'decode_embed', { constants: {
        D: table.cols, ROW_START: r0, BLOCK_ROWS: b.rows, VOCAB: table.rows, ZERO_OOR: i === 0 ? 1 : 0, W_F16: table.dtype === 'f16' ? 1 : 0,
      } });
      r0 += b.rows;
      return k;
    });
  }

  private io(history: GPUBuffer, state: GPUBuffer, out: GPUBuffer): void {
    if (out.size < this.table.cols * 4) throw new Error(`decode embedding: out needs ${this.table.cols} floats`);
    if (state.size < 4) throw new Error('decode embedding: state buffer is empty');
    if (out === history || out === state) throw new Error('decode embedding: out must be its own buffer');
  }

  encode(pass: GPUComputePassEncoder, history: GPUBuffer, state: GPUBuffer, out: GPUBuffer): void {
    this.io(history, state, out);
    this.table.blocks.forEach((b, i) => this.kernels[i].dispatch(pass, null, [history, state, b.buffer, out], [Math.ceil(this.table.cols / 256)]));
  }

  /** One (kernel, bind group, grid) per table block, for a DispatchList. */
  bind(history: GPUBuffer, state: GPUBuffer, out: GPUBuffer): { kernel: ComputeKernel; group: GPUBindGroup; grid: [number] }[] {
    this.io(history, state, out);
    return this.table.blocks.map((b, i) => ({
      kernel: this.kernels[i], group: this.kernels[i].bindGroup(null, [history, state, b.buffer, out]), grid: [Math.ceil(this.table.cols / 256)] as [number],
    }));
  }
}
