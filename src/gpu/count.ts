/**
 * A compute pass that counts its dispatches: the same pass behind a Proxy whose dispatchWorkgroups (and
 * dispatchWorkgroupsIndirect) adds one to `counter.dispatches` before recording. Everything else goes to the real pass.
 */
export function countingPass(pass: GPUComputePassEncoder, counter: { dispatches: number }): GPUComputePassEncoder {
  return new Proxy(pass, {
    get(target, key) {
      if (key === 'dispatchWorkgroups' || key === 'dispatchWorkgroupsIndirect') {
        const f = (target as unknown as Record<string, (...a: unknown[]) => void>)[key];
        return (...args: unknown[]) => {
          counter.dispatches++;
          f.apply(target, args);
        };
      }
      const v = Reflect.get(target, key, target);
      return typeof v === 'function' ? v.bind(target) : v;
    },
    set(target, key, value) {
      return Reflect.set(target, key, value, target);
    },
  });
}
