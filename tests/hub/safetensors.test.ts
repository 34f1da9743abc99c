import { describe, expect, it } from 'vitest';
import {
  bf16BitsToF32, f16BitsToF32, f16BytesToF32, f32ToF16Bits, f32ToF16Packed, toF16Packed, toF32,
} from '../../src/hub/dtype';
import {
  loadSafetensorsFromBuffer, parseSafetensorsHeader, parseShardIndex, streamSafetensors, streamShardedSafetensors,
  SafetensorsError,
} from '../../src/hub/safetensors';
import { assemble, chunkedStream, encodeTensor, ramp, writeSafetensors, type WTensor } from './st-writer';

describe('dtype conversions', () => {
  it('f16 bits ↔ f32 on special values', () => {
    expect(f16BitsToF32(0x3c00)).toBe(1);
    expect(f16BitsToF32(0xc000)).toBe(-2);
    expect(f16BitsToF32(0x7bff)).toBe(65504);
    expect(f16BitsToF32(0x0001)).toBe(2 ** -24);
    expect(f16BitsToF32(0x7c00)).toBe(Infinity);
    expect(f16BitsToF32(0xfc00)).toBe(-Infinity);
    expect(f16BitsToF32(0x7e00)).toBeNaN();
    expect(Object.is(f16BitsToF32(0x8000), -0)).toBe(true);
    expect(f32ToF16Bits(1)).toBe(0x3c00);
    expect(f32ToF16Bits(65504)).toBe(0x7bff);
    expect(f32ToF16Bits(65520)).toBe(0x7c00); // rounds to inf
    expect(f32ToF16Bits(2 ** -24)).toBe(1);
    expect(f32ToF16Bits(2 ** -25)).toBe(0); // tie → even (0)
    expect(f32ToF16Bits(1 + 2 ** -11)).toBe(0x3c00); // tie → even
    expect(f32ToF16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie → even (up)
    expect(f32ToF16Bits(NaN) & 0x7c00).toBe(0x7c00);
    // every finite half round-trips
    let bad = 0;
    for (let h = 0; h < 0x10000; h++) {
      if ((h & 0x7c00) !== 0x7c00 && f32ToF16Bits(f16BitsToF32(h)) !== h) bad++;
    }
    expect(bad).toBe(0);
  });

  it('bf16 and packed f16', () => {
    expect(bf16BitsToF32(0x3f80)).toBe(1);
    expect(bf16BitsToF32(0xc040)).toBe(-3);
    const packed = f32ToF16Packed([1, -2, 0.5]);
    expect(Array.from(packed)).toEqual([(0xc000 << 16 | 0x3c00) >>> 0, 0x3800]);
    const f16bytes = encodeTensor({ name: 'x', dtype: 'F16', shape: [4], data: [1, 2, 3, 4] });
    expect(Array.from(toF16Packed('F16', f16bytes))).toEqual(Array.from(f32ToF16Packed([1, 2, 3, 4])));
    expect(Array.from(toF16Packed('F32', encodeTensor({ name: 'x', dtype: 'F32', shape: [3], data: [1, 2, 3] })))).toEqual(Array.from(f32ToF16Packed([1, 2, 3])));
    // misaligned input
    const buf = new Uint8Array(9);
    buf.set(f16bytes.subarray(0, 8), 1);
    expect(Array.from(f16BytesToF32(buf.subarray(1)))).toEqual([1, 2, 3, 4]);
  });
});

const TENSORS: WTensor[] = [
  { name: 'a.f32', dtype: 'F32', shape: [3, 5] },
  { name: 'b.f16', dtype: 'F16', shape: [7] },
  { name: 'c.bf16', dtype: 'BF16', shape: [2, 3, 2] },
  { name: 'scalar', dtype: 'F32', shape: [] },
  { name: 'empty', dtype: 'F32', shape: [0, 4] },
];

function expectedValues(t: WTensor): number[] {
  const n = t.shape.reduce((a, b) => a * b, 1);
  const vals = ramp(n, t.name.length);
  if (t.dtype === 'F32') return Array.from(Float32Array.from(vals));
  // after the 16-bit encoding
  return Array.from(toF32(t.dtype as 'F16' | 'BF16', encodeTensor(t)));
}

describe('safetensors', () => {
  it('round-trips F32/F16/BF16 through the buffer loader', () => {
    const file = writeSafetensors(TENSORS, { metadata: { format: 'pt' } });
    const { header, tensors } = loadSafetensorsFromBuffer(file.buffer as ArrayBuffer);
    expect(header.metadata).toEqual({ format: 'pt' });
    expect(header.dataOffset % 8).toBe(0);
    for (const t of TENSORS) {
      const got = tensors.get(t.name)!;
      expect(got.shape).toEqual(t.shape);
      expect(got.dtype).toBe(t.dtype);
      expect(Array.from(toF32(got.dtype, got.bytes))).toEqual(expectedValues(t));
    }
    // f16/bf16 values are close to the originals
    const b = toF32('F16', tensors.get('b.f16')!.bytes);
    ramp(7, 5).forEach((v, i) => expect(Math.abs(b[i] - v)).toBeLessThan(2e-3));
  });

  for (const chunk of [1, 3, 7, 64, 1 << 20]) {
    it(`streams tensors in file order with ${chunk}-byte chunks`, async () => {
      // data section order differs from header key order; gaps between tensors
      const file = writeSafetensors(TENSORS, { order: [2, 0, 4, 3, 1], gap: 5 });
      const got: string[] = [];
      const progress: number[] = [];
      const res = await streamSafetensors(chunkedStream(file, chunk), {
        totalBytes: file.byteLength,
        onProgress: (loaded, total) => {
          expect(total).toBe(file.byteLength);
          progress.push(loaded);
        },
        onTensor: async (name, dtype, shape, bytes) => {
          got.push(name);
          const t = TENSORS.find((x) => x.name === name)!;
          expect(shape).toEqual(t.shape);
          expect(bytes.byteOffset).toBe(0);
          expect(Array.from(toF32(dtype, bytes))).toEqual(expectedValues(t));
          // the callback runs as soon as the tensor is complete: not everything has been read yet (for small chunks)
          if (chunk === 1 && name === 'c.bf16') expect(progress[progress.length - 1]).toBeLessThan(file.byteLength);
          await new Promise((r) => setTimeout(r, 0));
        },
      });
      expect(got).toEqual(['c.bf16', 'a.f32', 'empty', 'scalar', 'b.f16']);
      expect(res.bytesRead).toBe(file.byteLength);
      expect(progress[progress.length - 1]).toBe(file.byteLength);
      for (let i = 1; i < progress.length; i++) expect(progress[i]).toBeGreaterThan(progress[i - 1]);
    });
  }

  it('filter skips tensors (any dtype) without handing them over', async () => {
    const file = writeSafetensors([
      { name: 'w', dtype: 'F32', shape: [4] },
      { name: 'mask', dtype: 'BOOL', shape: [1, 1, 4, 4], data: new Array(16).fill(1) },
      { name: 'steps', dtype: 'I64', shape: [2], data: [1, 2] },
      { name: 'v', dtype: 'F16', shape: [3] },
    ]);
    const got: string[] = [];
    const res = await streamSafetensors(chunkedStream(file, 5), {
      filter: (t) => t.dtype !== 'BOOL' && t.dtype !== 'I64',
      onTensor: (name) => void got.push(name),
    });
    expect(got).toEqual(['w', 'v']);
    expect(res.skipped).toEqual(['mask', 'steps']);
  });

  it('rejects non-float dtypes that are not filtered out, before reading the data', async () => {
    const file = writeSafetensors([{ name: 'ids', dtype: 'I64', shape: [2], data: [1, 2] }]);
    await expect(streamSafetensors(chunkedStream(file, 4), { onTensor: () => {} })).rejects.toThrow(
      /tensor "ids" has dtype I64; only F32, F16 and BF16/,
    );
    expect(() => loadSafetensorsFromBuffer(file)).toThrow(/has dtype I64/);
  });

  it('reports header errors clearly', () => {
    const e = (hdr: unknown) => () => loadSafetensorsFromBuffer(assemble(JSON.stringify(hdr), [], [], 64).buffer as ArrayBuffer, { fileName: 'x.safetensors' });
    expect(e({ t: { dtype: 'F8', shape: [2], data_offsets: [0, 2] } })).toThrow(/x.safetensors: tensor "t": unknown dtype "F8"/);
    expect(e({ t: { dtype: 'F32', shape: [2, 3], data_offsets: [0, 20] } })).toThrow(/span 20 bytes, but shape \[2, 3\] of F32 needs 24/);
    expect(e({ t: { dtype: 'F32', shape: [2], data_offsets: [8, 0] } })).toThrow(/end before they begin/);
    expect(e({ t: { dtype: 'F32', shape: [2.5], data_offsets: [0, 8] } })).toThrow(/shape must be a list of non-negative integers/);
    expect(e({ a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] }, b: { dtype: 'F32', shape: [2], data_offsets: [8, 16] } })).toThrow(
      /tensors "a" \[0, 16\) and "b" \[8, 16\) overlap/,
    );
    expect(e({ a: { dtype: 'F32', shape: [100], data_offsets: [0, 400] } })).toThrow(/"a" ends at file byte \d+, beyond the file size/);
    expect(e({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, __metadata__: { k: 'v' } })).not.toThrow();
    expect(() => parseSafetensorsHeader('{"a": ')).toThrow(/header is not valid JSON/);
    expect(() => parseSafetensorsHeader('[1]')).toThrow(/header must be a JSON object/);
    // header length nonsense (e.g. an HTML error page)
    const html = new TextEncoder().encode('<!doctype html><html>not found</html>');
    expect(() => loadSafetensorsFromBuffer(html)).toThrow(/header length \d+ is over the .* limit; this is not a safetensors file/);
    expect(() => loadSafetensorsFromBuffer(new Uint8Array(4))).toThrow(/too short for a safetensors header/);
    const big = new Uint8Array(16);
    new DataView(big.buffer).setBigUint64(0, 1000n, true);
    expect(() => loadSafetensorsFromBuffer(big)).toThrow(/header length 1000 runs past the file size 16/);
  });

  it('detects truncated streams', async () => {
    const file = writeSafetensors(TENSORS);
    const cut = file.subarray(0, file.byteLength - 3);
    const got: string[] = [];
    await expect(streamSafetensors(chunkedStream(cut, 16), { onTensor: (n) => void got.push(n) })).rejects.toThrow(
      /truncated: the download ended after \d+ bytes, but the header says the file runs to byte \d+/,
    );
    await expect(streamSafetensors(chunkedStream(file.subarray(0, 20), 16), { onTensor: () => {} })).rejects.toThrow(SafetensorsError);
    await expect(streamSafetensors(chunkedStream(file, 16), { totalBytes: file.byteLength - 3, onTensor: () => {} })).rejects.toThrow(/beyond the file size/);
  });

  it('stops with an AbortError when the signal fires mid-stream', async () => {
    const file = writeSafetensors(TENSORS);
    const ctl = new AbortController();
    const got: string[] = [];
    await expect(
      streamSafetensors(chunkedStream(file, 8), {
        signal: ctl.signal,
        onTensor: (n) => {
          got.push(n);
          ctl.abort();
        },
      }),
    ).rejects.toMatchObject({ name: 'AbortError' });
    expect(got.length).toBe(1);
  });

  it('streams a sharded checkpoint via the index', async () => {
    const shard1 = writeSafetensors([TENSORS[0], TENSORS[1]]);
    const shard2 = writeSafetensors([TENSORS[2]]);
    const files: Record<string, Uint8Array> = { 'model-00001-of-00002.safetensors': shard1, 'model-00002-of-00002.safetensors': shard2 };
    const index = parseShardIndex({
      metadata: { total_size: 123 },
      weight_map: { 'a.f32': 'model-00001-of-00002.safetensors', 'c.bf16': 'model-00002-of-00002.safetensors', 'b.f16': 'model-00001-of-00002.safetensors' },
    });
    expect(index.shards).toEqual(['model-00001-of-00002.safetensors', 'model-00002-of-00002.safetensors']);
    expect(index.totalSize).toBe(123);
    const got: string[] = [];
    const open = async (f: string) => ({ stream: chunkedStream(files[f], 9), size: files[f].byteLength });
    await streamShardedSafetensors(index, open, { onTensor: (n) => void got.push(n) });
    expect(got.sort()).toEqual(['a.f32', 'b.f16', 'c.bf16']);

    const wrong = parseShardIndex({ weight_map: { 'a.f32': 'model-00002-of-00002.safetensors', 'b.f16': 'model-00001-of-00002.safetensors', 'c.bf16': 'model-00002-of-00002.safetensors' } });
    await expect(streamShardedSafetensors(wrong, open, { onTensor: () => {} })).rejects.toThrow(
      /model-00001-of-00002.safetensors: tensor "a.f32" is here, but model.safetensors.index.json says it is in model-00002-of-00002.safetensors/,
    );
    const missing = parseShardIndex({ weight_map: { 'a.f32': 'model-00001-of-00002.safetensors', 'zzz': 'model-00002-of-00002.safetensors' } });
    await expect(streamShardedSafetensors(missing, open, { onTensor: () => {} })).rejects.toThrow(/weight_map were not found in their shards: "zzz"/);
    expect(() => parseShardIndex({ weight_map: { a: '../etc/passwd.safetensors' } })).toThrow(/must be a .safetensors file name/);
    expect(() => parseShardIndex({})).toThrow(/missing "weight_map"/);
  });
});
