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
import { ChunkReader, abortError, shapeSize } from './safetensors';
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

/**
 * Stream a torch.save zip: data.pkl (tensor list → onHeader, before any weights), then each storage; onTensor gets
 * every wanted tensor of a storage once its record has arrived (awaited: back-pressure for GPU uploads). Reads the
 * stream to its end (so a cache write completes) and checks that the zip's central directory follows the records.
 */
export async function streamTorchBin(stream: ReadableStream<Uint8Array>, opts: StreamTorchBinOptions): Promise<StreamTorchBinResult> {
  const fileName = opts.fileName ?? BIN_SINGLE_FILE;
  const total = opts.totalBytes ?? null;
  const reader = stream.getReader();
  const r = new ChunkReader(reader, (received) => opts.onProgress?.(received, total), opts.signal, fileName);
  const truncated = (what: string) => new TorchBinError(`${fileName}: truncated: the file ends after ${r.consumed} bytes, ${what}`);
  const read = async (n: number, what: string): Promise<Uint8Array> => {
    const b = new Uint8Array(n);
    if ((await r.readInto(b, 0, n)) < n) throw truncated(what);
    return b;
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
    /** An entry's uncompressed bytes, CRC-checked. */
    const readEntry = async (e: ZipEntry): Promise<Uint8Array> => {
      const raw = await read(e.compressedSize, `inside record ${e.name} (${e.compressedSize} bytes from byte ${e.dataOffset})`);
      let out = raw;
      if (e.method === METHOD_DEFLATED) out = await inflateRaw(raw, e.size, `${fileName}: record ${e.name}`);
      else if (e.method !== METHOD_STORED) throw new ZipError(`${fileName}: record ${e.name} uses compression method ${e.method}; only stored and deflated are supported`);
      else if (e.size !== e.compressedSize) throw new ZipError(`${fileName}: stored record ${e.name} has compressed size ${e.compressedSize} ≠ size ${e.size}`);
      const c = crc32(out);
      if (c !== e.crc32) throw new ZipError(`${fileName}: record ${e.name} is corrupt (CRC-32 ${hex(c)}, the archive says ${hex(e.crc32)})`);
      return out;
    };

    for (let first = true; ; first = false) {
      const at = r.consumed;
      const sigBytes = new Uint8Array(30);
      const got = await r.readInto(sigBytes, 0, 4);
      if (got < 4) {
        if (first) throw new TorchBinError(`${fileName}: the file is ${got} bytes; not a torch.save archive`);
        throw truncated('before the zip central directory (the end of the archive is missing)');
      }
      const sig = new DataView(sigBytes.buffer).getUint32(0, true);
      if (sig === CENTRAL_HEADER_SIG && !first) break;
      if (sig !== LOCAL_HEADER_SIG) {
        if (first) throw notAZip(sigBytes.subarray(0, 4), fileName);
        throw new TorchBinError(`${fileName}: corrupt zip: no record header at byte ${at} (found ${hex(sig)})`);
      }
      if ((await r.readInto(sigBytes, 4, 26)) < 26) throw truncated('inside a zip record header');
      const hdr = new Uint8Array(localHeaderLength(sigBytes));
      hdr.set(sigBytes);
      if ((await r.readInto(hdr, 30, hdr.byteLength - 30)) < hdr.byteLength - 30) throw truncated('inside a zip record header');
      const e = readLocalHeader(hdr, at, fileName);
      if (!e.sizesKnown) {
        throw new TorchBinError(`${fileName}: record ${e.name} has no sizes in its header (a zip written as a stream, with data descriptors); torch.save does not write those`);
      }
      folder ??= folderOf(e.name);
      const rec = recordName(e.name, folder);
      if (rec === 'data.pkl') {
        if (header) throw new TorchBinError(`${fileName}: two data.pkl records`);
        header = describeStateDict(unpickleStateDict(await readEntry(e), `${fileName}: data.pkl`), fileName, folder);
        checkDtypes(header, opts.filter);
        await opts.onHeader?.(header);
        for (const [key, bytes] of early) {
          seen.add(key);
          if (header.storages.has(key) && wanted(key)) await deliver(key, bytes);
        }
        early.clear();
      } else if (rec === 'byteorder') {
        checkByteorder(await readEntry(e), fileName);
      } else if (rec !== null && rec.startsWith('data/')) {
        const key = rec.slice(5);
        if (!header) {
          early.set(key, await readEntry(e));
        } else {
          seen.add(key);
          if (header.storages.has(key) && wanted(key)) await deliver(key, await readEntry(e));
          else if ((await r.skip(e.compressedSize)) < e.compressedSize) throw truncated(`inside record ${e.name}`);
        }
      } else if ((await r.skip(e.compressedSize)) < e.compressedSize) {
        throw truncated(`inside record ${e.name}`);
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
