import { defineConfig } from '@playwright/test';
import { CHROMIUM_ARGS } from '../../playwright.config.ts';

// Only the kernel suite, without the app's dev server (the spec starts its own Vite server):
//   npx playwright test -c tests/browser/playwright.config.ts
// The same spec also runs under the root playwright.config.ts (npm test).
export default defineConfig({
  testDir: '../../e2e',
  testMatch: 'kernels.spec.ts',
  timeout: 300_000,
  workers: 1,
  retries: 0,
  reporter: [['list']],
  outputDir: '../../test-results/kernels',
  use: {
    browserName: 'chromium',
    launchOptions: { executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium', args: CHROMIUM_ARGS },
  },
});
