// A Vite dev server for the kernel test page (tests/browser/kernels.html), with `vitest` aliased to
// the page's shim. Started by e2e/kernels.spec.ts on a free port; also runnable by hand:
//   npx tsx tests/browser/server.ts   (then open the printed URL in Chrome)

import { fileURLToPath } from 'node:url';
import { createServer, type ViteDevServer } from 'vite';

const here = fileURLToPath(new URL('.', import.meta.url));
const root = fileURLToPath(new URL('../..', import.meta.url));

export async function startKernelServer(port = 0): Promise<{ url: string; server: ViteDevServer }> {
  const server = await createServer({
    configFile: false,
    root,
    logLevel: 'warn',
    resolve: { alias: [{ find: /^vitest$/, replacement: `${here}vitest-shim.ts` }] },
    server: { host: '127.0.0.1', port, strictPort: port !== 0 },
    optimizeDeps: { noDiscovery: true, include: [] },
  });
  await server.listen();
  const addr = server.httpServer!.address();
  const actual = typeof addr === 'object' && addr ? addr.port : port;
  return { url: `http://127.0.0.1:${actual}/tests/browser/kernels.html`, server };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { url } = await startKernelServer(5180);
  console.log(`kernel test page: ${url}`);
}
