/** Errors the GPU runtime raises, each with a stable `code` the UI can switch on and a message a person can act on. */

export type GpuErrorCode = 'no-webgpu' | 'no-adapter' | 'limit-exceeded' | 'device-lost' | 'out-of-memory' | 'validation';

export class GpuError extends Error {
  readonly code: GpuErrorCode;
  constructor(code: GpuErrorCode, message: string) {
    super(message);
    this.name = 'GpuError';
    this.code = code;
  }
}

export class NoWebGPUError extends GpuError {
  constructor(detail = 'navigator.gpu is undefined') {
    super(
      'no-webgpu',
      `WebGPU is not available in this browser (${detail}). Use a recent Chrome or Edge (113+), ` +
        'Safari 26+, or Firefox 141+ on Windows; on Linux Chrome needs --enable-unsafe-webgpu.',
    );
    this.name = 'NoWebGPUError';
  }
}

export class LimitExceededError extends GpuError {
  readonly limit: string;
  readonly requested: number;
  readonly available: number;
  constructor(limit: string, requested: number, available: number, what: string) {
    super('limit-exceeded', `${what} needs ${limit} = ${requested} but this device allows ${available}`);
    this.name = 'LimitExceededError';
    this.limit = limit;
    this.requested = requested;
    this.available = available;
  }
}

export class DeviceLostError extends GpuError {
  readonly reason: string;
  constructor(reason: string, message: string) {
    super('device-lost', `The GPU device was lost (${reason}): ${message}`);
    this.name = 'DeviceLostError';
    this.reason = reason;
  }
}

export class OutOfMemoryError extends GpuError {
  readonly bytes: number;
  constructor(bytes: number, what: string) {
    super('out-of-memory', `Out of GPU memory allocating ${bytes} bytes for ${what}`);
    this.name = 'OutOfMemoryError';
    this.bytes = bytes;
  }
}
