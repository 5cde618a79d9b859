// The shipped package of the default model (public/models/<name>, experts q4, dense q8) on the CPU
// reference and on WebGPU against the trainer's own PyTorch logits for the same quantized weights.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openPackage } from '../../src/format/package.ts';
import { createGpuContext, type GpuContext } from '../../src/gpu/device.ts';
import { GpuRunner } from '../../src/model/gpu-runner.ts';
import { ReferenceModel } from '../../src/reference/forward.ts';
import { nodeDir } from '../../src/store/node-dir.ts';
import { argmax, relError } from '../helpers/fixtures.ts';

const ROOT = join(import.meta.dirname, '..', '..');
const index = JSON.parse(readFileSync(join(ROOT, 'public', 'models', 'index.json'), 'utf8'));
const PKG = join(ROOT, 'public', 'models', index.default);
const expected = JSON.parse(readFileSync(join(ROOT, 'tests', 'fixtures', 'default-model', 'expected.json'), 'utf8')) as {
  prompts: { tokens: number[]; from: number; logits_q4q8: number[][] }[];
  greedy_prompt: number[];
  greedy_q4q8: number[];
};

let ctx: GpuContext | null = null;
afterAll(() => ctx?.destroy());

describe('default model package vs the trainer (q4 experts, q8 dense)', () => {
  it('CPU reference within 1e-4 relative', async () => {
    const m = await ReferenceModel.load((await openPackage(nodeDir(PKG))).weights());
    for (const p of expected.prompts) expect(relError(m.forward(m.newState(p.tokens.length), p.tokens).slice(p.from), p.logits_q4q8)).toBeLessThan(1e-4);
  });

  it('WebGPU within 1e-3 relative, greedy tokens identical (25% expert budget)', async () => {
    ctx = await createGpuContext();
    const pkg = await openPackage(nodeDir(PKG));
    for (const budget of [undefined, '25%']) {
      const r = await GpuRunner.create(pkg, { ctx, expertBudget: budget, maxLen: 512 });
      try {
        for (const p of expected.prompts) {
          r.reset();
          expect(relError((await r.forward(p.tokens, true)).slice(p.from), p.logits_q4q8)).toBeLessThan(1e-3);
        }
        r.reset();
        let logits = (await r.forward(expected.greedy_prompt))[0];
        const out: number[] = [];
        for (let i = 0; i < expected.greedy_q4q8.length; i++) {
          out.push(argmax(logits));
          logits = (await r.forward([out[i]]))[0];
        }
        expect(out).toEqual(expected.greedy_q4q8);
      } finally {
        r.dispose();
      }
    }
  });
});
