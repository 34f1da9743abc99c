// Public surface of the hub loader (config, safetensors, PyTorch .bin, fetch/cache, tokenizer, registry, weights).
export * from './config';
export * from './dtype';
export * from './safetensors';
export * from './hub';
export * from './tokenizer';
export * from './registry';
export * from './weights';
export * from './companion';
export * from './torch-bin';
export * from './torch-pickle';
export * from './zip';
