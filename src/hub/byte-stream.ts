// Reading a download front to back, as the streaming checkpoint readers (streamSafetensors, streamTorchBin) do:
// ByteStream pulls bytes out of a ReadableStream chunk by chunk, never holding more than the current chunk (plus
// bytes given back with unread), counts what it has handed out and received, reports progress per chunk and stops
// at an abort; readStream runs a reader over it and cancels the download if the reader fails.

export function abortError(signal: AbortSignal | undefined, what: string): Error {
  const reason = signal?.reason;
  if (reason instanceof Error && reason.name === 'AbortError') return reason;
  const err = new Error(`${what}: cancelled${reason !== undefined && !(reason instanceof DOMException) ? ` (${String(reason)})` : ''}`);
  err.name = 'AbortError';
  return err;
}

export interface ByteStreamOptions {
  /** file name for messages */
  what: string;
  /** the reader's own error class for a malformed stream */
  error: (message: string) => Error;
  /** called after each chunk with the bytes received so far */
  onChunk?: (received: number) => void;
  signal?: AbortSignal;
}

export class ByteStream {
  private chunk: Uint8Array = new Uint8Array(0);
  private pos = 0;
  private ended = false;
  /** bytes handed out or skipped (= the file offset of the next byte) */
  consumed = 0;
  /** bytes read from the stream */
  received = 0;

  constructor(
    private readonly reader: ReadableStreamDefaultReader<Uint8Array>,
    private readonly opts: ByteStreamOptions,
  ) {}

  /** Make sure pos < chunk.length; false at the end of the stream. */
  private async fill(): Promise<boolean> {
    while (this.pos >= this.chunk.byteLength) {
      if (this.ended) return false;
      if (this.opts.signal?.aborted) throw abortError(this.opts.signal, this.opts.what);
      const { value, done } = await this.reader.read();
      if (done) {
        this.ended = true;
        return false;
      }
      if (!(value instanceof Uint8Array)) throw this.opts.error(`${this.opts.what}: the stream produced a non-byte chunk`);
      this.chunk = value;
      this.pos = 0;
      this.received += value.byteLength;
      this.opts.onChunk?.(this.received);
    }
    return true;
  }

  /** Copy up to n bytes into dst[off..]; returns the count copied (less only at the end of the stream). */
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

  /** Exactly n bytes, or fewer at the end of the stream. */
  async read(n: number): Promise<Uint8Array> {
    const out = new Uint8Array(n);
    const got = await this.readInto(out, 0, n);
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

  /** Pass over up to n bytes; returns the count skipped (less only at the end of the stream). */
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
 * Run `read` over a ByteStream of `stream`; if it throws, the download is cancelled (with that error) before the
 * error goes on. The stream's lock is released either way.
 */
export async function readStream<T>(
  stream: ReadableStream<Uint8Array>,
  opts: ByteStreamOptions,
  read: (r: ByteStream) => Promise<T>,
): Promise<T> {
  const reader = stream.getReader();
  try {
    return await read(new ByteStream(reader, opts));
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
