import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// Static SPA: `vite build` writes dist/, served by any static host. The GPU work runs in a module Web Worker.
export default defineConfig({
  plugins: [react()],
  base: './',
  worker: { format: 'es' },
  build: { target: 'es2022', chunkSizeWarningLimit: 2000 },
  preview: { host: '127.0.0.1', port: 4173, strictPort: true },
  server: { host: '127.0.0.1', port: 5173 },
});
