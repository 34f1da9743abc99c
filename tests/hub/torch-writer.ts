// Test helper: torch.save-format files written without torch. A pickle writer for the opcodes Python's pickler emits
// at protocol 2 for a state dict (GLOBAL + BINPUT/BINGET memo, BINUNICODE, BININT*, TUPLE1-3, MARK/TUPLE, BINPERSID,
// REDUCE, SETITEMS, BUILD of _metadata), and a zip writer with torch.save's records (data.pkl, .format_version,
// .storage_alignment, byteorder, data/<key>, version, .data/serialization_id), storage data aligned to 64 bytes with
// a padding extra field, each stored record followed by a data descriptor (flag bit 3, no sizes in the local header)
// as torch's streaming writer does, or with sizes in the header (descriptors: false); deflated records; zip64.
import { crc32 as zlibCrc32, deflateRawSync } from 'node:zlib';
import { encodeTensor, type WTensor } from './st-writer';

export type StorageType = 'FloatStorage' | 'HalfStorage' | 'BFloat16Storage' | 'LongStorage' | 'BoolStorage' | 'DoubleStorage' | string;

export const STORAGE_OF: Record<string, StorageType> = {
  F32: 'FloatStorage', F16: 'HalfStorage', BF16: 'BFloat16Storage', I64: 'LongStorage', BOOL: 'BoolStorage', U8: 'ByteStorage',
};
const ITEM: Record<string, number> = { FloatStorage: 4, HalfStorage: 2, BFloat16Storage: 2, LongStorage: 8, BoolStorage: 1, ByteStorage: 1, DoubleStorage: 8 };

export interface PStorage {
  key: string;
  type: StorageType;
  /** elements declared in the persistent id (default: bytes / item size) */
  numel?: number;
  bytes: Uint8Array;
}

export interface PTensor {
  name: string;
  storage: string;
  offset?: number;
  shape: number[];
  /** default: row-major contiguous */
  stride?: number[];
  /** wrap in torch._utils._rebuild_parameter (an nn.Parameter) */
  parameter?: boolean;
}

export function contiguousStride(shape: number[]): number[] {
  const s = new Array<number>(shape.length);
  let n = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    s[d] = n;
    n *= shape[d];
  }
  return s;
}

/** A pickle byte stream builder (protocol 2 opcodes), memoizing GLOBALs as Python's pickler does. */
export class PickleWriter {
  private out: number[] = [];
  private memo = new Map<string, number>();
  private next = 0;

  bytes(): Uint8Array {
    return Uint8Array.from(this.out);
  }
  op(...b: number[]): this {
    this.out.push(...b);
    return this;
  }
  private u32(n: number): number[] {
    return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];
  }
  put(): this {
    const i = this.next++;
    return i < 256 ? this.op(0x71, i) : this.op(0x72, ...this.u32(i));
  }
  global(module: string, name: string): this {
    const k = `${module}\n${name}`;
    const m = this.memo.get(k);
    if (m !== undefined) return m < 256 ? this.op(0x68, m) : this.op(0x6a, ...this.u32(m));
    this.op(0x63, ...new TextEncoder().encode(`${module}\n${name}\n`));
    this.memo.set(k, this.next);
    return this.put();
  }
  str(s: string): this {
    const b = new TextEncoder().encode(s);
    this.op(0x58, ...this.u32(b.length), ...b);
    return this.put();
  }
  int(n: number): this {
    if (n >= 0 && n < 256) return this.op(0x4b, n);
    if (n >= 0 && n < 65536) return this.op(0x4d, n & 0xff, n >> 8);
    if (n >= -(2 ** 31) && n < 2 ** 31) return this.op(0x4a, ...this.u32(n >>> 0));
    // LONG1: little-endian two's complement
    let x = BigInt(n);
    const bytes: number[] = [];
    while (x !== 0n && x !== -1n) {
      bytes.push(Number(x & 0xffn));
      x >>= 8n;
    }
    if (n > 0 && bytes[bytes.length - 1] & 0x80) bytes.push(0);
    return this.op(0x8a, bytes.length, ...bytes);
  }
  tuple(items: (() => void)[]): this {
    if (items.length === 0) return this.op(0x29);
    if (items.length <= 3) {
      items.forEach((f) => f());
      return this.op([0x85, 0x86, 0x87][items.length - 1]);
    }
    this.op(0x28);
    items.forEach((f) => f());
    return this.op(0x74);
  }
  ints(xs: number[]): this {
    this.tuple(xs.map((x) => () => this.int(x)));
    return xs.length ? this.put() : this;
  }
}

/**
 * data.pkl of torch.save(state_dict): an OrderedDict of _rebuild_tensor_v2 reductions, then BUILD of its _metadata
 * (as nn.Module.state_dict() attaches). `hook` may append raw opcodes for a tensor (bad-input tests).
 */
export function stateDictPickle(storages: PStorage[], tensors: PTensor[], opts: { plainDict?: boolean } = {}): Uint8Array {
  const w = new PickleWriter();
  const byKey = new Map(storages.map((s) => [s.key, s]));
  w.op(0x80, 2);
  if (opts.plainDict) w.op(0x7d).put();
  else w.global('collections', 'OrderedDict').op(0x29, 0x52).put();
  w.op(0x28); // MARK for SETITEMS
  for (const t of tensors) {
    const s = byKey.get(t.storage);
    if (!s) throw new Error(`no storage ${t.storage}`);
    w.str(t.name);
    if (t.parameter) w.global('torch._utils', '_rebuild_parameter');
    w.global('torch._utils', '_rebuild_tensor_v2');
    w.op(0x28); // MARK: the 6 arguments
    // persistent id ('storage', torch.XStorage, key, location, numel)
    w.op(0x28);
    w.str('storage');
    w.global('torch', s.type);
    w.str(s.key);
    w.str('cpu');
    w.int(s.numel ?? s.bytes.byteLength / (ITEM[s.type] ?? 1));
    w.op(0x74).put().op(0x51);
    w.int(t.offset ?? 0);
    w.ints(t.shape);
    w.ints(t.stride ?? contiguousStride(t.shape));
    w.op(0x89); // requires_grad False
    w.global('collections', 'OrderedDict').op(0x29, 0x52).put(); // backward_hooks
    w.op(0x74).put().op(0x52).put();
    if (t.parameter) w.op(0x89).global('collections', 'OrderedDict').op(0x29, 0x52).put().op(0x87).put().op(0x52).put();
  }
  w.op(0x75); // SETITEMS
  if (!opts.plainDict) {
    // BUILD: {'_metadata': OrderedDict([('', {'version': 1})])}
    w.op(0x7d).put().str('_metadata').global('collections', 'OrderedDict').op(0x29, 0x52).put();
    w.op(0x28).str('').op(0x7d).put().str('version').int(1).op(0x73).op(0x75);
    w.op(0x73).op(0x62);
  }
  w.op(0x2e);
  return w.bytes();
}

export interface ZipRecord {
  name: string;
  data: Uint8Array;
  deflate?: boolean;
  /**
   * As torch.save's streaming writer does: flag bit 3, no CRC or sizes in the local header, a data descriptor
   * (signature, CRC-32, sizes: 8-byte ones in a zip64 archive) after the data.
   */
  descriptor?: boolean;
  /** align the data to this many bytes with a padding extra field (torch: 64 for storages) */
  align?: number;
}

const u16 = (n: number) => [n & 0xff, (n >>> 8) & 0xff];
const u32 = (n: number) => [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];
const u64 = (n: number) => [...u32(n >>> 0), ...u32(Math.floor(n / 2 ** 32))];

/** A zip archive of the records, in order. zip64: every record and the end of the directory use zip64 fields. */
export function writeZip(records: ZipRecord[], opts: { zip64?: boolean } = {}): Uint8Array {
  const parts: number[][] = [];
  const central: number[][] = [];
  let pos = 0;
  const push = (b: number[] | Uint8Array) => {
    parts.push(Array.from(b));
    pos += b.length;
  };
  const z64 = !!opts.zip64;
  for (const r of records) {
    const name = Array.from(new TextEncoder().encode(r.name));
    const body = r.deflate ? new Uint8Array(deflateRawSync(r.data)) : r.data;
    const crc = zlibCrc32(r.data) >>> 0;
    const method = r.deflate ? 8 : 0;
    let extra: number[] = z64 ? [...u16(1), ...u16(16), ...u64(r.data.length), ...u64(body.length)] : [];
    if (r.align) {
      const end = pos + 30 + name.length + extra.length + 4;
      const pad = (r.align - (end % r.align)) % r.align;
      extra = [...extra, ...u16(0x4246), ...u16(pad), ...new Array<number>(pad).fill(0x5a)];
    }
    const at = pos;
    const dd = !!r.descriptor;
    const flags = dd ? 0x0808 : 0;
    const hsize = (n: number) => (z64 ? 0xffffffff : dd ? 0 : n);
    if (z64 && dd) extra.splice(4, 16, ...new Array<number>(16).fill(0)); // zip64 extra present, sizes unknown (0)
    push([...u32(0x04034b50), ...u16(z64 ? 45 : 20), ...u16(flags), ...u16(method), ...u16(0), ...u16(0x21), ...u32(dd ? 0 : crc),
      ...u32(hsize(body.length)), ...u32(hsize(r.data.length)), ...u16(name.length), ...u16(extra.length), ...name, ...extra]);
    push(body);
    if (dd) push([...u32(0x08074b50), ...u32(crc), ...(z64 ? [...u64(body.length), ...u64(r.data.length)] : [...u32(body.length), ...u32(r.data.length)])]);
    const cextra = z64 ? [...u16(1), ...u16(24), ...u64(r.data.length), ...u64(body.length), ...u64(at)] : [];
    central.push([...u32(0x02014b50), ...u16(z64 ? 45 : 20), ...u16(z64 ? 45 : 20), ...u16(flags), ...u16(method), ...u16(0), ...u16(0x21), ...u32(crc),
      ...u32(z64 ? 0xffffffff : body.length), ...u32(z64 ? 0xffffffff : r.data.length), ...u16(name.length), ...u16(cextra.length), ...u16(0),
      ...u16(0), ...u16(0), ...u32(0), ...u32(z64 ? 0xffffffff : at), ...name, ...cextra]);
  }
  const cdStart = pos;
  for (const c of central) push(c);
  const cdSize = pos - cdStart;
  if (z64) {
    const rec = pos;
    push([...u32(0x06064b50), ...u64(44), ...u16(45), ...u16(45), ...u32(0), ...u32(0), ...u64(records.length), ...u64(records.length), ...u64(cdSize), ...u64(cdStart)]);
    push([...u32(0x07064b50), ...u32(0), ...u64(rec), ...u32(1)]);
    push([...u32(0x06054b50), ...u16(0), ...u16(0), ...u16(0xffff), ...u16(0xffff), ...u32(0xffffffff), ...u32(0xffffffff), ...u16(0)]);
  } else {
    push([...u32(0x06054b50), ...u16(0), ...u16(0), ...u16(records.length), ...u16(records.length), ...u32(cdSize), ...u32(cdStart), ...u16(0)]);
  }
  const out = new Uint8Array(pos);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export interface TorchSaveOptions {
  /** the archive's top-level folder (torch.save: "archive" or the file's stem) */
  folder?: string;
  /** deflate these records (by record name inside the folder, e.g. 'data.pkl', 'data/0'); true: all */
  deflate?: boolean | string[];
  zip64?: boolean;
  /** storages written before data.pkl (not torch.save's order) */
  storagesFirst?: boolean;
  byteorder?: string;
  plainDict?: boolean;
  /** replace data.pkl's bytes */
  pickle?: Uint8Array;
  /** false: sizes in the local headers (as Python's zipfile writes a seekable file); default: data descriptors, as torch.save */
  descriptors?: boolean;
}

/** A torch.save-format file of these storages and tensors. */
export function torchSave(storages: PStorage[], tensors: PTensor[], opts: TorchSaveOptions = {}): Uint8Array {
  const folder = opts.folder ?? 'archive';
  const deflate = (rec: string) => opts.deflate === true || (Array.isArray(opts.deflate) && opts.deflate.includes(rec));
  const text = (s: string) => new TextEncoder().encode(s);
  const pkl: ZipRecord = { name: `${folder}/data.pkl`, data: opts.pickle ?? stateDictPickle(storages, tensors, { plainDict: opts.plainDict }), deflate: deflate('data.pkl') };
  const meta: ZipRecord[] = [
    { name: `${folder}/.format_version`, data: text('1') },
    { name: `${folder}/.storage_alignment`, data: text('64') },
    { name: `${folder}/byteorder`, data: text(opts.byteorder ?? 'little') },
  ];
  const data: ZipRecord[] = storages.map((s) => ({ name: `${folder}/data/${s.key}`, data: s.bytes, align: 64, deflate: deflate(`data/${s.key}`) }));
  const tail: ZipRecord[] = [
    { name: `${folder}/version`, data: text('3\n') },
    { name: `${folder}/.data/serialization_id`, data: text('1234567890123456789012345678901234567890') },
  ];
  const records = opts.storagesFirst ? [...data, pkl, ...meta, ...tail] : [pkl, ...meta, ...data, ...tail];
  for (const r of records) r.descriptor = opts.descriptors !== false && !r.deflate;
  return writeZip(records, { zip64: opts.zip64 });
}

/** A plain state dict: one storage per tensor (key = index), values as st-writer encodes them. */
export function denseStateDict(tensors: WTensor[]): { storages: PStorage[]; tensors: PTensor[] } {
  const storages: PStorage[] = [];
  const out: PTensor[] = [];
  tensors.forEach((t, i) => {
    storages.push({ key: String(i), type: STORAGE_OF[t.dtype], bytes: encodeTensor(t) });
    out.push({ name: t.name, storage: String(i), shape: t.shape });
  });
  return { storages, tensors: out };
}

/** torch.save of a plain state dict of WTensors. */
export function torchSaveDense(tensors: WTensor[], opts: TorchSaveOptions = {}): Uint8Array {
  const sd = denseStateDict(tensors);
  return torchSave(sd.storages, sd.tensors, opts);
}
