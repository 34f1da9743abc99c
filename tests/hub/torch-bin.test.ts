/**
 * The PyTorch .bin reader (src/hub/zip.ts, torch-pickle.ts, torch-bin.ts) on torch.save-format files written by
 * tests/hub/torch-writer.ts (no torch here): zip records stored and deflated, any folder name, zip64, shared
 * storages, strided views, f32/f16/bf16, i64 buffers skipped; and bad files — truncated, corrupt, foreign globals,
 * unknown storage types, tensors past their storage — each a clear error, with the reader still usable afterwards.
 */
import { readFileSync } from 'node:fs';
import { crc32 as zlibCrc32 } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { toF32 } from '../../src/hub/dtype';
import { TorchBinError, loadTorchBinFromBuffer, streamTorchBin, type TorchBinHeader } from '../../src/hub/torch-bin';
import { unpickleStateDict } from '../../src/hub/torch-pickle';
import { crc32, readZipDirectory } from '../../src/hub/zip';
import { encodeTensor, type WTensor } from './st-writer';
import { PickleWriter, stateDictPickle, torchSave, torchSaveDense, writeZip, type PStorage, type PTensor } from './torch-writer';

const TENSORS: WTensor[] = [
  { name: 'backbone.embedding.weight', dtype: 'F32', shape: [6, 4] },
  { name: 'backbone.layers.0.mixer.A_log', dtype: 'F16', shape: [4, 3] },
  { name: 'backbone.layers.0.mixer.D', dtype: 'BF16', shape: [4] },
  { name: 'scalar', dtype: 'F32', shape: [] },
  { name: 'position_ids', dtype: 'I64', shape: [1, 5], data: [0, 1, 2, 3, 4] },
];
const floats = (t: WTensor) => t.dtype !== 'I64' && t.dtype !== 'BOOL' && t.dtype !== 'U8';

/** A ReadableStream of `bytes` in chunks of `chunk` bytes. */
function streamOf(bytes: Uint8Array, chunk = 7): ReadableStream<Uint8Array> {
  let p = 0;
  return new ReadableStream<Uint8Array>({
    pull(c) {
      if (p >= bytes.byteLength) return c.close();
      c.enqueue(bytes.slice(p, p + chunk));
      p += chunk;
    },
  });
}

type Got = Map<string, { dtype: string; shape: number[]; bytes: Uint8Array }>;

async function stream(bytes: Uint8Array, opts: { chunk?: number; filter?: (t: { name: string; dtype: string }) => boolean } = {}) {
  const got: Got = new Map();
  const headers: TorchBinHeader[] = [];
  const res = await streamTorchBin(streamOf(bytes, opts.chunk), {
    fileName: 'pytorch_model.bin',
    totalBytes: bytes.byteLength,
    filter: opts.filter ?? ((t) => floats({ dtype: t.dtype } as WTensor)),
    onHeader: (h) => void headers.push(h),
    onTensor: (name, dtype, shape, b) => void got.set(name, { dtype, shape, bytes: b.slice() }),
  });
  return { got, headers, res };
}

async function buffered(bytes: Uint8Array, filter = (t: { dtype: string }) => floats({ dtype: t.dtype } as WTensor)): Promise<Got> {
  const { tensors } = await loadTorchBinFromBuffer(bytes, { filter });
  return new Map([...tensors].map(([k, v]) => [k, { dtype: v.dtype, shape: v.shape, bytes: v.bytes.slice() }]));
}

function expectTensors(got: Got, ts: WTensor[]) {
  const want = ts.filter(floats);
  expect([...got.keys()].sort()).toEqual(want.map((t) => t.name).sort());
  for (const t of want) {
    const g = got.get(t.name)!;
    expect(g.dtype, t.name).toBe(t.dtype);
    expect(g.shape, t.name).toEqual(t.shape);
    expect(Array.from(g.bytes), t.name).toEqual(Array.from(encodeTensor(t)));
  }
}

async function errorOf(p: Promise<unknown> | (() => unknown)): Promise<Error> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected an error');
}

describe('zip container', () => {
  it('CRC-32 agrees with zlib', () => {
    const data = Uint8Array.from({ length: 1000 }, (_, i) => (i * 131 + 7) & 0xff);
    for (const n of [0, 1, 3, 4, 5, 999, 1000]) expect(crc32(data.subarray(0, n))).toBe(zlibCrc32(data.subarray(0, n)) >>> 0);
    expect(crc32(data.subarray(500), crc32(data.subarray(0, 500)))).toBe(zlibCrc32(data) >>> 0);
  });

  it('reads the central directory, plain and zip64, stored and deflated', () => {
    const recs = [{ name: 'a/x', data: Uint8Array.of(1, 2, 3) }, { name: 'a/y', data: new Uint8Array(300).fill(9), deflate: true }];
    for (const zip64 of [false, true]) {
      const es = readZipDirectory(writeZip(recs, { zip64 }));
      expect(es.map((e) => [e.name, e.method, e.size])).toEqual([['a/x', 0, 3], ['a/y', 8, 300]]);
      expect(es[1].compressedSize).toBeLessThan(300);
    }
  });
});

describe('torch.save files: what loads', () => {
  it('f32 / f16 / bf16 tensors and a 0-d scalar, streamed in small chunks and from a buffer; the i64 buffer is skipped', async () => {
    const file = torchSaveDense(TENSORS);
    const s = await stream(file);
    expectTensors(s.got, TENSORS);
    expect(s.res.skipped).toEqual(['position_ids']);
    expect(s.res.bytesRead).toBe(file.byteLength);
    expect(s.headers).toHaveLength(1);
    expect(s.headers[0].folder).toBe('archive');
    expect(s.headers[0].tensors.map((t) => [t.name, t.dtype, t.shape])).toEqual(TENSORS.map((t) => [t.name, t.dtype, t.shape]));
    expectTensors(await buffered(file), TENSORS);
  });

  it('any top-level folder name, deflated records, zip64 records, sizes in the headers or in data descriptors, storages before data.pkl, a plain dict, nn.Parameter', async () => {
    const variants = {
      folder: torchSaveDense(TENSORS, { folder: 'my checkpoint.v2-ü' }),
      deflated: torchSaveDense(TENSORS, { deflate: true }),
      somedeflated: torchSaveDense(TENSORS, { deflate: ['data/1', 'data.pkl'] }),
      zip64: torchSaveDense(TENSORS, { zip64: true, folder: 'pytorch_model' }),
      zip64SizesInHeaders: torchSaveDense(TENSORS, { zip64: true, descriptors: false }),
      sizesInHeaders: torchSaveDense(TENSORS, { descriptors: false }),
      storagesFirst: torchSaveDense(TENSORS, { storagesFirst: true }),
      plainDict: torchSaveDense(TENSORS, { plainDict: true }),
    };
    for (const [what, file] of Object.entries(variants)) {
      expectTensors((await stream(file, { chunk: 13 })).got, TENSORS);
      expectTensors(await buffered(file), TENSORS);
      expect(what).toBeTruthy();
    }
    const sd = { storages: [{ key: '0', type: 'FloatStorage', bytes: encodeTensor(TENSORS[0]) }], tensors: [{ name: 'w', storage: '0', shape: [6, 4], parameter: true }] };
    const got = (await stream(torchSave(sd.storages, sd.tensors))).got;
    expect(Array.from(got.get('w')!.bytes)).toEqual(Array.from(encodeTensor(TENSORS[0])));
  });

  it('a storage shared by two keys (a tied head) is read once and gives both tensors', async () => {
    const emb = encodeTensor({ name: 'e', dtype: 'F32', shape: [5, 3] });
    const storages: PStorage[] = [{ key: '0', type: 'FloatStorage', bytes: emb }, { key: '1', type: 'FloatStorage', bytes: encodeTensor({ name: 'n', dtype: 'F32', shape: [3] }) }];
    const tensors: PTensor[] = [
      { name: 'backbone.embedding.weight', storage: '0', shape: [5, 3] },
      { name: 'backbone.norm_f.weight', storage: '1', shape: [3] },
      { name: 'lm_head.weight', storage: '0', shape: [5, 3] },
    ];
    const file = torchSave(storages, tensors);
    const views: Uint8Array[] = [];
    const res = await streamTorchBin(streamOf(file), { onTensor: (_n, _d, _s, b) => void views.push(b) });
    expect(res.delivered).toEqual(['backbone.embedding.weight', 'lm_head.weight', 'backbone.norm_f.weight']);
    expect(views[0].buffer).toBe(views[1].buffer); // one storage buffer, two views
    expect(Array.from(views[1])).toEqual(Array.from(emb));
    // the storage is only in the archive once
    expect(readZipDirectory(file).filter((e) => e.name.includes('/data/')).length).toBe(2);
    const g = await buffered(file);
    expect(Array.from(g.get('lm_head.weight')!.bytes)).toEqual(Array.from(emb));
  });

  it('strided views are materialised with their stride: a transpose, a column slice, an offset row slice, a strided 3-D view', async () => {
    const base = Float32Array.from({ length: 24 }, (_, i) => i + 0.5); // a [4, 6] storage
    const storages: PStorage[] = [{ key: '7', type: 'FloatStorage', bytes: new Uint8Array(base.buffer) }];
    const tensors: PTensor[] = [
      { name: 'transposed', storage: '7', shape: [6, 4], stride: [1, 6] },
      { name: 'cols', storage: '7', shape: [4, 2], stride: [6, 1], offset: 3 },
      { name: 'rows', storage: '7', shape: [2, 6], stride: [6, 1], offset: 6 },
      { name: 'every_other', storage: '7', shape: [2, 2, 3], stride: [12, 6, 2], offset: 1 },
      { name: 'broadcast', storage: '7', shape: [3, 2], stride: [0, 1], offset: 4 },
    ];
    const at = (i: number) => base[i];
    const want: Record<string, number[]> = {
      transposed: Array.from({ length: 24 }, (_, k) => at((k % 4) * 6 + Math.floor(k / 4))),
      cols: [3, 4, 9, 10, 15, 16, 21, 22].map(at),
      rows: Array.from({ length: 12 }, (_, k) => at(6 + k)),
      every_other: [1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23].map(at),
      broadcast: [4, 5, 4, 5, 4, 5].map(at),
    };
    const file = torchSave(storages, tensors);
    for (const got of [(await stream(file)).got, await buffered(file)]) {
      for (const [name, vals] of Object.entries(want)) expect(Array.from(toF32('F32', got.get(name)!.bytes)), name).toEqual(vals);
    }
  });

  it("reads a file made by Python's own pickler and zipfile (tools/make_pickle_fixture.py): memo, tied storage, a strided view", async () => {
    const file = new Uint8Array(readFileSync('tests/fixtures/torch-bin/python-pickled.bin'));
    const want = JSON.parse(readFileSync('tests/fixtures/torch-bin/python-pickled.json', 'utf8')) as {
      tensors: { name: string; dtype: 'F32' | 'F16' | 'BF16' | 'I64'; shape: number[]; values: number[] }[];
    };
    const floatsOnly = want.tensors.filter((t) => t.dtype !== 'I64');
    for (const got of [(await stream(file, { chunk: 5 })).got, await buffered(file)]) {
      expect([...got.keys()]).toEqual(expect.arrayContaining(floatsOnly.map((t) => t.name)));
      expect(got.size).toBe(floatsOnly.length);
      for (const t of floatsOnly) {
        const g = got.get(t.name)!;
        expect([g.dtype, g.shape], t.name).toEqual([t.dtype, t.shape]);
        expect(Array.from(toF32(g.dtype as 'F32', g.bytes)), t.name).toEqual(t.values);
      }
    }
  });

  it('reads files torch.save itself wrote (tools/make_bin_fixtures.py: torch 2.11, records streamed with data descriptors), streamed = buffered', async () => {
    const dir = 'tests/fixtures/hub/tiny-random';
    for (const [repo, tied] of [['mamba-ssm', true], ['mamba-ssm-bf16', true], ['pythia-bin', false], ['mamba-ssm-sharded', false]] as const) {
      const file = repo === 'mamba-ssm-sharded' ? 'pytorch_model-00003-of-00007.bin' : 'pytorch_model.bin';
      const bytes = new Uint8Array(readFileSync(`${dir}/${repo}/resolve/main/${file}`));
      expect(readZipDirectory(bytes).every((e) => (e.flags & 8) === 8), `${repo}: torch.save streams its records`).toBe(true);
      const s = await stream(bytes, { chunk: 4093, filter: (t) => floats({ dtype: t.dtype } as WTensor) });
      const b = await buffered(bytes);
      expect([...s.got.keys()].sort(), repo).toEqual([...b.keys()].sort());
      for (const [k, v] of b) expect(Array.from(s.got.get(k)!.bytes), `${repo}: ${k}`).toEqual(Array.from(v.bytes));
      expect(s.headers[0].folder).toBe(file.replace(/\.bin$/, ''));
      if (tied) {
        const h = s.headers[0];
        const key = (n: string) => h.tensors.find((t) => t.name === n)!.storageKey;
        expect(key('lm_head.weight'), repo).toBe(key('backbone.embedding.weight')); // one storage, two keys
      }
      if (repo === 'pythia-bin') expect(s.res.skipped.filter((n) => n.endsWith('attention.bias'))).toHaveLength(2); // bool buffers
      // cut short anywhere: a clear error
      for (const f of [0.1, 0.5, 0.97]) {
        const cut = bytes.slice(0, Math.floor(bytes.byteLength * f));
        expect((await errorOf(stream(cut))).message, `${repo} cut at ${f}`).toMatch(/truncated: the file ends after \d+ bytes/);
      }
    }
  });

  it('parses what torch.save writes for an OrderedDict state dict, with BUILD of _metadata', () => {
    const sd = unpickleStateDict(stateDictPickle([{ key: '0', type: 'HalfStorage', bytes: new Uint8Array(8) }], [{ name: 'x', storage: '0', shape: [2, 2] }]));
    expect([...sd.tensors.keys()]).toEqual(['x']);
    expect(sd.tensors.get('x')).toMatchObject({ offset: 0, shape: [2, 2], stride: [2, 1], storage: { key: '0', dtype: 'F16', numel: 4, location: 'cpu' } });
  });
});

describe('torch.save files: bad input gets a clear error, and nothing runs', () => {
  const good = torchSaveDense(TENSORS);

  /** After each failure: a good file still loads with the same code (no state left behind). */
  async function stillWorks() {
    expectTensors((await stream(good)).got, TENSORS);
  }

  it('a truncated file: cut inside a storage, between records, before the central directory, or in its first bytes', async () => {
    const dir = readZipDirectory(good);
    const data1 = dir.find((e) => e.name === 'archive/data/1')!;
    const cuts = {
      'inside a storage': data1.dataOffset + 3,
      'between records': data1.dataOffset + data1.compressedSize,
      'before the central directory': dir[dir.length - 1].dataOffset + dir[dir.length - 1].compressedSize,
      'in a record header': 10,
    };
    for (const [what, n] of Object.entries(cuts)) {
      const cut = good.slice(0, n);
      const got: string[] = [];
      const e = await errorOf(streamTorchBin(streamOf(cut), { fileName: 'pytorch_model.bin', filter: (t) => t.dtype !== 'I64', onTensor: (name) => void got.push(name) }));
      expect(e, what).toBeInstanceOf(TorchBinError);
      expect(e.message, what).toMatch(/^pytorch_model\.bin: truncated: the file ends after \d+ bytes/);
      const e2 = await errorOf(buffered(cut));
      expect(e2.message, what).toMatch(/truncated|too short/);
    }
    expect((await errorOf(streamTorchBin(streamOf(new Uint8Array(0)), { onTensor: () => {} }))).message).toMatch(/the file is 0 bytes; not a torch.save archive/);
    await stillWorks();
  });

  it('a corrupt storage (CRC mismatch), a raw legacy pickle, a big-endian file, a non-zip', async () => {
    const bad = good.slice();
    const d0 = readZipDirectory(bad).find((e) => e.name === 'archive/data/0')!;
    bad[d0.dataOffset + 5] ^= 0x40;
    for (const p of [stream(bad), buffered(bad)]) expect((await errorOf(p)).message).toMatch(/record archive\/data\/0 is corrupt \(CRC-32 0x[0-9a-f]{8}, the archive says 0x[0-9a-f]{8}\)|entry archive\/data\/0 is corrupt/);
    const legacy = Uint8Array.of(0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19);
    for (const p of [stream(legacy), loadTorchBinFromBuffer(legacy)]) expect((await errorOf(p)).message).toMatch(/raw pickle \(the legacy torch.save format of PyTorch < 1.6\)/);
    const big = torchSaveDense(TENSORS, { byteorder: 'big' });
    expect((await errorOf(stream(big))).message).toMatch(/saved on a big-endian machine/);
    expect((await errorOf(stream(new TextEncoder().encode('<!doctype html>')))).message).toMatch(/not a torch.save zip archive/);
    await stillWorks();
  });

  it('a pickle naming os.system or builtins.eval is refused, naming the global; no tensor is handed on', async () => {
    // The classic payload (protocol 0): os.system('touch /tmp/pwned')
    const classic = new TextEncoder().encode("cos\nsystem\n(S'touch /tmp/pwned'\ntR.");
    // protocol 2: builtins.eval('1+1')
    const evalP = new PickleWriter().op(0x80, 2).global('builtins', 'eval').str('__import__("os").system("x")').op(0x85, 0x52, 0x2e).bytes();
    // a real-looking state dict whose second value is posix.system(...)
    const w = new PickleWriter().op(0x80, 2).global('collections', 'OrderedDict').op(0x29, 0x52).put().op(0x28);
    w.str('a').global('posix', 'system').str('id').op(0x85, 0x52).op(0x75, 0x2e);
    // an object built by NEWOBJ of an allowed-looking class name is refused too
    const cases: [Uint8Array, RegExp][] = [
      [classic, /refusing to load: the pickle names the global os\.system/],
      [evalP, /refusing to load: the pickle names the global builtins\.eval/],
      [w.bytes(), /refusing to load: the pickle names the global posix\.system/],
      [new PickleWriter().op(0x80, 2).global('torch.nn.modules.linear', 'Linear').op(0x2e).bytes(), /global torch\.nn\.modules\.linear\.Linear/],
    ];
    for (const [pickle, re] of cases) {
      expect(() => unpickleStateDict(pickle)).toThrow(re);
      const file = torchSaveDense(TENSORS, { pickle });
      const seen: string[] = [];
      const e = await errorOf(streamTorchBin(streamOf(file), { onHeader: () => void seen.push('header'), onTensor: (n) => void seen.push(n) }));
      expect(e.message).toMatch(re);
      expect(e.message).toMatch(/Nothing in the file was run/);
      expect(seen).toEqual([]);
      expect((await errorOf(loadTorchBinFromBuffer(file))).message).toMatch(re);
    }
    await stillWorks();
  });

  it('an unknown storage type, a tensor whose bytes run past its storage, a storage shorter than declared, a missing storage', async () => {
    const bytes = encodeTensor({ name: 'x', dtype: 'F32', shape: [8] });
    const unknown = torchSave([{ key: '0', type: 'ComplexFloatStorage', bytes, numel: 4 }], [{ name: 'x', storage: '0', shape: [4] }]);
    expect((await errorOf(stream(unknown))).message).toMatch(/unsupported storage type torch\.ComplexFloatStorage/);
    const past = torchSave([{ key: '0', type: 'FloatStorage', bytes }], [{ name: 'backbone.x', storage: '0', shape: [3, 3], offset: 0 }]);
    expect((await errorOf(stream(past))).message).toMatch(
      /tensor backbone\.x \(shape \[3, 3\], offset 0, stride \[3, 1\]\) runs past its storage data\/0: it needs element 8, the storage holds 8/,
    );
    const pastView = torchSave([{ key: '0', type: 'FloatStorage', bytes }], [{ name: 'v', storage: '0', shape: [2, 2], stride: [1, 4], offset: 4 }]);
    expect((await errorOf(loadTorchBinFromBuffer(pastView))).message).toMatch(/tensor v .* runs past its storage data\/0: it needs element 9/);
    const short = torchSave([{ key: '0', type: 'FloatStorage', bytes, numel: 10 }], [{ name: 'x', storage: '0', shape: [10] }]);
    const shortSized = torchSave([{ key: '0', type: 'FloatStorage', bytes, numel: 10 }], [{ name: 'x', storage: '0', shape: [10] }], { descriptors: false });
    for (const p of [stream(shortSized), loadTorchBinFromBuffer(short), loadTorchBinFromBuffer(shortSized)]) {
      expect((await errorOf(p)).message).toMatch(/storage data\/0 is 32 bytes, but data\.pkl declares 10 elements of F32 \(40 bytes\)/);
    }
    // streamed with data descriptors (torch.save's way), the record ends where data.pkl says it does not
    expect((await errorOf(stream(short))).message).toMatch(
      /record archive\/data\/0: no data descriptor after its 40 bytes \(data\.pkl declares storage 0 as 10 elements of F32\)/,
    );
    // data.pkl names a storage the archive lacks
    const sd = { storages: [{ key: '0', type: 'FloatStorage', bytes }, { key: '1', type: 'FloatStorage', bytes }], tensors: [{ name: 'x', storage: '0', shape: [8] }, { name: 'y', storage: '1', shape: [8] }] };
    const pkl = stateDictPickle(sd.storages, sd.tensors);
    const missing = torchSave([sd.storages[0]], [sd.tensors[0]], { pickle: pkl });
    for (const p of [stream(missing), loadTorchBinFromBuffer(missing)]) expect((await errorOf(p)).message).toMatch(/no record data\/1 \(the storage of tensor y\)/);
    // a wanted tensor of an integer type
    const ints = torchSaveDense([{ name: 'w', dtype: 'I64', shape: [2] }]);
    expect((await errorOf(stream(ints, { filter: () => true }))).message).toMatch(/tensor w has dtype I64; only F32, F16 and BF16/);
    // a pickle that is not a dict of tensors
    const list = new PickleWriter().op(0x80, 2, 0x5d, 0x2e).bytes();
    expect(() => unpickleStateDict(list)).toThrow(/the file holds a list, not a state dict/);
    const training = new PickleWriter().op(0x80, 2, 0x7d).str('epoch').int(3).op(0x73, 0x2e).bytes();
    expect(() => unpickleStateDict(training)).toThrow(/the dict holds no tensors \(its keys: "epoch"; a training checkpoint\? save model\.state_dict\(\)\)/);
    // a truncated pickle
    expect(() => unpickleStateDict(stateDictPickle(sd.storages, sd.tensors).subarray(0, 40))).toThrow(/truncated pickle/);
    await stillWorks();
  });
});
