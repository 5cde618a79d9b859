// The logits / generate contracts on the GPU backends: `webgpu` (Node + Dawn) and `browser` (real
// headless Chromium; a package goes through the page's IndexedDB and the expert cache).

import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { expected, fixtureDir, relError } from '../helpers/fixtures.ts';

const run = promisify(execFile);
const BIN = join(import.meta.dirname, '..', '..', 'bin', 'webmoe.mjs');
const webmoe = async (args: string[]) => JSON.parse((await run(process.execPath, [BIN, ...args], { maxBuffer: 64 << 20 })).stdout);
const tmp = mkdtempSync(join(tmpdir(), 'webmoe-backends-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe.each(['webgpu', 'browser'])('--backend %s', (backend) => {
  it('logits of an HF checkpoint within 2e-3 of HF', async () => {
    const exp = expected('gpt_oss');
    const out = await webmoe(['logits', '--model', fixtureDir('gpt_oss'), '--tokens', exp.tokens.join(','), '--backend', backend]);
    expect(out.logits).toHaveLength(exp.tokens.length);
    expect(relError(out.logits, exp.logits)).toBeLessThan(2e-3);
  });

  it('generate on a q8 package with a 25% expert budget equals the CPU reference, with cache stats', async () => {
    const exp = expected('minimax');
    const pkg = join(tmp, `minimax-${backend}`);
    await run(process.execPath, [BIN, 'convert', fixtureDir('minimax'), pkg, '--quant', 'q8', '--dense-quant', 'f32']);
    const args = ['generate', '--model', pkg, '--tokens', exp.greedy_prompt.join(','), '--max-tokens', '10', '--temperature', '0', '--ignore-eos', '--json'];
    const cpu = await webmoe([...args, '--backend', 'cpu']);
    const gpu = await webmoe([...args, '--backend', backend, '--expert-budget', '25%']);
    expect(gpu.tokens).toEqual(cpu.tokens);
    const c = gpu.stats.expertCache;
    expect(c.misses).toBeGreaterThan(0);
    expect(c.bytesStreamed).toBeGreaterThan(0);
    expect(c.budgetBytes).toBeGreaterThan(0);
    for (const k of ['hits', 'misses', 'bytesStreamed', 'stallMs', 'budgetBytes']) expect(typeof c[k]).toBe('number');
  });
});
