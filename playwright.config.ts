import { defineConfig } from '@playwright/test';

// E2E tests drive Debian's Chromium (never a downloaded browser) against the built page served by `vite preview`.
// WebGPU runs on SwiftShader: --enable-unsafe-webgpu --enable-unsafe-swiftshader (tools/webgpu-env.sh sets the ICD).
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--enable-unsafe-webgpu',
  '--enable-unsafe-swiftshader',
  '--enable-features=Vulkan',
  '--use-angle=swiftshader',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

// E2E_PORT lets several checkouts on one machine run their e2e suites at once.
const port = Number(process.env.E2E_PORT ?? 4173);

export default defineConfig({
  testDir: 'e2e',
  timeout: 180_000,
  expect: { timeout: 60_000 },
  workers: 1,
  retries: 0,
  reporter: [['list']],
  // The soak (the longest file, ~2-3 min) is its own project, listed first, so that with two workers it starts at
  // once instead of last (files are handed out in order; a late soak leaves the other worker idle at the end).
  projects: [
    { name: 'soak', testMatch: /soak\.spec\.ts$/ },
    { name: 'e2e', testIgnore: /soak\.spec\.ts$/ },
  ],
  use: {
    baseURL: `http://127.0.0.1:${port}`,
    browserName: 'chromium',
    launchOptions: { executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: CHROMIUM_ARGS },
    viewport: { width: 1440, height: 900 },
  },
  webServer: {
    command: `npx vite preview --host 127.0.0.1 --port ${port} --strictPort`,
    url: `http://127.0.0.1:${port}`,
    reuseExistingServer: !process.env.CI,
    timeout: 60_000,
  },
});
