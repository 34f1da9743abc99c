/**
 * The small plumbing every kernel wrapper uses: one compute pipeline per (WGSL file, entry point, override constants),
 * uniforms written into a per-submit arena, and bind groups cached by the identity of the buffers they bind (so a
 * decode loop that reuses its buffers creates no new bind groups after the first token).
 *
 * Binding convention for every shader in shaders/: `@group(0) @binding(0) var<uniform> params: Params;` when the
 * kernel has uniforms, then its storage buffers at bindings 1, 2, ... in the order the wrapper passes them.
 */
import type { GpuContext } from './context';

export type Uniforms = ArrayBuffer | ArrayBufferView | null;

let nextBufferId = 1;
const bufferIds = new WeakMap<GPUBuffer, number>();
function idOf(b: GPUBuffer): number {
  let id = bufferIds.get(b);
  if (id === undefined) {
    id = nextBufferId++;
    bufferIds.set(b, id);
  }
  return id;
}

/** A storage binding: a whole buffer, or a byte range of one. */
export type Binding = GPUBuffer | { buffer: GPUBuffer; offset?: number; size?: number };

export class ComputeKernel {
  readonly pipeline: GPUComputePipeline;
  readonly label: string;
  private readonly layout: GPUBindGroupLayout;
  private readonly groups = new Map<string, GPUBindGroup>();

  constructor(
    private readonly ctx: GpuContext,
    shader: string,
    entryPoint = 'main',
    constants: Record<string, number> = {},
    /** Text prepended to the WGSL (e.g. `enable f16;`), part of the cache key. */
    prelude = '',
  ) {
    this.label = `${shader}:${entryPoint}`;
    this.pipeline = ctx.pipeline(shader, entryPoint, constants, prelude);
    this.layout = this.pipeline.getBindGroupLayout(0);
  }

  /** Records one dispatch into `pass`. `uniforms` (if the shader has a Params struct) goes to binding 0. */
  dispatch(pass: GPUComputePassEncoder, uniforms: Uniforms, buffers: Binding[], workgroups: [number, number?, number?]): void {
    const entries: GPUBindGroupEntry[] = [];
    const keyParts: (number | string)[] = [];
    let binding = 0;
    if (uniforms) {
      const u = this.ctx.uniforms.write(uniforms);
      entries.push({ binding: binding++, resource: { buffer: u.buffer, offset: u.offset, size: u.size } });
      keyParts.push(idOf(u.buffer), u.offset, u.size);
    }
    for (const b of buffers) {
      const r = 'mapState' in b ? { buffer: b, offset: 0, size: undefined } : b;
      const res: GPUBufferBinding = { buffer: r.buffer };
      if (r.offset) res.offset = r.offset;
      if (r.size !== undefined) res.size = r.size;
      entries.push({ binding: binding++, resource: res });
      keyParts.push(idOf(r.buffer), r.offset ?? 0, r.size ?? -1);
    }
    const key = keyParts.join(',');
    let group = this.groups.get(key);
    if (!group) {
      if (this.groups.size > 8192) this.groups.clear();
      group = this.ctx.device.createBindGroup({ layout: this.layout, entries, label: this.label });
      this.groups.set(key, group);
    }
    const [x, y = 1, z = 1] = workgroups;
    const max = this.ctx.limits.maxComputeWorkgroupsPerDimension;
    if (x > max || y > max || z > max) {
      throw new Error(`${this.label}: dispatch (${x}, ${y}, ${z}) exceeds maxComputeWorkgroupsPerDimension ${max}`);
    }
    pass.setPipeline(this.pipeline);
    pass.setBindGroup(0, group);
    pass.dispatchWorkgroups(x, y, z);
  }
}

/**
 * Uniform data for the dispatches of one submit, packed at 256-byte offsets into large buffers. Writes go to a CPU
 * staging copy; GpuContext.submit() uploads each used chunk with one queue.writeBuffer and resets the arena
 * (writes made after a submit are ordered after that submit's work, so slots can be reused). One upload per chunk
 * instead of one per dispatch: a decode step records hundreds of dispatches.
 */
export class UniformArena {
  private chunks: GPUBuffer[] = [];
  private staging: Uint8Array[] = [];
  private chunk = 0;
  private offset = 0;
  private static readonly CHUNK = 64 * 1024;
  private static readonly ALIGN = 256;

  constructor(private readonly device: GPUDevice) {}

  write(data: ArrayBuffer | ArrayBufferView): { buffer: GPUBuffer; offset: number; size: number } {
    const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    const size = Math.max(16, Math.ceil(bytes.byteLength / 16) * 16);
    if (this.offset + size > UniformArena.CHUNK) {
      this.chunk++;
      this.offset = 0;
    }
    if (this.chunk === this.chunks.length) {
      this.chunks.push(this.device.createBuffer({ size: UniformArena.CHUNK, usage: 0x40 | 0x08, label: 'uniform-arena' }));
      this.staging.push(new Uint8Array(UniformArena.CHUNK));
    }
    const buffer = this.chunks[this.chunk];
    const offset = this.offset;
    const st = this.staging[this.chunk];
    st.fill(0, offset, offset + size);
    st.set(bytes, offset);
    this.offset += Math.ceil(size / UniformArena.ALIGN) * UniformArena.ALIGN;
    return { buffer, offset, size };
  }

  /** Uploads what was written since the last flush (called by GpuContext.submit before queue.submit). */
  flush(): void {
    for (let c = 0; c <= this.chunk && c < this.chunks.length; c++) {
      const used = c < this.chunk ? UniformArena.CHUNK : this.offset;
      if (used > 0) this.device.queue.writeBuffer(this.chunks[c], 0, this.staging[c], 0, Math.min(used, UniformArena.CHUNK));
    }
  }

  reset(): void {
    this.chunk = 0;
    this.offset = 0;
  }

  destroy(): void {
    for (const b of this.chunks) b.destroy();
    this.chunks = [];
    this.staging = [];
  }
}

/** Packs a uniforms struct from a list of [type, value] fields, each 4 bytes, in declaration order. */
export function packUniforms(fields: ([ 'u32' | 'i32' | 'f32', number ])[]): ArrayBuffer {
  const n = Math.max(4, Math.ceil(fields.length / 4) * 4);
  const buf = new ArrayBuffer(n * 4);
  const dv = new DataView(buf);
  fields.forEach(([t, v], i) => {
    if (t === 'u32') dv.setUint32(i * 4, v >>> 0, true);
    else if (t === 'i32') dv.setInt32(i * 4, v | 0, true);
    else dv.setFloat32(i * 4, v, true);
  });
  return buf;
}
