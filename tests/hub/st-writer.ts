// Test helper: write safetensors files (and tiny model folders) in memory.
import { f32ToF16Bits } from '../../src/hub/dtype';

export interface WTensor {
  name: string;
  dtype: 'F32' | 'F16' | 'BF16' | 'BOOL' | 'I64' | 'U8';
  shape: number[];
  /** values (converted to dtype); default: a deterministic ramp */
  data?: ArrayLike<number>;
}

export function ramp(n: number, seed = 0): number[] {
  return Array.from({ length: n }, (_, i) => Math.sin(i * 0.37 + seed) * 2 + (i % 7) * 0.125);
}

function bf16Bits(x: number): number {
  const f = new Float32Array([x]);
  const u = new Uint32Array(f.buffer)[0];
  const round = ((u >> 16) & 1) + 0x7fff; // round to nearest even
  return ((u + round) >>> 16) & 0xffff;
}

export function encodeTensor(t: WTensor): Uint8Array {
  const n = t.shape.reduce((a, b) => a * b, 1);
  const vals = t.data ?? ramp(n, t.name.length);
  if (vals.length !== n) throw new Error(`${t.name}: ${vals.length} values for shape [${t.shape}]`);
  switch (t.dtype) {
    case 'F32':
      return new Uint8Array(Float32Array.from(vals).buffer);
    case 'F16':
      return new Uint8Array(Uint16Array.from(Array.from(vals, f32ToF16Bits)).buffer);
    case 'BF16':
      return new Uint8Array(Uint16Array.from(Array.from(vals, bf16Bits)).buffer);
    case 'BOOL':
    case 'U8':
      return Uint8Array.from(vals);
    case 'I64':
      return new Uint8Array(BigInt64Array.from(Array.from(vals, (v) => BigInt(Math.round(v)))).buffer);
  }
}

/**
 * Build a safetensors file. `order` permutes where tensors go in the data section (header key order stays the
 * given order) so file order ≠ header order can be tested; `gap` inserts padding bytes between tensors.
 */
export function writeSafetensors(
  tensors: WTensor[],
  opts: { metadata?: Record<string, string>; order?: number[]; gap?: number } = {},
): Uint8Array {
  const blobs = tensors.map(encodeTensor);
  const order = opts.order ?? tensors.map((_, i) => i);
  const offsets = new Array<[number, number]>(tensors.length);
  let pos = 0;
  for (const i of order) {
    offsets[i] = [pos, pos + blobs[i].byteLength];
    pos += blobs[i].byteLength + (opts.gap ?? 0);
  }
  const dataLen = pos - (order.length ? opts.gap ?? 0 : 0);
  const header: Record<string, unknown> = {};
  if (opts.metadata) header.__metadata__ = opts.metadata;
  tensors.forEach((t, i) => (header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: offsets[i] }));
  return assemble(JSON.stringify(header), blobs, offsets, dataLen);
}

/** Assemble with a raw header string (for corrupt-header tests). */
export function assemble(headerJson: string, blobs: Uint8Array[] = [], offsets: [number, number][] = [], dataLen = 0): Uint8Array {
  let h = new TextEncoder().encode(headerJson);
  const padded = Math.ceil(h.byteLength / 8) * 8;
  if (padded !== h.byteLength) {
    const p = new Uint8Array(padded).fill(0x20);
    p.set(h);
    h = p;
  }
  const out = new Uint8Array(8 + h.byteLength + dataLen);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.byteLength), true);
  out.set(h, 8);
  blobs.forEach((b, i) => out.set(b, 8 + h.byteLength + offsets[i][0]));
  return out;
}

/** A ReadableStream delivering `bytes` in chunks of `chunk` bytes. */
export function chunkedStream(bytes: Uint8Array, chunk: number): ReadableStream<Uint8Array> {
  let pos = 0;
  return new ReadableStream<Uint8Array>({
    pull(c) {
      if (pos >= bytes.byteLength) return c.close();
      c.enqueue(bytes.slice(pos, pos + chunk));
      pos += chunk;
    },
  });
}
