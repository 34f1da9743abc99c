/**
 * WebGPU in Node through Dawn (npm `webgpu`). Tests, CLI benchmarks and the generate CLI use this; the browser never
 * imports it. Without a GPU run under tools/webgpu-env.sh, which points Vulkan at SwiftShader.
 */
import { acquireDevice, type AcquireOptions, type AcquiredDevice } from './device';

let gpuPromise: Promise<GPU> | null = null;

/**
 * Dawn create() options from WEBGPU_DAWN_OPTIONS (space-separated), e.g.
 * `disable-dawn-features=timestamp_quantization` for unquantised timestamps in benchmarks (Dawn on an H100 otherwise
 * rounds them to 65.5 us). The GPU object stays referenced through gpuPromise: collecting it crashes Node.
 */
function dawnOptions(): string[] {
  const env = typeof process !== 'undefined' ? process.env.WEBGPU_DAWN_OPTIONS : undefined;
  return (env ?? '').split(/\s+/).filter(Boolean);
}

export function nodeGPU(): Promise<GPU> {
  gpuPromise ??= import('webgpu').then(({ create, globals }) => {
    Object.assign(globalThis, globals);
    return create(dawnOptions()) as GPU;
  });
  return gpuPromise;
}

export async function acquireNodeDevice(opts: AcquireOptions = {}): Promise<AcquiredDevice> {
  return acquireDevice(await nodeGPU(), opts);
}
