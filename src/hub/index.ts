// Public surface of the hub loader (config, safetensors, fetch/cache, tokenizer, registry, weights).
export * from './config';
export * from './dtype';
export * from './safetensors';
export * from './hub';
export * from './tokenizer';
export * from './registry';
export * from './weights';
