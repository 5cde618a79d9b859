#!/usr/bin/env node
// `npm test`: everything, in order — the type check, unit and kernel tests (Vitest, Node; WebGPU through Dawn on
// SwiftShader), then end-to-end tests in real Chromium (Playwright). Installs Debian's chromium and
// the Vulkan loader with apt-get when they are missing (CI's fresh machine).

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

function sh(cmd, args, opts = {}) {
  process.stderr.write(`\n$ ${cmd} ${args.join(' ')}\n`);
  const r = spawnSync(cmd, args, { stdio: 'inherit', ...opts });
  return r.status ?? 1;
}

function haveVulkanLoader() {
  return ['/usr/lib/x86_64-linux-gnu/libvulkan.so.1', '/usr/lib/aarch64-linux-gnu/libvulkan.so.1', '/usr/lib/libvulkan.so.1'].some(existsSync);
}

const chromium = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
if (!existsSync(chromium) || !haveVulkanLoader()) {
  const root = !process.getuid || process.getuid() === 0;
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const apt = (...args) => (root ? sh('apt-get', args, { env }) : sh('sudo', ['apt-get', ...args], { env }));
  let code = apt('install', '-y', '--no-install-recommends', 'chromium', 'libvulkan1');
  if (code !== 0) code = apt('update') || apt('install', '-y', '--no-install-recommends', 'chromium', 'libvulkan1');
  if (code !== 0) {
    process.stderr.write('npm test: could not install chromium and libvulkan1 with apt-get; install them and run again.\n');
    process.exit(code);
  }
}

const only = process.argv[2];
let failed = 0;
if (!only || only === 'unit') failed ||= sh('npx', ['tsc', '--noEmit', '-p', '.']);
if (!only || only === 'unit') failed ||= sh('npx', ['vitest', 'run']);
if (!only || only === 'e2e') failed ||= sh('npx', ['playwright', 'test']);
process.exit(failed);
