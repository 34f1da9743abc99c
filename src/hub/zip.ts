// The zip container of torch.save files (PKWARE APPNOTE 6.3): the central directory of a whole file in memory
// (readZipDirectory: EOCD, zip64 EOCD locator and record, zip64 extra fields), local file headers read one after
// another from a stream (readLocalHeader: what a download sees first), stored and deflated entries (inflateRaw via
// DecompressionStream('deflate-raw'), in browsers and Node ≥ 20), and CRC-32. Read-only; no encryption, no
// multi-disk archives. Plain TS, no GPU.

export class ZipError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ZipError';
  }
}

export const LOCAL_HEADER_SIG = 0x04034b50;
export const CENTRAL_HEADER_SIG = 0x02014b50;
const EOCD_SIG = 0x06054b50;
const ZIP64_EOCD_SIG = 0x06064b50;
const ZIP64_LOCATOR_SIG = 0x07064b50;
const ZIP64_EXTRA_ID = 0x0001;
const U32_MAX = 0xffffffff;
const U16_MAX = 0xffff;

export const METHOD_STORED = 0;
export const METHOD_DEFLATED = 8;

export interface ZipEntry {
  name: string;
  /** 0 stored, 8 deflated */
  method: number;
  flags: number;
  crc32: number;
  compressedSize: number;
  size: number;
  /** offset of the entry's local file header */
  headerOffset: number;
  /** offset of the entry's data (after the local header); set by readZipDirectory and readLocalHeader */
  dataOffset: number;
}

function dv(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

/** A u64 that must fit a JS number (files < 8 PiB). */
function u64(v: DataView, off: number, what: string): number {
  const n = v.getBigUint64(off, true);
  if (n > BigInt(Number.MAX_SAFE_INTEGER)) throw new ZipError(`${what}: a 64-bit size or offset (${n}) is too large`);
  return Number(n);
}

const decoder = new TextDecoder('utf-8', { fatal: false });

/**
 * The zip64 extended information extra field (0x0001) fills in the fields the header set to 0xFFFFFFFF, in the
 * order uncompressed size, compressed size, header offset (only those present).
 */
function applyZip64(extra: Uint8Array, sizes: { size: number; compressedSize: number; headerOffset: number }, what: string): void {
  const v = dv(extra);
  for (let p = 0; p + 4 <= extra.byteLength; ) {
    const id = v.getUint16(p, true);
    const len = v.getUint16(p + 2, true);
    if (p + 4 + len > extra.byteLength) throw new ZipError(`${what}: an extra field runs past the header`);
    if (id === ZIP64_EXTRA_ID) {
      let q = p + 4;
      const take = () => {
        if (q + 8 > p + 4 + len) throw new ZipError(`${what}: the zip64 extra field is too short`);
        const n = u64(v, q, what);
        q += 8;
        return n;
      };
      if (sizes.size === U32_MAX) sizes.size = take();
      if (sizes.compressedSize === U32_MAX) sizes.compressedSize = take();
      if (sizes.headerOffset === U32_MAX) sizes.headerOffset = take();
      return;
    }
    p += 4 + len;
  }
  if (sizes.size === U32_MAX || sizes.compressedSize === U32_MAX || sizes.headerOffset === U32_MAX) {
    throw new ZipError(`${what}: sizes are 0xFFFFFFFF but there is no zip64 extra field`);
  }
}

/**
 * The entries of a whole zip file in memory, from its central directory (so any entry order, data descriptors and
 * zip64 archives are fine). Throws a ZipError that says what is wrong with a truncated or corrupt file.
 */
export function readZipDirectory(bytes: Uint8Array, fileName = 'archive'): ZipEntry[] {
  const v = dv(bytes);
  const n = bytes.byteLength;
  if (n < 22) throw new ZipError(`${fileName}: ${n} bytes is too short for a zip file (truncated?)`);
  // The end-of-central-directory record is the last 22 bytes plus a comment of at most 65535 bytes.
  let eocd = -1;
  for (let p = n - 22; p >= Math.max(0, n - 22 - U16_MAX); p--) {
    if (v.getUint32(p, true) === EOCD_SIG && p + 22 + v.getUint16(p + 20, true) === n) {
      eocd = p;
      break;
    }
  }
  if (eocd < 0) {
    const isZip = v.getUint32(0, true) === LOCAL_HEADER_SIG;
    throw new ZipError(isZip
      ? `${fileName}: no end-of-central-directory record: the file is truncated (${n} bytes)`
      : `${fileName}: not a zip file (no end-of-central-directory record)`);
  }
  if (v.getUint16(eocd + 4, true) !== 0 || v.getUint16(eocd + 6, true) !== 0) {
    throw new ZipError(`${fileName}: multi-disk zip archives are not supported`);
  }
  let count = v.getUint16(eocd + 10, true);
  let cdSize = v.getUint32(eocd + 12, true);
  let cdOffset = v.getUint32(eocd + 16, true);
  if (count === U16_MAX || cdSize === U32_MAX || cdOffset === U32_MAX) {
    const loc = eocd - 20;
    if (loc < 0 || v.getUint32(loc, true) !== ZIP64_LOCATOR_SIG) {
      throw new ZipError(`${fileName}: zip64 archive without a zip64 end-of-central-directory locator`);
    }
    const rec = u64(v, loc + 8, fileName);
    if (rec + 56 > n || v.getUint32(rec, true) !== ZIP64_EOCD_SIG) {
      throw new ZipError(`${fileName}: the zip64 end-of-central-directory record is missing or corrupt`);
    }
    count = u64(v, rec + 32, fileName);
    cdSize = u64(v, rec + 40, fileName);
    cdOffset = u64(v, rec + 48, fileName);
  }
  if (cdOffset + cdSize > n) {
    throw new ZipError(`${fileName}: the central directory (bytes ${cdOffset}..${cdOffset + cdSize}) runs past the file size ${n}`);
  }
  const entries: ZipEntry[] = [];
  let p = cdOffset;
  for (let i = 0; i < count; i++) {
    if (p + 46 > n || v.getUint32(p, true) !== CENTRAL_HEADER_SIG) {
      throw new ZipError(`${fileName}: central directory entry ${i} of ${count} is corrupt`);
    }
    const flags = v.getUint16(p + 8, true);
    const method = v.getUint16(p + 10, true);
    const crc32 = v.getUint32(p + 16, true);
    const nameLen = v.getUint16(p + 28, true);
    const extraLen = v.getUint16(p + 30, true);
    const commentLen = v.getUint16(p + 32, true);
    if (p + 46 + nameLen + extraLen + commentLen > n) throw new ZipError(`${fileName}: central directory entry ${i} runs past the file`);
    const name = decoder.decode(bytes.subarray(p + 46, p + 46 + nameLen));
    const sizes = { compressedSize: v.getUint32(p + 20, true), size: v.getUint32(p + 24, true), headerOffset: v.getUint32(p + 42, true) };
    applyZip64(bytes.subarray(p + 46 + nameLen, p + 46 + nameLen + extraLen), sizes, `${fileName}: entry ${name}`);
    const h = sizes.headerOffset;
    if (h + 30 > n || v.getUint32(h, true) !== LOCAL_HEADER_SIG) throw new ZipError(`${fileName}: the local header of ${name} is missing or corrupt`);
    const dataOffset = h + 30 + v.getUint16(h + 26, true) + v.getUint16(h + 28, true);
    if (dataOffset + sizes.compressedSize > n) {
      throw new ZipError(`${fileName}: entry ${name} (${sizes.compressedSize} bytes at ${dataOffset}) runs past the file size ${n}`);
    }
    entries.push({ name, method, flags, crc32, ...sizes, dataOffset });
    p += 46 + nameLen + extraLen + commentLen;
  }
  return entries;
}

/** Length of a local file header with its name and extra field, from its first 30 bytes. */
export function localHeaderLength(first30: Uint8Array): number {
  const v = dv(first30);
  return 30 + v.getUint16(26, true) + v.getUint16(28, true);
}

/**
 * A local file header (the whole of it: localHeaderLength bytes) at `offset` in the archive. Sizes may be unknown
 * (flag bit 3: a data descriptor follows the data); `sizesKnown` says.
 */
export function readLocalHeader(h: Uint8Array, offset: number, fileName = 'archive'): ZipEntry & { sizesKnown: boolean } {
  const v = dv(h);
  if (v.getUint32(0, true) !== LOCAL_HEADER_SIG) throw new ZipError(`${fileName}: no zip local file header at byte ${offset}`);
  const flags = v.getUint16(6, true);
  const method = v.getUint16(8, true);
  const nameLen = v.getUint16(26, true);
  const extraLen = v.getUint16(28, true);
  const name = decoder.decode(h.subarray(30, 30 + nameLen));
  const sizes = { compressedSize: v.getUint32(18, true), size: v.getUint32(22, true), headerOffset: offset };
  if (sizes.compressedSize === U32_MAX || sizes.size === U32_MAX) {
    applyZip64(h.subarray(30 + nameLen, 30 + nameLen + extraLen), sizes, `${fileName}: entry ${name}`);
  }
  if (flags & 1) throw new ZipError(`${fileName}: entry ${name} is encrypted`);
  return {
    name, method, flags, crc32: v.getUint32(14, true), ...sizes, dataOffset: offset + 30 + nameLen + extraLen,
    sizesKnown: (flags & 8) === 0,
  };
}

/** Raw DEFLATE → bytes (DecompressionStream 'deflate-raw'); `expected` is the uncompressed size the header gives. */
export async function inflateRaw(data: Uint8Array, expected: number, what: string): Promise<Uint8Array> {
  const out = new Uint8Array(expected);
  let n = 0;
  try {
    const ds = new DecompressionStream('deflate-raw');
    const writer = ds.writable.getWriter();
    const written = writer.write(data as Uint8Array<ArrayBuffer>).then(() => writer.close());
    written.catch(() => {});
    const reader = ds.readable.getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      if (n + value.byteLength > expected) throw new ZipError(`${what}: inflates to more than the ${expected} bytes its header gives`);
      out.set(value, n);
      n += value.byteLength;
    }
    await written;
  } catch (e) {
    if (e instanceof ZipError) throw e;
    throw new ZipError(`${what}: corrupt deflate data (${(e as Error).message})`);
  }
  if (n !== expected) throw new ZipError(`${what}: inflates to ${n} bytes, its header gives ${expected}`);
  return out;
}

let crcTable: Uint32Array | null = null;

/** CRC-32 (IEEE 802.3, as zip uses), continuing from `crc` (pass the previous result to extend). */
export function crc32(bytes: Uint8Array, crc = 0): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256 * 4);
    for (let i = 0; i < 256; i++) {
      let c = i;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[i] = c >>> 0;
    }
    // slicing-by-4 tables
    for (let i = 0; i < 256; i++) {
      for (let t = 1; t < 4; t++) crcTable[t * 256 + i] = (crcTable[(t - 1) * 256 + i] >>> 8) ^ crcTable[crcTable[(t - 1) * 256 + i] & 0xff];
    }
  }
  const T = crcTable;
  let c = ~crc >>> 0;
  let i = 0;
  const n = bytes.byteLength;
  for (; i + 4 <= n; i += 4) {
    c ^= bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24);
    c = T[768 + (c & 0xff)] ^ T[512 + ((c >>> 8) & 0xff)] ^ T[256 + ((c >>> 16) & 0xff)] ^ T[c >>> 24];
  }
  for (; i < n; i++) c = T[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

/** An entry's uncompressed bytes from a whole archive in memory (a view for stored entries), CRC-checked. */
export async function entryBytes(archive: Uint8Array, e: ZipEntry, fileName = 'archive'): Promise<Uint8Array> {
  const raw = archive.subarray(e.dataOffset, e.dataOffset + e.compressedSize);
  let out: Uint8Array;
  if (e.method === METHOD_STORED) {
    if (e.compressedSize !== e.size) throw new ZipError(`${fileName}: stored entry ${e.name} has compressed size ${e.compressedSize} ≠ size ${e.size}`);
    out = raw;
  } else if (e.method === METHOD_DEFLATED) {
    out = await inflateRaw(raw, e.size, `${fileName}: entry ${e.name}`);
  } else {
    throw new ZipError(`${fileName}: entry ${e.name} uses compression method ${e.method}; only stored (0) and deflated (8) are supported`);
  }
  const c = crc32(out);
  if (c !== e.crc32) throw new ZipError(`${fileName}: entry ${e.name} is corrupt (CRC-32 ${hex(c)}, the archive says ${hex(e.crc32)})`);
  return out;
}

export function hex(n: number): string {
  return `0x${(n >>> 0).toString(16).padStart(8, '0')}`;
}
