/**
 * WebGPU in Node through Dawn (npm `webgpu`). Tests, CLI benchmarks and the generate CLI use this; the browser never
 * imports it. Without a GPU run under tools/webgpu-env.sh, which points Vulkan at SwiftShader.
 */
import { acquireDevice, type AcquireOptions, type AcquiredDevice } from './device';

let gpuPromise: Promise<GPU> | null = null;

export function nodeGPU(): Promise<GPU> {
  gpuPromise ??= import('webgpu').then(({ create, globals }) => {
    Object.assign(globalThis, globals);
    return create([]) as GPU;
  });
  return gpuPromise;
}

export async function acquireNodeDevice(opts: AcquireOptions = {}): Promise<AcquiredDevice> {
  return acquireDevice(await nodeGPU(), opts);
}
