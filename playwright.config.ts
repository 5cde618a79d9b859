import { defineConfig } from '@playwright/test';

// Real Chromium (Debian's /usr/bin/chromium) with WebGPU on SwiftShader; flags from
// ../shared/docs/environment.md. Pages are served by the Vite dev server.
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--disable-quic',
  '--enable-unsafe-webgpu',
];

export default defineConfig({
  testDir: 'e2e',
  timeout: 300_000,
  expect: { timeout: 60_000 },
  workers: 1,
  retries: 0,
  reporter: [['list']],
  outputDir: 'test-results',
  use: {
    baseURL: 'http://127.0.0.1:5173',
    browserName: 'chromium',
    launchOptions: { executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: CHROMIUM_ARGS },
    screenshot: 'only-on-failure',
  },
  webServer: {
    command: 'npx vite --host 127.0.0.1 --port 5173 --strictPort',
    // /@vite/client answers 200 on any Vite dev server (the root 404s until index.html exists), so a
    // server another run already started is reused instead of failing on the busy port.
    url: 'http://127.0.0.1:5173/@vite/client',
    reuseExistingServer: true,
    timeout: 120_000,
  },
});
