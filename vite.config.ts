import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// The chat app (index.html), test pages under e2e/pages, ES-module workers.
export default defineConfig({
  plugins: [react()],
  worker: { format: 'es' },
  server: { host: '127.0.0.1', port: 5173, strictPort: true },
  preview: { host: '127.0.0.1', port: 4173, strictPort: true },
  build: { target: 'es2022' },
  optimizeDeps: { exclude: ['webgpu'] },
});
