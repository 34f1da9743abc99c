/**
 * Device acquisition: ask for the adapter's real limits (not the WebGPU defaults) and the optional features we can
 * use when present. The same code runs in the browser (navigator.gpu) and in Node (Dawn through the npm `webgpu`
 * package, see ./node.ts).
 */
import { DeviceLostError, LimitExceededError, NoWebGPUError, GpuError } from './errors';

export const OPTIONAL_FEATURES = ['shader-f16', 'timestamp-query', 'subgroups'] as const;
export type OptionalFeature = (typeof OPTIONAL_FEATURES)[number];

/** The limits kernels and loaders care about, copied from the adapter. */
export interface DeviceLimits {
  maxStorageBufferBindingSize: number;
  maxBufferSize: number;
  maxComputeWorkgroupStorageSize: number;
  maxComputeInvocationsPerWorkgroup: number;
  maxComputeWorkgroupSizeX: number;
  maxComputeWorkgroupsPerDimension: number;
  maxStorageBuffersPerShaderStage: number;
}

const LIMIT_NAMES: (keyof DeviceLimits)[] = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupStorageSize',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupsPerDimension',
  'maxStorageBuffersPerShaderStage',
];

export interface AcquiredDevice {
  device: GPUDevice;
  adapterInfo: {
    vendor: string;
    architecture: string;
    device: string;
    description: string;
    /** Subgroup sizes the adapter may use (0 when it does not say); kernels that assume a minimum check this. */
    subgroupMinSize: number;
    subgroupMaxSize: number;
  };
  limits: DeviceLimits;
  features: Set<OptionalFeature>;
  /** Resolves when the device is lost; never rejects. */
  lost: Promise<DeviceLostError>;
}

export interface AcquireOptions {
  powerPreference?: GPUPowerPreference;
  /** Features to leave off even when the adapter has them (tests use this to exercise fallbacks). */
  disableFeatures?: OptionalFeature[];
}

export async function acquireDevice(gpu: GPU | undefined, opts: AcquireOptions = {}): Promise<AcquiredDevice> {
  if (!gpu) throw new NoWebGPUError();
  const adapter = await gpu.requestAdapter({ powerPreference: opts.powerPreference ?? 'high-performance' });
  if (!adapter) throw new GpuError('no-adapter', 'WebGPU is present but no GPU adapter was found (blocklisted GPU or driver?)');

  const requiredLimits: Record<string, number> = {};
  const limits = {} as DeviceLimits;
  for (const name of LIMIT_NAMES) {
    const v = adapter.limits[name];
    requiredLimits[name] = v;
    limits[name] = v;
  }
  const features = new Set<OptionalFeature>();
  for (const f of OPTIONAL_FEATURES) {
    if (adapter.features.has(f) && !opts.disableFeatures?.includes(f)) features.add(f);
  }
  const device = await adapter.requestDevice({
    requiredFeatures: [...features] as GPUFeatureName[],
    requiredLimits,
  });
  const info = adapter.info ?? ({} as GPUAdapterInfo);
  const lost = device.lost.then((l) => new DeviceLostError(l.reason ?? 'unknown', l.message || 'no message'));
  return {
    device,
    adapterInfo: {
      vendor: info.vendor ?? '',
      architecture: info.architecture ?? '',
      device: info.device ?? '',
      description: info.description ?? '',
      subgroupMinSize: info.subgroupMinSize ?? 0,
      subgroupMaxSize: info.subgroupMaxSize ?? 0,
    },
    limits,
    features,
    lost,
  };
}

/** Throws a LimitExceededError when one binding would exceed maxStorageBufferBindingSize. */
export function checkBindingSize(limits: DeviceLimits, bytes: number, what: string): void {
  if (bytes > limits.maxStorageBufferBindingSize) {
    throw new LimitExceededError('maxStorageBufferBindingSize', bytes, limits.maxStorageBufferBindingSize, what);
  }
  if (bytes > limits.maxBufferSize) throw new LimitExceededError('maxBufferSize', bytes, limits.maxBufferSize, what);
}
