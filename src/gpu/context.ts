/**
 * GpuContext: one device plus what every kernel shares: the buffer pool, the pipeline cache, the uniform arena,
 * submit and readback helpers. Kernel wrappers take a GpuContext; models own one.
 */
import type { AcquiredDevice, DeviceLimits, OptionalFeature } from './device';
import { BufferPool, type Category } from './pool';
import { composeShader, type ShaderOptions } from './shaders';
import { UniformArena } from './kernel';
import { GpuError } from './errors';

/** A pipeline: its module's options (includes, consts) plus the entry point and `override` constants. */
export interface PipelineOptions extends ShaderOptions {
  entryPoint?: string;
  /** Values of the shader's `override` declarations. */
  constants?: Record<string, number>;
}

/** Compiled modules and pipelines, per device: every GpuContext on one device shares them (compiles are slow on a
 *  software adapter: SwiftShader spends seconds on a large kernel). */
interface DeviceCompiles {
  pipelines: Map<string, GPUComputePipeline>;
  modules: Map<string, GPUShaderModule>;
}
const compiled = new WeakMap<GPUDevice, DeviceCompiles>();

function compilesOf(device: GPUDevice): DeviceCompiles {
  let c = compiled.get(device);
  if (!c) compiled.set(device, (c = { pipelines: new Map(), modules: new Map() }));
  return c;
}

function moduleKey(shader: string, opts: ShaderOptions): string {
  return `${shader}|${JSON.stringify(opts.include ?? {})}|${JSON.stringify(opts.consts ?? {})}`;
}

export class GpuContext {
  readonly device: GPUDevice;
  readonly limits: DeviceLimits;
  readonly features: Set<OptionalFeature>;
  readonly pool: BufferPool;
  readonly uniforms: UniformArena;
  readonly acquired: AcquiredDevice;
  /**
   * A software adapter (SwiftShader, llvmpipe/lavapipe, WARP): every workgroup runs on the CPU, so work shapes that
   * only pay off against per-call overhead on a real GPU (e.g. one pipeline per decode layer) are slower there.
   */
  readonly cpuAdapter: boolean;
  /**
   * Kernel plans for a CPU: a software rasteriser runs a workgroup's invocations as fibers and pays per invocation
   * at every barrier, so there the plans pick few threads and few barriers (matmul without staging, one thread per
   * decode matrix row, 32-thread norms, one thread per Mamba channel). Defaults to cpuAdapter; tests force either.
   */
  readonly cpuTiling: boolean;
  private readonly pipelines: Map<string, GPUComputePipeline>;
  private readonly modules: Map<string, GPUShaderModule>;
  private readonly codes = new Map<string, string>();

  constructor(acquired: AcquiredDevice, opts: { tiling?: 'gpu' | 'cpu' } = {}) {
    this.acquired = acquired;
    this.device = acquired.device;
    this.limits = acquired.limits;
    this.features = acquired.features;
    ({ pipelines: this.pipelines, modules: this.modules } = compilesOf(this.device));
    this.pool = new BufferPool(this.device, this.limits);
    this.uniforms = new UniformArena(this.device);
    const info = acquired.adapterInfo;
    this.cpuAdapter = /swiftshader|llvmpipe|lavapipe|warp|software/i.test(`${info.vendor} ${info.architecture} ${info.device} ${info.description}`);
    this.cpuTiling = opts.tiling === undefined ? this.cpuAdapter : opts.tiling === 'cpu';
  }

  has(feature: OptionalFeature): boolean {
    return this.features.has(feature);
  }

  /** The module text of shaders/<shader>.wgsl with these options (see composeShader), cached. */
  shaderCode(shader: string, opts: ShaderOptions = {}): string {
    const key = moduleKey(shader, opts);
    let code = this.codes.get(key);
    if (code === undefined) this.codes.set(key, (code = composeShader(shader, opts)));
    return code;
  }

  /** Compiled pipeline for shaders/<shader>.wgsl, cached per module options, entry point and override constants
   *  (per device: contexts on one device share the cache). */
  pipeline(shader: string, opts: PipelineOptions = {}): GPUComputePipeline {
    const { entryPoint = 'main', constants = {} } = opts;
    const modKey = moduleKey(shader, opts);
    const key = `${modKey}|${entryPoint}|${JSON.stringify(constants)}`;
    let p = this.pipelines.get(key);
    if (p) return p;
    let module = this.modules.get(modKey);
    if (!module) {
      module = this.device.createShaderModule({ code: this.shaderCode(shader, opts), label: shader });
      this.modules.set(modKey, module);
    }
    p = this.device.createComputePipeline({
      layout: 'auto',
      compute: { module, entryPoint, constants },
      label: `${shader}:${entryPoint}`,
    });
    this.pipelines.set(key, p);
    return p;
  }

  /** Submits the encoder's work and resets the uniform arena for the next batch of dispatches. */
  submit(encoder: GPUCommandEncoder): void {
    this.uniforms.flush();
    this.device.queue.submit([encoder.finish()]);
    this.uniforms.reset();
  }

  /** Encodes `fn` into one compute pass and submits it. */
  run(fn: (pass: GPUComputePassEncoder, encoder: GPUCommandEncoder) => void, label = 'run'): void {
    const encoder = this.device.createCommandEncoder({ label });
    const pass = encoder.beginComputePass({ label });
    fn(pass, encoder);
    pass.end();
    this.submit(encoder);
  }

  buffer(bytes: number, category: Category = 'scratch', label: string = category): GPUBuffer {
    return this.pool.create(bytes, category, label);
  }

  upload(data: ArrayBufferView, category: Category = 'scratch', label: string = category): GPUBuffer {
    return this.pool.upload(data, category, label);
  }

  /** Copies `bytes` from `src` (at `offset`) to the CPU. */
  async read(src: GPUBuffer, bytes = src.size, offset = 0): Promise<ArrayBuffer> {
    const size = Math.ceil(bytes / 4) * 4;
    const staging = this.device.createBuffer({ size, usage: 0x01 | 0x08, label: 'readback' }); // MAP_READ | COPY_DST
    const enc = this.device.createCommandEncoder({ label: 'readback' });
    enc.copyBufferToBuffer(src, offset, staging, 0, size);
    this.submit(enc);
    try {
      await staging.mapAsync(0x0001);
      return staging.getMappedRange().slice(0, bytes);
    } finally {
      staging.destroy();
    }
  }

  async readF32(src: GPUBuffer, count?: number, offsetElems = 0): Promise<Float32Array> {
    const n = count ?? src.size / 4 - offsetElems;
    return new Float32Array(await this.read(src, n * 4, offsetElems * 4));
  }

  async readU32(src: GPUBuffer, count?: number, offsetElems = 0): Promise<Uint32Array> {
    const n = count ?? src.size / 4 - offsetElems;
    return new Uint32Array(await this.read(src, n * 4, offsetElems * 4));
  }

  /** Resolves once all submitted work finished; turns validation/OOM errors raised meanwhile into a GpuError. */
  async finish(): Promise<void> {
    await this.device.queue.onSubmittedWorkDone();
  }

  /** Runs `fn` inside validation and out-of-memory error scopes and throws the first error found. */
  async checked<T>(what: string, fn: () => T | Promise<T>): Promise<T> {
    this.device.pushErrorScope('out-of-memory');
    this.device.pushErrorScope('validation');
    let result: T;
    try {
      result = await fn();
    } finally {
      const validation = await this.device.popErrorScope();
      const oom = await this.device.popErrorScope();
      if (oom) throw new GpuError('out-of-memory', `${what}: ${oom.message}`);
      if (validation) throw new GpuError('validation', `${what}: ${validation.message}`);
    }
    return result;
  }

  /** Frees this context's buffers and leaves the device (and its compiled pipelines) to other contexts on it. */
  release(): void {
    this.pool.destroyAll();
    this.uniforms.destroy();
  }

  destroy(): void {
    this.release();
    this.device.destroy();
  }
}
