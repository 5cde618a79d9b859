#!/usr/bin/env node
// Packs what the GPU machine needs to run our Node code there (it has no Node and no network):
// .carry/dev/ = node.xz (this machine's Node binary), node_modules/webgpu (index.js, package.json,
// dawn.node.xz), and the bench bundled into one file, bench.mjs (no node_modules tree travels).
// On the device: scripts/device-env.sh unpacks and sets up Vulkan. Total ≈ 29 MB + bundle.
//
// usage: node scripts/pack-device.mjs [entry.ts ...]   (default: bench/main.ts)

import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';

const C = '.carry/dev';
const W = join(C, 'node_modules', 'webgpu');
mkdirSync(join(W, 'dist', 'linux-x64'), { recursive: true });

const fresh = (dst, src) => existsSync(dst) && statSync(dst).mtimeMs > statSync(src).mtimeMs;

function xz(src, dst, level) {
  process.stderr.write(`xz ${src} -> ${dst}\n`);
  writeFileSync(dst, execFileSync('xz', [level, '-c', src], { maxBuffer: 1 << 30 }));
}

// Node without its symbols where the machine has `strip` (2 MB less of the 64 MiB a call carries).
const nodeXz = join(C, 'node.xz');
if (!fresh(nodeXz, process.execPath)) {
  const tmp = join(C, 'node.stripped');
  copyFileSync(process.execPath, tmp);
  let src = tmp;
  try {
    execFileSync('strip', [tmp]);
  } catch {
    src = process.execPath;
  }
  xz(src, nodeXz, '-9e');
  rmSync(tmp, { force: true });
}
copyFileSync('node_modules/webgpu/index.js', join(W, 'index.js'));
copyFileSync('node_modules/webgpu/package.json', join(W, 'package.json'));
const dawn = 'node_modules/webgpu/dist/linux-x64/dawn.node';
const dawnXz = join(W, 'dist', 'linux-x64', 'dawn.node.xz');
if (!fresh(dawnXz, dawn)) xz(dawn, dawnXz, '-9');

// `import x from './k.wgsl?raw'` (Vite) becomes a string in the bundle.
const rawPlugin = {
  name: 'raw',
  setup(b) {
    b.onResolve({ filter: /\?raw$/ }, (a) => ({ path: join(a.resolveDir, a.path.replace(/\?raw$/, '')), namespace: 'raw' }));
    b.onLoad({ filter: /.*/, namespace: 'raw' }, (a) => ({ contents: readFileSync(a.path, 'utf8'), loader: 'text' }));
  },
};

const entries = process.argv.slice(2).length ? process.argv.slice(2) : ['bench/main.ts'];
for (const entry of entries) {
  const out = join(C, basename(entry).replace(/\.ts$/, '.mjs'));
  await build({
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    outfile: out,
    external: ['webgpu', 'playwright', '@playwright/test'],
    plugins: [rawPlugin],
    banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
    logLevel: 'warning',
  });
  process.stderr.write(`bundled ${entry} -> ${out} (${statSync(out).size} bytes)\n`);
}
