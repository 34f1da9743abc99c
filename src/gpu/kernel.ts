/**
 * The small plumbing every kernel wrapper uses: one compute pipeline per (WGSL file, entry point, override constants),
 * uniforms written into a per-submit arena, and bind groups cached by the identity of the buffers they bind (so a
 * decode loop that reuses its buffers creates no new bind groups after the first token).
 *
 * Binding convention for every shader in shaders/: `@group(0) @binding(0) var<uniform> params: Params;` when the
 * kernel has uniforms, then its storage buffers at bindings 1, 2, ... in the order the wrapper passes them. The
 * uniforms are given by field name and packed from the WGSL struct (see ./uniforms.ts).
 */
import type { GpuContext, PipelineOptions } from './context';
import { UniformLayout, type UniformValues } from './uniforms';

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
  /** The layout of the shader's uniform struct (null when it has none). */
  readonly params: UniformLayout | null;
  private readonly layout: GPUBindGroupLayout;
  private readonly groups = new Map<string, GPUBindGroup>();

  /** `shader`: a file in shaders/; `opts`: its includes and consts, the entry point, override constants. */
  constructor(
    private readonly ctx: GpuContext,
    shader: string,
    opts: PipelineOptions = {},
  ) {
    this.label = `${shader}:${opts.entryPoint ?? 'main'}`;
    this.pipeline = ctx.pipeline(shader, opts);
    this.layout = this.pipeline.getBindGroupLayout(0);
    this.params = UniformLayout.fromWgsl(ctx.shaderCode(shader, opts), this.label);
  }

  /** The uniform block for `values` (every field of the shader's Params struct by name). */
  uniforms(values: UniformValues): ArrayBuffer {
    if (!this.params) throw new Error(`${this.label}: the shader has no uniform struct`);
    return this.params.pack(values);
  }

  /**
   * A bind group made now and not cached: for dispatches recorded once and replayed (DispatchList). `uniform`
   * (a static block, see StaticUniforms) goes to binding 0 when given, then the storage buffers.
   */
  bindGroup(uniform: GPUBufferBinding | null, buffers: Binding[]): GPUBindGroup {
    const entries: GPUBindGroupEntry[] = [];
    let binding = 0;
    if (uniform) entries.push({ binding: binding++, resource: uniform });
    for (const b of buffers) {
      const r = 'mapState' in b ? { buffer: b, offset: 0, size: undefined } : b;
      const res: GPUBufferBinding = { buffer: r.buffer };
      if (r.offset) res.offset = r.offset;
      if (r.size !== undefined) res.size = r.size;
      entries.push({ binding: binding++, resource: res });
    }
    return this.ctx.device.createBindGroup({ layout: this.layout, entries, label: this.label });
  }

  /** Throws when a grid exceeds maxComputeWorkgroupsPerDimension. */
  checkGrid(x: number, y = 1, z = 1): void {
    const max = this.ctx.limits.maxComputeWorkgroupsPerDimension;
    if (x > max || y > max || z > max) {
      throw new Error(`${this.label}: dispatch (${x}, ${y}, ${z}) exceeds maxComputeWorkgroupsPerDimension ${max}`);
    }
  }

  /**
   * Records one dispatch into `pass`. `uniforms`: the values of the shader's Params struct by name (binding 0), null
   * when the shader has none.
   */
  dispatch(pass: GPUComputePassEncoder, uniforms: UniformValues | null, buffers: Binding[], workgroups: [number, number?, number?]): void {
    const entries: GPUBindGroupEntry[] = [];
    const keyParts: (number | string)[] = [];
    let binding = 0;
    if (uniforms && !this.params) throw new Error(`${this.label}: uniforms given, but the shader has no uniform struct`);
    if (!uniforms && this.params) throw new Error(`${this.label}: the shader's struct ${this.params.struct} needs uniforms`);
    if (uniforms) {
      const u = this.ctx.uniforms.write(this.uniforms(uniforms));
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
    this.checkGrid(x, y, z);
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

/**
 * Uniform blocks written once and kept (a recorded decode step binds the same ones every token), packed at
 * 256-byte offsets into 64 KiB buffers. destroy() frees them with the program that owns them.
 */
export class StaticUniforms {
  private static readonly CHUNK = 64 * 1024;
  private chunks: GPUBuffer[] = [];
  private offset = StaticUniforms.CHUNK;

  constructor(private readonly device: GPUDevice) {}

  /** Uploads `data` now and returns its binding. */
  add(data: ArrayBuffer): GPUBufferBinding {
    const size = Math.max(16, Math.ceil(data.byteLength / 16) * 16);
    if (this.offset + size > StaticUniforms.CHUNK) {
      this.chunks.push(this.device.createBuffer({ size: StaticUniforms.CHUNK, usage: 0x40 | 0x08, label: 'static-uniforms' }));
      this.offset = 0;
    }
    const buffer = this.chunks[this.chunks.length - 1];
    const padded = new Uint8Array(size);
    padded.set(new Uint8Array(data));
    this.device.queue.writeBuffer(buffer, this.offset, padded);
    const b = { buffer, offset: this.offset, size };
    this.offset += Math.ceil(size / 256) * 256;
    return b;
  }

  destroy(): void {
    for (const b of this.chunks) b.destroy();
    this.chunks = [];
    this.offset = StaticUniforms.CHUNK;
  }
}

/** Grid x of a replayed dispatch that depends on the token position (e.g. decode attention's key splits). */
export type DynamicX = (pos: number) => number;

/**
 * A decode step recorded once: pipelines, bind groups and grid sizes made when the step is first built, replayed
 * every token with at most three Dawn calls per dispatch and nothing else (no keys, no allocation, no uniform
 * packing; setPipeline / setBindGroup are skipped when they repeat the previous dispatch's). What
 * changes per token lives on the GPU (the decode state buffer); a grid that depends on the position gets it from
 * `dynamicX`, computed from the position the CPU passes to replay().
 */
export class DispatchList {
  private readonly pipelines: GPUComputePipeline[] = [];
  private readonly groups: GPUBindGroup[] = [];
  private readonly grid: number[] = [];
  private readonly dyn: (DynamicX | null)[] = [];
  readonly labels: string[] = [];

  get length(): number {
    return this.pipelines.length;
  }

  add(kernel: ComputeKernel, group: GPUBindGroup, workgroups: [number, number?, number?], dynamicX: DynamicX | null = null): void {
    const [x, y = 1, z = 1] = workgroups;
    kernel.checkGrid(x, y, z);
    this.pipelines.push(kernel.pipeline);
    this.groups.push(group);
    this.grid.push(x, y, z);
    this.dyn.push(dynamicX);
    this.labels.push(kernel.label);
  }

  /** Appends another list's dispatches. */
  append(other: DispatchList): void {
    for (let i = 0; i < other.length; i++) {
      this.pipelines.push(other.pipelines[i]);
      this.groups.push(other.groups[i]);
      this.grid.push(other.grid[3 * i], other.grid[3 * i + 1], other.grid[3 * i + 2]);
      this.dyn.push(other.dyn[i]);
      this.labels.push(other.labels[i]);
    }
  }

  /** Records every dispatch into `pass`; `pos` is the position of the token this step consumes. */
  replay(pass: GPUComputePassEncoder, pos: number): void {
    const { pipelines, groups, grid, dyn } = this;
    let last: GPUComputePipeline | null = null;
    let lastGroup: GPUBindGroup | null = null;
    for (let i = 0, n = pipelines.length; i < n; i++) {
      const p = pipelines[i];
      if (p !== last) {
        pass.setPipeline(p);
        last = p;
        lastGroup = null;
      }
      const g = groups[i];
      if (g !== lastGroup) {
        pass.setBindGroup(0, g);
        lastGroup = g;
      }
      const d = dyn[i];
      pass.dispatchWorkgroups(d === null ? grid[3 * i] : d(pos), grid[3 * i + 1], grid[3 * i + 2]);
    }
  }
}
