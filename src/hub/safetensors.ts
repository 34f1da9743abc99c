// safetensors reader: header parsing + validation, a streaming loader that hands each tensor to a callback as soon
// as its bytes have arrived (buffering only the tensor being assembled), a whole-buffer loader, and sharded
// checkpoints (model.safetensors.index.json).
//
// File layout: u64 little-endian header length n | n bytes of JSON header | data. The header maps tensor names to
// {dtype, shape, data_offsets: [begin, end]} (offsets relative to the start of data); "__metadata__" holds strings.

import { DTYPE_BYTES, isFloatDtype, isKnownDtype, type FloatDtype, type SafetensorsDtype } from './dtype';

export class SafetensorsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SafetensorsError';
  }
}

export interface TensorInfo {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  /** byte offsets relative to the start of the data section */
  begin: number;
  end: number;
}

export interface SafetensorsHeader {
  fileName: string;
  /** n, the JSON header's length */
  headerLength: number;
  /** 8 + n: where the data section starts in the file */
  dataOffset: number;
  /** bytes the data section needs (the largest end offset) */
  dataLength: number;
  /** tensors sorted by begin offset (file order) */
  tensors: TensorInfo[];
  metadata: Record<string, string> | null;
}

/** The callback the streaming loader calls per tensor; `bytes` is little-endian, freshly allocated (byteOffset 0). */
export type OnTensor = (name: string, dtype: FloatDtype, shape: number[], bytes: Uint8Array) => void | Promise<void>;

export interface StreamSafetensorsOptions {
  /** shown in error messages */
  fileName?: string;
  /** total file size if known (Content-Length): checked against the header */
  totalBytes?: number | null;
  onHeader?: (header: SafetensorsHeader) => void | Promise<void>;
  onTensor: OnTensor;
  /** return false to skip a tensor: its bytes are read past without buffering (any dtype may be skipped) */
  filter?: (info: TensorInfo) => boolean;
  /** bytes of this file consumed so far, and the total if known */
  onProgress?: (loaded: number, total: number | null) => void;
  signal?: AbortSignal;
}

export interface StreamSafetensorsResult {
  header: SafetensorsHeader;
  /** names handed to onTensor, in order */
  delivered: string[];
  /** names skipped by the filter */
  skipped: string[];
  bytesRead: number;
}

/** The safetensors reference implementation refuses headers above 100 MB; so do we. */
export const MAX_HEADER_BYTES = 100 * 1024 * 1024;

export function shapeSize(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Header length n from the first 8 bytes (u64 LE). */
export function readHeaderLength(first8: Uint8Array, fileName = 'model.safetensors'): number {
  if (first8.byteLength < 8) {
    throw new SafetensorsError(`${fileName}: file is ${first8.byteLength} bytes, too short for a safetensors header (needs ≥ 8)`);
  }
  const dv = new DataView(first8.buffer, first8.byteOffset, 8);
  const lo = dv.getUint32(0, true);
  const hi = dv.getUint32(4, true);
  const n = hi * 2 ** 32 + lo;
  if (n === 0 || n > MAX_HEADER_BYTES) {
    throw new SafetensorsError(
      `${fileName}: header length ${n} is ${n === 0 ? 'zero' : `over the ${MAX_HEADER_BYTES}-byte limit`}; this is not a safetensors file`,
    );
  }
  return n;
}

/**
 * Parse and validate the JSON header (the n bytes after the length). Checks: known dtypes, integer shapes,
 * data_offsets in order and sized prod(shape)·itemsize, no two tensors overlapping, everything inside the file when
 * fileSize is given.
 */
export function parseSafetensorsHeader(
  headerBytes: Uint8Array | string,
  opts: { fileName?: string; fileSize?: number | null } = {},
): SafetensorsHeader {
  const fileName = opts.fileName ?? 'model.safetensors';
  const text = typeof headerBytes === 'string' ? headerBytes : new TextDecoder('utf-8', { fatal: false }).decode(headerBytes);
  const headerLength = typeof headerBytes === 'string' ? new TextEncoder().encode(headerBytes).byteLength : headerBytes.byteLength;
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new SafetensorsError(`${fileName}: header is not valid JSON (${(e as Error).message}); first bytes: ${JSON.stringify(text.slice(0, 60))}`);
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new SafetensorsError(`${fileName}: header must be a JSON object`);
  }
  const tensors: TensorInfo[] = [];
  let metadata: Record<string, string> | null = null;
  for (const [name, entry] of Object.entries(json as Record<string, unknown>)) {
    if (name === '__metadata__') {
      metadata = entry && typeof entry === 'object' ? (entry as Record<string, string>) : null;
      continue;
    }
    const where = `${fileName}: tensor "${name}"`;
    if (!entry || typeof entry !== 'object' || Array.isArray(entry)) throw new SafetensorsError(`${where}: header entry must be an object`);
    const e = entry as Record<string, unknown>;
    const dtype = e.dtype;
    if (!isKnownDtype(dtype)) throw new SafetensorsError(`${where}: unknown dtype ${JSON.stringify(dtype)}`);
    const shape = e.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
      throw new SafetensorsError(`${where}: shape must be a list of non-negative integers, got ${JSON.stringify(shape)}`);
    }
    const offs = e.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isSafeInteger(o) && o >= 0)) {
      throw new SafetensorsError(`${where}: data_offsets must be [begin, end] non-negative integers, got ${JSON.stringify(offs)}`);
    }
    const [begin, end] = offs as number[];
    if (end < begin) throw new SafetensorsError(`${where}: data_offsets [${begin}, ${end}] end before they begin`);
    const want = shapeSize(shape) * DTYPE_BYTES[dtype];
    if (end - begin !== want) {
      throw new SafetensorsError(
        `${where}: data_offsets [${begin}, ${end}] span ${end - begin} bytes, but shape [${shape.join(', ')}] of ${dtype} needs ${want}`,
      );
    }
    tensors.push({ name, dtype, shape: shape as number[], begin, end });
  }
  tensors.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let dataLength = 0;
  let prev: TensorInfo | null = null; // the non-empty tensor reaching furthest so far
  for (const t of tensors) {
    if (t.end > t.begin) {
      if (prev && t.begin < prev.end) {
        throw new SafetensorsError(
          `${fileName}: tensors "${prev.name}" [${prev.begin}, ${prev.end}) and "${t.name}" [${t.begin}, ${t.end}) overlap`,
        );
      }
      if (!prev || t.end > prev.end) prev = t;
    }
    dataLength = Math.max(dataLength, t.end);
  }
  const dataOffset = 8 + headerLength;
  if (opts.fileSize != null && dataOffset + dataLength > opts.fileSize) {
    const last = tensors.reduce((a, b) => (b.end > a.end ? b : a));
    throw new SafetensorsError(
      `${fileName}: tensor "${last.name}" ends at file byte ${dataOffset + last.end}, beyond the file size ${opts.fileSize}`,
    );
  }
  return { fileName, headerLength, dataOffset, dataLength, tensors, metadata };
}

function checkDtypes(header: SafetensorsHeader, filter?: (t: TensorInfo) => boolean): void {
  for (const t of header.tensors) {
    if (filter && !filter(t)) continue;
    if (!isFloatDtype(t.dtype)) {
      throw new SafetensorsError(
        `${header.fileName}: tensor "${t.name}" has dtype ${t.dtype}; only F32, F16 and BF16 tensors can be loaded`,
      );
    }
  }
}

export function abortError(signal: AbortSignal | undefined, what: string): Error {
  const reason = signal?.reason;
  if (reason instanceof Error && reason.name === 'AbortError') return reason;
  const err = new Error(`${what}: cancelled${reason !== undefined && !(reason instanceof DOMException) ? ` (${String(reason)})` : ''}`);
  err.name = 'AbortError';
  return err;
}

/** Pulls bytes out of a ReadableStream reader chunk by chunk, never holding more than the current chunk. */
class ChunkReader {
  private chunk: Uint8Array = new Uint8Array(0);
  private pos = 0;
  consumed = 0; // bytes handed out or skipped
  received = 0; // bytes read from the stream
  private done = false;

  constructor(
    private readonly reader: ReadableStreamDefaultReader<Uint8Array>,
    private readonly onChunk: (received: number) => void,
    private readonly signal: AbortSignal | undefined,
    private readonly what: string,
  ) {}

  /** Make sure pos < chunk.length; false at end of stream. */
  private async fill(): Promise<boolean> {
    while (this.pos >= this.chunk.byteLength) {
      if (this.done) return false;
      if (this.signal?.aborted) throw abortError(this.signal, this.what);
      const { value, done } = await this.reader.read();
      if (done) {
        this.done = true;
        return false;
      }
      if (!(value instanceof Uint8Array)) throw new SafetensorsError(`${this.what}: stream produced a non-byte chunk`);
      this.chunk = value;
      this.pos = 0;
      this.received += value.byteLength;
      this.onChunk(this.received);
    }
    return true;
  }

  /** Copy up to n bytes into dst[off..]; returns the count copied (less only at end of stream). */
  async readInto(dst: Uint8Array, off: number, n: number): Promise<number> {
    let got = 0;
    while (got < n && (await this.fill())) {
      const take = Math.min(n - got, this.chunk.byteLength - this.pos);
      dst.set(this.chunk.subarray(this.pos, this.pos + take), off + got);
      this.pos += take;
      got += take;
    }
    this.consumed += got;
    return got;
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

  /** Read to the end (so a teed cache write completes); returns the count of bytes drained. */
  async drain(): Promise<number> {
    let n = 0;
    while (await this.fill()) {
      n += this.chunk.byteLength - this.pos;
      this.pos = this.chunk.byteLength;
    }
    this.consumed += n;
    return n;
  }
}

/**
 * Stream a safetensors file: parse the header as soon as it arrives, then hand each tensor to onTensor (awaited, so
 * an async GPU upload applies back-pressure) when its last byte has arrived. Only the bytes of the tensor being
 * assembled are buffered. Reads the stream to its end.
 */
export async function streamSafetensors(
  stream: ReadableStream<Uint8Array>,
  opts: StreamSafetensorsOptions,
): Promise<StreamSafetensorsResult> {
  const fileName = opts.fileName ?? 'model.safetensors';
  const total = opts.totalBytes ?? null;
  const reader = stream.getReader();
  const r = new ChunkReader(reader, (received) => opts.onProgress?.(received, total), opts.signal, fileName);
  const truncated = (need: number) =>
    new SafetensorsError(`${fileName}: truncated: the download ended after ${r.consumed} bytes, but the header says the file runs to byte ${need}`);
  try {
    const first8 = new Uint8Array(8);
    if ((await r.readInto(first8, 0, 8)) < 8) {
      throw new SafetensorsError(`${fileName}: file is ${r.consumed} bytes, too short for a safetensors header (needs ≥ 8)`);
    }
    const n = readHeaderLength(first8, fileName);
    if (total != null && 8 + n > total) {
      throw new SafetensorsError(`${fileName}: header length ${n} runs past the file size ${total}; this is not a safetensors file`);
    }
    const hbytes = new Uint8Array(n);
    if ((await r.readInto(hbytes, 0, n)) < n) throw truncated(8 + n);
    const header = parseSafetensorsHeader(hbytes, { fileName, fileSize: total });
    checkDtypes(header, opts.filter);
    await opts.onHeader?.(header);

    const delivered: string[] = [];
    const skipped: string[] = [];
    let pos = 0; // position in the data section
    for (const t of header.tensors) {
      if (t.begin > pos) {
        if ((await r.skip(t.begin - pos)) < t.begin - pos) throw truncated(header.dataOffset + t.begin);
        pos = t.begin;
      }
      const size = t.end - t.begin;
      const want = !opts.filter || opts.filter(t);
      if (!want) {
        // skipped: bytes already past (zero-size or overlapping-empty) need nothing
        const rest = t.end - pos;
        if (rest > 0 && (await r.skip(rest)) < rest) throw truncated(header.dataOffset + t.end);
        pos = Math.max(pos, t.end);
        skipped.push(t.name);
        continue;
      }
      const bytes = new Uint8Array(size);
      if (size > 0 && (await r.readInto(bytes, 0, size)) < size) throw truncated(header.dataOffset + t.end);
      pos = Math.max(pos, t.end);
      if (opts.signal?.aborted) throw abortError(opts.signal, fileName);
      await opts.onTensor(t.name, t.dtype as FloatDtype, t.shape.slice(), bytes);
      delivered.push(t.name);
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
      /* already released */
    }
  }
}

export interface LoadedTensor {
  name: string;
  dtype: FloatDtype;
  shape: number[];
  /** a view into the given buffer (no copy) */
  bytes: Uint8Array;
}

/** Whole-file loader for small files: tensors are zero-copy views into the buffer. */
export function loadSafetensorsFromBuffer(
  buffer: ArrayBuffer | Uint8Array,
  opts: { fileName?: string; filter?: (info: TensorInfo) => boolean } = {},
): { header: SafetensorsHeader; tensors: Map<string, LoadedTensor> } {
  const fileName = opts.fileName ?? 'model.safetensors';
  const bytes = buffer instanceof Uint8Array ? buffer : new Uint8Array(buffer);
  const n = readHeaderLength(bytes, fileName);
  if (8 + n > bytes.byteLength) {
    throw new SafetensorsError(`${fileName}: header length ${n} runs past the file size ${bytes.byteLength}; this is not a safetensors file`);
  }
  const header = parseSafetensorsHeader(bytes.subarray(8, 8 + n), { fileName, fileSize: bytes.byteLength });
  checkDtypes(header, opts.filter);
  const tensors = new Map<string, LoadedTensor>();
  for (const t of header.tensors) {
    if (opts.filter && !opts.filter(t)) continue;
    tensors.set(t.name, {
      name: t.name,
      dtype: t.dtype as FloatDtype,
      shape: t.shape.slice(),
      bytes: bytes.subarray(header.dataOffset + t.begin, header.dataOffset + t.end),
    });
  }
  return { header, tensors };
}

// ---------------------------------------------------------------------------------------------------------------
// Sharded checkpoints

export const SINGLE_FILE = 'model.safetensors';
export const INDEX_FILE = 'model.safetensors.index.json';

export interface ShardIndex {
  /** tensor name → shard file name */
  weightMap: Map<string, string>;
  /** shard files in load order (sorted by name: model-00001-of-0000N.safetensors first) */
  shards: string[];
  /** metadata.total_size if present (bytes of tensor data, not file bytes) */
  totalSize: number | null;
}

/** Parse a shard index (model.safetensors.index.json, or pytorch_model.bin.index.json with ext '.bin'). */
export function parseShardIndex(json: unknown, what = INDEX_FILE, ext = '.safetensors'): ShardIndex {
  if (typeof json === 'string') {
    try {
      json = JSON.parse(json);
    } catch (e) {
      throw new SafetensorsError(`${what}: not valid JSON (${(e as Error).message})`);
    }
  }
  const obj = json as { weight_map?: unknown; metadata?: { total_size?: unknown } };
  if (!obj || typeof obj !== 'object' || !obj.weight_map || typeof obj.weight_map !== 'object' || Array.isArray(obj.weight_map)) {
    throw new SafetensorsError(`${what}: missing "weight_map" object`);
  }
  const weightMap = new Map<string, string>();
  for (const [name, shard] of Object.entries(obj.weight_map as Record<string, unknown>)) {
    if (typeof shard !== 'string' || !shard.endsWith(ext) || shard.includes('..') || shard.startsWith('/')) {
      throw new SafetensorsError(`${what}: weight_map["${name}"] must be a ${ext} file name in the repo, got ${JSON.stringify(shard)}`);
    }
    weightMap.set(name, shard);
  }
  if (weightMap.size === 0) throw new SafetensorsError(`${what}: "weight_map" is empty`);
  const shards = [...new Set(weightMap.values())].sort();
  const ts = obj.metadata?.total_size;
  return { weightMap, shards, totalSize: typeof ts === 'number' ? ts : null };
}

export interface ShardSource {
  stream: ReadableStream<Uint8Array>;
  /** the file size, if known */
  size: number | null;
}

/**
 * Stream every shard of a sharded checkpoint, in order, through streamSafetensors. Checks that each tensor comes
 * from the shard the index names and that every tensor in the index arrived.
 */
export async function streamShardedSafetensors(
  index: ShardIndex,
  openShard: (file: string) => Promise<ShardSource>,
  opts: Omit<StreamSafetensorsOptions, 'fileName' | 'totalBytes' | 'onProgress'> & {
    onProgress?: (file: string, loaded: number, total: number | null) => void;
  },
): Promise<StreamSafetensorsResult[]> {
  const results: StreamSafetensorsResult[] = [];
  const seen = new Set<string>();
  for (const file of index.shards) {
    if (opts.signal?.aborted) throw abortError(opts.signal, file);
    const { stream, size } = await openShard(file);
    const res = await streamSafetensors(stream, {
      ...opts,
      fileName: file,
      totalBytes: size,
      onProgress: (loaded, total) => opts.onProgress?.(file, loaded, total),
      onHeader: async (h) => {
        for (const t of h.tensors) {
          const mapped = index.weightMap.get(t.name);
          if (mapped !== undefined && mapped !== file) {
            throw new SafetensorsError(`${file}: tensor "${t.name}" is here, but ${INDEX_FILE} says it is in ${mapped}`);
          }
          seen.add(t.name);
        }
        await opts.onHeader?.(h);
      },
    });
    results.push(res);
  }
  const missing = [...index.weightMap.keys()].filter((n) => !seen.has(n));
  if (missing.length) {
    throw new SafetensorsError(
      `${INDEX_FILE}: ${missing.length} tensor(s) listed in weight_map were not found in their shards: ` +
        missing.slice(0, 5).map((n) => `"${n}" (${index.weightMap.get(n)})`).join(', ') + (missing.length > 5 ? ', …' : ''),
    );
  }
  return results;
}
