import { defineConfig } from 'vite';

// The library build (`npm run build` runs it after the app build): ES modules under dist/lib/,
// self-contained (dependencies bundled), importable by any bundler or straight from a page.
//   dist/lib/index.js   createEngine, createWorkerEngine, exposeEngine, errors, registerGpuRunner
//   dist/lib/worker.js  a ready-made module worker: new Worker(url_of('worker.js'), { type: 'module' })
// Code shared by both entries lands in dist/lib/chunks/.
export default defineConfig({
  publicDir: false,
  build: {
    outDir: 'dist/lib',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: true,
    minify: false,
    lib: {
      entry: { index: 'src/api/index.ts', worker: 'workers/engine.worker.ts' },
      formats: ['es'],
    },
    rollupOptions: {
      output: { entryFileNames: '[name].js', chunkFileNames: 'chunks/[name]-[hash].js' },
    },
  },
});
