/**
 * Counts GPU → CPU readbacks: every mapAsync(READ) of a buffer made on one device, under the label of the work that
 * was running (e.g. 'mamba:decode'). Whatever path a model reads through (GpuContext.read or its own staging buffers),
 * it has to map a MAP_READ buffer, so this sees every readback without knowing the model's code.
 */
const MAP_READ = 0x0001;

/** The counter watching each device (one at most). */
const watching = new WeakMap<GPUDevice, ReadbackCounter>();

export class ReadbackCounter {
  /** The counter watching `device`, or null. Make it with new ReadbackCounter(device) before anything creates a
   *  buffer on the device: buffers made earlier are not seen. */
  static of(device: GPUDevice): ReadbackCounter | null {
    return watching.get(device) ?? null;
  }

  private label: string | null = null;
  private readonly counts = new Map<string, number>();
  /** Readbacks made outside any labelled work. */
  unlabelled = 0;

  constructor(device: GPUDevice) {
    if (watching.has(device)) throw new Error('a ReadbackCounter already watches this device');
    watching.set(device, this);
    const create = device.createBuffer.bind(device);
    const counter = this;
    device.createBuffer = function (desc: GPUBufferDescriptor): GPUBuffer {
      const buffer = create(desc);
      if ((desc.usage & MAP_READ) !== 0) {
        const map = buffer.mapAsync.bind(buffer);
        buffer.mapAsync = (mode: GPUMapModeFlags, offset?: number, size?: number) => {
          if ((mode & MAP_READ) !== 0) counter.add();
          return map(mode, offset, size);
        };
      }
      return buffer;
    };
  }

  private add(): void {
    if (this.label === null) this.unlabelled++;
    else this.counts.set(this.label, (this.counts.get(this.label) ?? 0) + 1);
  }

  /** Runs `fn` with the readbacks it makes counted under `label` (calls must not overlap: the worker runs one job at a time). */
  async during<T>(label: string, fn: () => Promise<T>): Promise<T> {
    const outer = this.label;
    this.label = label;
    try {
      return await fn();
    } finally {
      this.label = outer;
    }
  }

  count(label: string): number {
    return this.counts.get(label) ?? 0;
  }

  /** Every label's count, and the total. */
  snapshot(): Record<string, number> {
    let total = this.unlabelled;
    const out: Record<string, number> = {};
    for (const [k, v] of this.counts) {
      out[k] = v;
      total += v;
    }
    return { ...out, unlabelled: this.unlabelled, total };
  }
}
