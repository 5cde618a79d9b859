import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';
import { webmoeUi } from './src/ui/build/vite-plugin.ts';

// The chat app (index.html), test pages under e2e/pages, ES-module workers. webmoeUi: /sw.js and
// /widget.js (served in dev, emitted by `vite build`).
export default defineConfig({
  plugins: [react(), webmoeUi()],
  worker: { format: 'es' },
  server: { host: '127.0.0.1', port: 5173, strictPort: true },
  preview: { host: '127.0.0.1', port: 4173, strictPort: true },
  build: { target: 'es2022' },
  optimizeDeps: { exclude: ['webgpu'] },
});
