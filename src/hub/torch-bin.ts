// PyTorch checkpoints (pytorch_model.bin: torch.save's zip format, PyTorch ≥ 1.6) read without Python: the zip
// records <folder>/data.pkl (the state dict, parsed by the restricted unpickler in torch-pickle.ts: nothing in it is
// run), <folder>/data/<key> (one storage's raw little-endian bytes, stored uncompressed by torch.save) and a few small
// records (byteorder, version). The folder is whatever the writer chose (torch.save uses "archive" or the file's stem).
//
// streamTorchBin reads a download front to back, as streamSafetensors does: data.pkl comes first in torch.save's
// files, so the tensor list (names, dtypes, shapes) is known — and checked — before any weight arrives; then each
// storage is read into one buffer and every tensor viewing it is handed on (a view of that buffer when contiguous,
// a gathered copy for a strided view). Only the storage being read is held in memory. Storages shared by several
// tensors (a tied head) are read once. loadTorchBinFromBuffer does the same from a whole file in memory through the
// zip's central directory (any entry order).

import { DTYPE_BYTES, isFloatDtype, type FloatDtype, type SafetensorsDtype } from './dtype';
import { abortError, shapeSize } from './safetensors';
import { unpickleStateDict, type TorchStorageRef, type UnpickledStateDict } from './torch-pickle';
import {
  CENTRAL_HEADER_SIG, LOCAL_HEADER_SIG, METHOD_DEFLATED, METHOD_STORED, ZipError, crc32, entryBytes, hex, inflateRaw,
  localHeaderLength, readLocalHeader, readZipDirectory, type ZipEntry,
} from './zip';

export class TorchBinError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TorchBinError';
  }
}

export const BIN_SINGLE_FILE = 'pytorch_model.bin';
export const BIN_INDEX_FILE = 'pytorch_model.bin.index.json';

export interface TorchTensorInfo {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  /** key of the storage (zip record data/<key>) */
  storageKey: string;
  /** in elements */
  offset: number;
  /** in elements */
  stride: number[];
  /** row-major dense from offset: the bytes are one slice of the storage */
  contiguous: boolean;
  /** bytes of the tensor itself */
  nbytes: number;
}

export interface TorchBinHeader {
  fileName: string;
  /** the archive's top-level folder */
  folder: string;
  /** the state dict's tensors, in its order */
  tensors: TorchTensorInfo[];
  storages: Map<string, TorchStorageRef>;
  /** state-dict entries that are not tensors (ignored) */
  other: string[];
}

export interface StreamTorchBinOptions {
  fileName?: string;
  totalBytes?: number | null;
  onHeader?: (header: TorchBinHeader) => void | Promise<void>;
  onTensor: (name: string, dtype: FloatDtype, shape: number[], bytes: Uint8Array) => void | Promise<void>;
  /** return false to skip a tensor (any dtype may be skipped; a storage no wanted tensor uses is never buffered) */
  filter?: (info: TorchTensorInfo) => boolean;
  onProgress?: (loaded: number, total: number | null) => void;
  signal?: AbortSignal;
}

export interface StreamTorchBinResult {
  header: TorchBinHeader;
  delivered: string[];
  skipped: string[];
  bytesRead: number;
}

function isContiguous(shape: readonly number[], stride: readonly number[]): boolean {
  let s = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    if (shape[d] !== 1 && stride[d] !== s) return false;
    s *= shape[d];
  }
  return true;
}

/** The tensor list of a parsed data.pkl, each checked to lie inside its storage. */
export function describeStateDict(sd: UnpickledStateDict, fileName: string, folder: string): TorchBinHeader {
  const storages = new Map<string, TorchStorageRef>();
  const tensors: TorchTensorInfo[] = [];
  for (const [name, t] of sd.tensors) {
    const s = t.storage;
    const prev = storages.get(s.key);
    if (prev && (prev.dtype !== s.dtype || prev.numel !== s.numel)) {
      throw new TorchBinError(`${fileName}: storage ${s.key} is declared twice with different types (${prev.dtype}×${prev.numel}, ${s.dtype}×${s.numel})`);
    }
    storages.set(s.key, s);
    const n = shapeSize(t.shape);
    if (n > 0) {
      let last = t.offset;
      for (let d = 0; d < t.shape.length; d++) last += (t.shape[d] - 1) * t.stride[d];
      if (t.offset < 0 || last >= s.numel) {
        throw new TorchBinError(
          `${fileName}: tensor ${name} (shape [${t.shape.join(', ')}], offset ${t.offset}, stride [${t.stride.join(', ')}]) runs past its ` +
            `storage data/${s.key}: it needs element ${last}, the storage holds ${s.numel}`,
        );
      }
    }
    tensors.push({
      name, dtype: s.dtype, shape: t.shape, storageKey: s.key, offset: t.offset, stride: t.stride,
      contiguous: isContiguous(t.shape, t.stride), nbytes: n * DTYPE_BYTES[s.dtype],
    });
  }
  return { fileName, folder, tensors, storages, other: sd.other };
}

/** A tensor's bytes from its storage's: a view when contiguous, else gathered element by element (row by row). */
export function tensorBytes(t: TorchTensorInfo, storage: Uint8Array): Uint8Array {
  const item = DTYPE_BYTES[t.dtype];
  const n = shapeSize(t.shape);
  if (n === 0) return new Uint8Array(0);
  if (t.contiguous) return storage.subarray(t.offset * item, (t.offset + n) * item);
  const out = new Uint8Array(n * item);
  const nd = t.shape.length;
  const inner = t.shape[nd - 1];
  const innerStride = t.stride[nd - 1];
  const idx = new Array<number>(nd - 1).fill(0);
  let o = 0;
  for (let k = 0; k < n / inner; k++) {
    let base = t.offset;
    for (let d = 0; d < nd - 1; d++) base += idx[d] * t.stride[d];
    if (innerStride === 1) {
      out.set(storage.subarray(base * item, (base + inner) * item), o);
      o += inner * item;
    } else {
      for (let j = 0; j < inner; j++) {
        const b = (base + j * innerStride) * item;
        for (let q = 0; q < item; q++) out[o++] = storage[b + q];
      }
    }
    for (let d = nd - 2; d >= 0; d--) {
      if (++idx[d] < t.shape[d]) break;
      idx[d] = 0;
    }
  }
  return out;
}

/** Record name inside the archive's folder ('data.pkl', 'data/0', 'byteorder'), or null for a name outside it. */
function recordName(name: string, folder: string): string | null {
  if (folder === '') return name;
  return name.startsWith(`${folder}/`) ? name.slice(folder.length + 1) : null;
}

function folderOf(name: string): string {
  const i = name.indexOf('/');
  return i < 0 ? '' : name.slice(0, i);
}

function notAZip(first: Uint8Array, fileName: string): TorchBinError {
  if (first[0] === 0x80) {
    return new TorchBinError(
      `${fileName}: this is a raw pickle (the legacy torch.save format of PyTorch < 1.6), not torch.save's zip format; ` +
        `re-save it with a newer PyTorch (torch.save(torch.load(f), f)) or convert it to safetensors`,
    );
  }
  return new TorchBinError(`${fileName}: not a torch.save zip archive (does not start with a zip header)`);
}

function checkDtypes(header: TorchBinHeader, filter?: (t: TorchTensorInfo) => boolean): void {
  for (const t of header.tensors) {
    if (filter && !filter(t)) continue;
    if (!isFloatDtype(t.dtype)) {
      throw new TorchBinError(`${header.fileName}: tensor ${t.name} has dtype ${t.dtype}; only F32, F16 and BF16 tensors can be loaded`);
    }
  }
}

function checkByteorder(bytes: Uint8Array, fileName: string): void {
  const s = new TextDecoder().decode(bytes).trim();
  if (s !== 'little') throw new TorchBinError(`${fileName}: the checkpoint was saved on a ${s}-endian machine; only little-endian checkpoints are supported`);
}

function storageSizeError(fileName: string, s: TorchStorageRef, got: number): TorchBinError {
  return new TorchBinError(
    `${fileName}: storage data/${s.key} is ${got} bytes, but data.pkl declares ${s.numel} elements of ${s.dtype} (${s.numel * DTYPE_BYTES[s.dtype]} bytes)`,
  );
}

/** Tensors of a whole .bin file in memory (views into `buffer` for contiguous tensors of stored records). */
export async function loadTorchBinFromBuffer(
  buffer: ArrayBuffer | Uint8Array,
  opts: { fileName?: string; filter?: (t: TorchTensorInfo) => boolean } = {},
): Promise<{ header: TorchBinHeader; tensors: Map<string, { name: string; dtype: FloatDtype; shape: number[]; bytes: Uint8Array }> }> {
  const fileName = opts.fileName ?? BIN_SINGLE_FILE;
  const bytes = buffer instanceof Uint8Array ? buffer : new Uint8Array(buffer);
  if (bytes.byteLength >= 4 && new DataView(bytes.buffer, bytes.byteOffset).getUint32(0, true) !== LOCAL_HEADER_SIG) throw notAZip(bytes.subarray(0, 8), fileName);
  const entries = readZipDirectory(bytes, fileName);
  const pkl = entries.filter((e) => /^([^/]+\/)?data\.pkl$/.test(e.name));
  if (pkl.length !== 1) {
    throw new TorchBinError(`${fileName}: ${pkl.length ? 'several' : 'no'} data.pkl record${pkl.length ? 's' : ''} in the archive; not a torch.save file`);
  }
  const folder = folderOf(pkl[0].name);
  const byName = new Map<string, ZipEntry>();
  for (const e of entries) {
    const rec = recordName(e.name, folder);
    if (rec !== null) byName.set(rec, e);
  }
  const header = describeStateDict(unpickleStateDict(await entryBytes(bytes, pkl[0], fileName), `${fileName}: data.pkl`), fileName, folder);
  const bo = byName.get('byteorder');
  if (bo) checkByteorder(await entryBytes(bytes, bo, fileName), fileName);
  checkDtypes(header, opts.filter);
  const storageBytes = new Map<string, Uint8Array>();
  const tensors = new Map<string, { name: string; dtype: FloatDtype; shape: number[]; bytes: Uint8Array }>();
  for (const t of header.tensors) {
    if (opts.filter && !opts.filter(t)) continue;
    let sb = storageBytes.get(t.storageKey);
    if (!sb) {
      const e = byName.get(`data/${t.storageKey}`);
      if (!e) throw new TorchBinError(`${fileName}: the archive has no record data/${t.storageKey} (the storage of tensor ${t.name}); truncated or corrupt`);
      sb = await entryBytes(bytes, e, fileName);
      const s = header.storages.get(t.storageKey)!;
      if (sb.byteLength !== s.numel * DTYPE_BYTES[s.dtype]) throw storageSizeError(fileName, s, sb.byteLength);
      storageBytes.set(t.storageKey, sb);
    }
    tensors.set(t.name, { name: t.name, dtype: t.dtype as FloatDtype, shape: t.shape.slice(), bytes: tensorBytes(t, sb) });
  }
  return { header, tensors };
}

/** Pulls bytes from a stream chunk by chunk; bytes read too far can be pushed back (unread). */
class ByteStream {
  private chunk: Uint8Array = new Uint8Array(0);
  private pos = 0;
  private ended = false;
  /** bytes handed out or skipped (= the archive offset of the next byte) */
  consumed = 0;
  /** bytes read from the stream */
  received = 0;

  constructor(
    private readonly reader: ReadableStreamDefaultReader<Uint8Array>,
    private readonly onChunk: (received: number) => void,
    private readonly signal: AbortSignal | undefined,
    private readonly what: string,
  ) {}

  private async fill(): Promise<boolean> {
    while (this.pos >= this.chunk.byteLength) {
      if (this.ended) return false;
      if (this.signal?.aborted) throw abortError(this.signal, this.what);
      const { value, done } = await this.reader.read();
      if (done) {
        this.ended = true;
        return false;
      }
      if (!(value instanceof Uint8Array)) throw new TorchBinError(`${this.what}: the stream produced a non-byte chunk`);
      this.chunk = value;
      this.pos = 0;
      this.received += value.byteLength;
      this.onChunk(this.received);
    }
    return true;
  }

  /** Exactly n bytes, or fewer at the end of the stream. */
  async read(n: number): Promise<Uint8Array> {
    const out = new Uint8Array(n);
    let got = 0;
    while (got < n && (await this.fill())) {
      const take = Math.min(n - got, this.chunk.byteLength - this.pos);
      out.set(this.chunk.subarray(this.pos, this.pos + take), got);
      this.pos += take;
      got += take;
    }
    this.consumed += got;
    return got < n ? out.subarray(0, got) : out;
  }

  /** Whatever is buffered next (at least one byte), or null at the end of the stream. */
  async some(): Promise<Uint8Array | null> {
    if (!(await this.fill())) return null;
    const out = this.chunk.subarray(this.pos);
    this.pos = this.chunk.byteLength;
    this.consumed += out.byteLength;
    return out;
  }

  async skip(n: number): Promise<number> {
    let got = 0;
    while (got < n && (await this.fill())) {
      const take = Math.min(n - got, this.chunk.byteLength - this.pos);
      this.pos += take;
      got += take;
    }
    this.consumed += got;
    return got;
  }

  /** Give back bytes just read (they are read again next). */
  unread(bytes: Uint8Array): void {
    if (bytes.byteLength === 0) return;
    const rest = this.chunk.subarray(this.pos);
    const merged = new Uint8Array(bytes.byteLength + rest.byteLength);
    merged.set(bytes);
    merged.set(rest, bytes.byteLength);
    this.chunk = merged;
    this.pos = 0;
    this.consumed -= bytes.byteLength;
  }

  async drain(): Promise<void> {
    while (await this.fill()) {
      this.consumed += this.chunk.byteLength - this.pos;
      this.pos = this.chunk.byteLength;
    }
  }
}

const DESCRIPTOR_SIG = 0x08074b50;
const NEXT_SIGS = new Set([LOCAL_HEADER_SIG, CENTRAL_HEADER_SIG, 0x06064b50, 0x06054b50]);
/** The most a record of unknown size (data.pkl, small metadata records) may hold before we give up looking for its end. */
const MAX_SCAN_BYTES = 256 * 1024 * 1024;

const u32 = (b: Uint8Array, o: number) => (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0;

/**
 * Stream a torch.save zip: data.pkl (tensor list → onHeader, before any weights), then each storage; onTensor gets
 * every wanted tensor of a storage once its record has arrived (awaited: back-pressure for GPU uploads). Reads the
 * stream to its end (so a cache write completes) and checks that the zip's central directory follows the records.
 *
 * torch.save's writer streams its records: each local header has flag bit 3 and no sizes, and a data descriptor
 * (signature, CRC-32, sizes; zip64 sizes for big records) follows the data. A storage's size is known from data.pkl
 * (elements × element size); a record of unknown size (data.pkl itself, the small metadata records) ends at the first
 * descriptor whose CRC and sizes match the bytes before it.
 */
export async function streamTorchBin(stream: ReadableStream<Uint8Array>, opts: StreamTorchBinOptions): Promise<StreamTorchBinResult> {
  const fileName = opts.fileName ?? BIN_SINGLE_FILE;
  const total = opts.totalBytes ?? null;
  const reader = stream.getReader();
  const r = new ByteStream(reader, (received) => opts.onProgress?.(received, total), opts.signal, fileName);
  const truncated = (what: string) => new TorchBinError(`${fileName}: truncated: the file ends after ${r.consumed} bytes, ${what}`);
  const read = async (n: number, what: string): Promise<Uint8Array> => {
    const b = await r.read(n);
    if (b.byteLength < n) throw truncated(what);
    return b;
  };
  const checkCrc = (e: ZipEntry, data: Uint8Array, expected: number) => {
    const c = crc32(data);
    if (c !== expected) throw new ZipError(`${fileName}: record ${e.name} is corrupt (CRC-32 ${hex(c)}, the archive says ${hex(expected)})`);
  };

  /** The data descriptor after `size` bytes of record e; returns its CRC-32. */
  const readDescriptor = async (e: ZipEntry, size: number, why: string): Promise<number> => {
    const where = `in the data descriptor of record ${e.name}`;
    const bad = () => new TorchBinError(
      `${fileName}: record ${e.name}: no data descriptor after its ${size} bytes (${why}); the record is longer or shorter than that, or the file is corrupt`,
    );
    let crc = u32(await read(4, where), 0);
    if (crc === DESCRIPTOR_SIG) crc = u32(await read(4, where), 0);
    const s = await read(8, where);
    const a = u32(s, 0), b = u32(s, 4);
    const lo = size >>> 0, hi = Math.floor(size / 2 ** 32);
    if (size > 0 && hi === 0 && a === lo && b === lo) return crc; // 32-bit sizes
    if (a === lo && b === hi) {
      // zip64: compressed size (8) read; the uncompressed size (8) follows — or, for an empty record, 32-bit zeros
      const next = await read(4, where);
      if (size === 0 && NEXT_SIGS.has(u32(next, 0))) {
        r.unread(next);
        return crc;
      }
      const rest = await read(4, where);
      if (u32(next, 0) !== lo || u32(rest, 0) !== hi) throw bad();
      return crc;
    }
    throw bad();
  };

  /** A stored record of known size with a data descriptor after it (torch.save's records). */
  const readKnown = async (e: ZipEntry, size: number, why: string): Promise<Uint8Array> => {
    const data = await read(size, `inside record ${e.name} (${size} bytes from byte ${e.dataOffset})`);
    checkCrc(e, data, await readDescriptor(e, size, why));
    return data;
  };

  /** A stored record of unknown size: up to the first data descriptor whose CRC-32 and sizes match what precedes it. */
  const readScanning = async (e: ZipEntry): Promise<Uint8Array> => {
    let acc = new Uint8Array(64 * 1024);
    let n = 0;
    let p = 0; // candidates before p were rejected
    const isSig = (q: number) => acc[q] === 0x50 && acc[q + 1] === 0x4b && acc[q + 2] === 0x07 && acc[q + 3] === 0x08;
    for (;;) {
      const piece = await r.some();
      if (!piece) throw truncated(`inside record ${e.name} (no data descriptor found)`);
      if (n + piece.byteLength > acc.byteLength) {
        const grown = new Uint8Array(Math.max(acc.byteLength * 2, n + piece.byteLength));
        grown.set(acc.subarray(0, n));
        acc = grown;
      }
      acc.set(piece, n);
      n += piece.byteLength;
      let end = -1;
      for (; p + 4 <= n; p++) {
        if (!isSig(p)) continue;
        if (p + 20 > n) break; // wait for the bytes that decide this candidate
        const crc = u32(acc, p + 4);
        const c = u32(acc, p + 8), d = u32(acc, p + 12);
        // 32-bit sizes (p, p), or zip64 (p, 0, p, 0); an empty record: 32-bit iff a record header follows
        const is32 = c === p && d === p && (p !== 0 || NEXT_SIGS.has(u32(acc, p + 16)));
        if (!is32 && p + 24 > n) break;
        const is64 = !is32 && c === p && d === 0 && u32(acc, p + 16) === p && u32(acc, p + 20) === 0;
        if ((is32 || is64) && crc32(acc.subarray(0, p)) === crc) {
          end = p + (is32 ? 16 : 24);
          break;
        }
      }
      if (end >= 0) {
        r.unread(acc.slice(end, n));
        return acc.slice(0, p);
      }
      if (n > MAX_SCAN_BYTES) throw new TorchBinError(`${fileName}: record ${e.name}: no data descriptor within ${MAX_SCAN_BYTES} bytes; corrupt file`);
    }
  };

  /** A record's uncompressed bytes. `size`: its length when known from data.pkl (storages). */
  const readRecord = async (e: ZipEntry & { sizesKnown: boolean }, size: number | null, why = ''): Promise<Uint8Array> => {
    if (e.sizesKnown) {
      const raw = await read(e.compressedSize, `inside record ${e.name} (${e.compressedSize} bytes from byte ${e.dataOffset})`);
      let out = raw;
      if (e.method === METHOD_DEFLATED) out = await inflateRaw(raw, e.size, `${fileName}: record ${e.name}`);
      else if (e.method !== METHOD_STORED) throw new ZipError(`${fileName}: record ${e.name} uses compression method ${e.method}; only stored and deflated are supported`);
      else if (e.size !== e.compressedSize) throw new ZipError(`${fileName}: stored record ${e.name} has compressed size ${e.compressedSize} ≠ size ${e.size}`);
      checkCrc(e, out, e.crc32);
      return out;
    }
    if (e.method !== METHOD_STORED) {
      throw new TorchBinError(`${fileName}: record ${e.name} is compressed and has no sizes in its header (a data descriptor); torch.save does not write those`);
    }
    return size !== null ? readKnown(e, size, why) : readScanning(e);
  };
  const skipRecord = async (e: ZipEntry & { sizesKnown: boolean }, size: number | null, why = '') => {
    if (e.sizesKnown) {
      if ((await r.skip(e.compressedSize)) < e.compressedSize) throw truncated(`inside record ${e.name}`);
    } else if (size !== null && e.method === METHOD_STORED) {
      if ((await r.skip(size)) < size) throw truncated(`inside record ${e.name}`);
      await readDescriptor(e, size, why); // its CRC is not checked: the bytes were not kept
    } else {
      await readRecord(e, null);
    }
  };

  try {
    let header: TorchBinHeader | null = null;
    let folder: string | null = null;
    const early = new Map<string, Uint8Array>(); // storages that came before data.pkl (not torch.save's order)
    const seen = new Set<string>();
    const delivered: string[] = [];
    const skipped: string[] = [];

    /** Hand on the wanted tensors of one storage. */
    const deliver = async (key: string, bytes: Uint8Array) => {
      const h = header!;
      const s = h.storages.get(key)!;
      if (bytes.byteLength !== s.numel * DTYPE_BYTES[s.dtype]) throw storageSizeError(fileName, s, bytes.byteLength);
      for (const t of h.tensors) {
        if (t.storageKey !== key || (opts.filter && !opts.filter(t))) continue;
        if (opts.signal?.aborted) throw abortError(opts.signal, fileName);
        await opts.onTensor(t.name, t.dtype as FloatDtype, t.shape.slice(), tensorBytes(t, bytes));
        delivered.push(t.name);
      }
    };
    const wanted = (key: string) => header!.tensors.some((t) => t.storageKey === key && (!opts.filter || opts.filter(t)));

    for (let first = true; ; first = false) {
      const at = r.consumed;
      const sigBytes = new Uint8Array(30);
      const got = await r.read(4);
      sigBytes.set(got);
      if (got.byteLength < 4) {
        if (first) throw new TorchBinError(`${fileName}: the file is ${got.byteLength} bytes; not a torch.save archive`);
        throw truncated('before the zip central directory (the end of the archive is missing)');
      }
      const sig = u32(sigBytes, 0);
      if (sig === CENTRAL_HEADER_SIG && !first) break;
      if (sig !== LOCAL_HEADER_SIG) {
        if (first) throw notAZip(sigBytes.subarray(0, 4), fileName);
        throw new TorchBinError(`${fileName}: corrupt zip: no record header at byte ${at} (found ${hex(sig)})`);
      }
      sigBytes.set(await read(26, 'inside a zip record header'), 4);
      const hdr = new Uint8Array(localHeaderLength(sigBytes));
      hdr.set(sigBytes);
      hdr.set(await read(hdr.byteLength - 30, 'inside a zip record header'), 30);
      const e = readLocalHeader(hdr, at, fileName);
      folder ??= folderOf(e.name);
      const rec = recordName(e.name, folder);
      if (rec === 'data.pkl') {
        if (header) throw new TorchBinError(`${fileName}: two data.pkl records`);
        header = describeStateDict(unpickleStateDict(await readRecord(e, null), `${fileName}: data.pkl`), fileName, folder);
        checkDtypes(header, opts.filter);
        await opts.onHeader?.(header);
        for (const [key, bytes] of early) {
          seen.add(key);
          if (header.storages.has(key) && wanted(key)) await deliver(key, bytes);
        }
        early.clear();
      } else if (rec === 'byteorder') {
        checkByteorder(await readRecord(e, null), fileName);
      } else if (rec !== null && rec.startsWith('data/')) {
        const key = rec.slice(5);
        const s = header?.storages.get(key);
        const size = s ? s.numel * DTYPE_BYTES[s.dtype] : null;
        const why = s ? `data.pkl declares storage ${key} as ${s.numel} elements of ${s.dtype}` : '';
        if (!header) {
          early.set(key, await readRecord(e, null));
        } else {
          seen.add(key);
          if (s && wanted(key)) await deliver(key, await readRecord(e, size, why));
          else await skipRecord(e, size, why);
        }
      } else {
        await skipRecord(e, null);
      }
    }
    if (!header) throw new TorchBinError(`${fileName}: the archive has no data.pkl record; not a torch.save file`);
    for (const t of header.tensors) {
      if (!seen.has(t.storageKey)) {
        throw new TorchBinError(`${fileName}: the archive has no record data/${t.storageKey} (the storage of tensor ${t.name}); truncated or corrupt`);
      }
      if (opts.filter && !opts.filter(t)) skipped.push(t.name);
    }
    await r.drain();
    return { header, delivered, skipped, bytesRead: r.received };
  } catch (e) {
    reader.cancel(e).catch(() => {});
    throw e;
  } finally {
    try {
      reader.releaseLock();
    } catch {
      /* released */
    }
  }
}
