import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';
import { defineConfig, type Plugin } from 'vite';

// The library build (`npm run build` runs it after the app build): ES modules under dist/lib/,
// self-contained (dependencies bundled), importable by any bundler or straight from a page.
//   dist/lib/index.js        createEngine, createWorkerEngine, exposeEngine, errors, registerGpuRunner
//   dist/lib/worker.js       a ready-made module worker: new Worker(url_of('worker.js'), { type: 'module' })
//   dist/lib/chunks/         code shared by both entries
//   dist/lib/types/src/api/index.d.ts   declarations (types from @mlc-ai/web-llm are referenced, not copied)

const ROOT = import.meta.dirname;
const OUT = join(ROOT, 'dist', 'lib');
const ENTRIES = { index: 'src/api/index.ts', worker: 'workers/engine.worker.ts' };

/** Emit .d.ts for the entries with the TypeScript compiler; `.ts` specifiers become `.js`. */
function declarations(): Plugin {
  return {
    name: 'webmoe-lib-declarations',
    apply: 'build',
    closeBundle() {
      const cfg = ts.getParsedCommandLineOfConfigFile(join(ROOT, 'tsconfig.json'), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: () => {} });
      if (!cfg) throw new Error('vite.lib.config.ts: cannot read tsconfig.json');
      const outDir = join(OUT, 'types');
      rmSync(outDir, { recursive: true, force: true });
      const options: ts.CompilerOptions = { ...cfg.options, noEmit: false, declaration: true, emitDeclarationOnly: true, outDir, rootDir: ROOT };
      const program = ts.createProgram(Object.values(ENTRIES).map((f) => join(ROOT, f)), options);
      const written: string[] = [];
      const result = program.emit(undefined, (file, text) => {
        ts.sys.writeFile(file, text);
        written.push(file);
      });
      // type errors are `npm run typecheck`'s business; only a failed emit stops the build
      const errors = result.diagnostics.filter((d) => d.category === ts.DiagnosticCategory.Error);
      if (result.emitSkipped || errors.length) throw new Error(ts.formatDiagnostics(errors, { getCanonicalFileName: (f) => f, getCurrentDirectory: () => ROOT, getNewLine: () => '\n' }));
      for (const f of written) writeFileSync(f, readFileSync(f, 'utf8').replace(/((?:from|import)\s*\(?\s*['"]\.{1,2}\/[^'"]*)\.ts(['"])/g, '$1.js$2'));
      writeFileSync(join(OUT, 'index.d.ts'), "export * from './types/src/api/index.js';\n");
    },
  };
}

export default defineConfig({
  publicDir: false,
  plugins: [declarations()],
  build: {
    outDir: OUT,
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: true,
    minify: false,
    lib: { entry: ENTRIES, formats: ['es'] },
    rollupOptions: {
      output: { entryFileNames: '[name].js', chunkFileNames: 'chunks/[name]-[hash].js' },
    },
  },
});
