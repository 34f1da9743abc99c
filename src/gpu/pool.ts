/**
 * Buffer pool: every GPU buffer the app makes goes through here, tagged with a category, so the UI can show live
 * bytes per category (weights, KV cache vs SSM state, activations, scratch). Released buffers of the same size and
 * usage are kept for reuse, up to a cap, so repeated prefills do not churn allocations.
 * An optional memory cap (memoryCap, bytes) makes the pool behave like a GPU with that much memory: a new
 * allocation that would take the pool past it throws OutOfMemoryError, as the device itself would (the page's
 * "GPU memory cap" setting: what fits on a 4 GB laptop GPU?).
 */
import { checkBindingSize, type DeviceLimits } from './device';
import { OutOfMemoryError } from './errors';

export const CATEGORIES = ['weights', 'kv-cache', 'ssm-state', 'activations', 'scratch'] as const;
export type Category = (typeof CATEGORIES)[number];

/** STORAGE | COPY_SRC | COPY_DST (spelled as numbers: in Node the GPUBufferUsage global exists only after init). */
export const STORAGE_USAGE = 0x80 | 0x04 | 0x08;

interface Entry { category: Category; bytes: number; label: string }

export class BufferPool {
  private live = new Map<GPUBuffer, Entry>();
  private free = new Map<string, GPUBuffer[]>();
  private freeBytes = 0;
  readonly maxFreeBytes: number;
  /** Bytes this pool may hold (live + cached free buffers); null = no cap but the device's own. */
  memoryCap: number | null = null;

  constructor(private readonly device: GPUDevice, private readonly limits: DeviceLimits, maxFreeBytes = 256 << 20) {
    this.maxFreeBytes = maxFreeBytes;
  }

  /** A storage buffer of at least `bytes` (rounded up to 16), counted under `category`. */
  create(bytes: number, category: Category, label: string = category, usage = STORAGE_USAGE): GPUBuffer {
    const size = Math.max(16, Math.ceil(bytes / 16) * 16);
    checkBindingSize(this.limits, size, label);
    const key = `${size}:${usage}`;
    const reuse = this.free.get(key)?.pop();
    let buf: GPUBuffer;
    if (reuse) {
      this.freeBytes -= size;
      buf = reuse;
    } else {
      if (this.memoryCap !== null) {
        const live = this.totalLiveBytes();
        if (live + this.freeBytes + size > this.memoryCap) this.trim(); // cached free buffers go first
        if (live + size > this.memoryCap) {
          throw new OutOfMemoryError(size, `${label} (memory cap ${(this.memoryCap / 2 ** 20).toFixed(1)} MiB, ${(live / 2 ** 20).toFixed(1)} MiB in use)`);
        }
      }
      try {
        buf = this.device.createBuffer({ size, usage, label });
      } catch (e) {
        throw new OutOfMemoryError(size, `${label}: ${(e as Error).message}`);
      }
    }
    this.live.set(buf, { category, bytes: size, label });
    return buf;
  }

  /** Like create(), then uploads `data`. */
  upload(data: ArrayBufferView, category: Category, label: string = category): GPUBuffer {
    const buf = this.create(data.byteLength, category, label);
    this.device.queue.writeBuffer(buf, 0, data.buffer, data.byteOffset, Math.floor(data.byteLength / 4) * 4);
    const tail = data.byteLength % 4;
    if (tail) {
      const pad = new Uint8Array(4);
      pad.set(new Uint8Array(data.buffer, data.byteOffset + data.byteLength - tail, tail));
      this.device.queue.writeBuffer(buf, data.byteLength - tail, pad);
    }
    return buf;
  }

  /** Returns a buffer to the pool (kept for reuse while under the cap, else destroyed). */
  release(buf: GPUBuffer | null | undefined): void {
    if (!buf) return;
    const e = this.live.get(buf);
    if (!e) return;
    this.live.delete(buf);
    if (this.freeBytes + e.bytes <= this.maxFreeBytes) {
      const key = `${e.bytes}:${buf.usage}`;
      const list = this.free.get(key) ?? [];
      list.push(buf);
      this.free.set(key, list);
      this.freeBytes += e.bytes;
    } else {
      buf.destroy();
    }
  }

  /** Destroys the cached free buffers (live ones stay). */
  trim(): void {
    for (const list of this.free.values()) for (const b of list) b.destroy();
    this.free.clear();
    this.freeBytes = 0;
  }

  /** Live bytes per category. */
  bytesByCategory(): Record<Category, number> {
    const out = Object.fromEntries(CATEGORIES.map((c) => [c, 0])) as Record<Category, number>;
    for (const e of this.live.values()) out[e.category] += e.bytes;
    return out;
  }

  totalLiveBytes(): number {
    let t = 0;
    for (const e of this.live.values()) t += e.bytes;
    return t;
  }

  /** Bytes held in the free list (allocated on the device but not counted in any category). */
  cachedFreeBytes(): number {
    return this.freeBytes;
  }

  destroyAll(): void {
    for (const b of this.live.keys()) b.destroy();
    this.live.clear();
    this.trim();
  }
}
