// The WebGPU engine in real Chromium against HF transformers, for every fixture family and layout:
// the HF checkpoint is read in the page over HTTP range requests and packed at f32; logits of every
// position within 2e-3 relative of HF, greedy continuation (EOS masked) identical.

import { expect, test } from '@playwright/test';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

const FIXTURES = join(import.meta.dirname, '..', 'tests', 'fixtures');
const names = readdirSync(FIXTURES).filter((n) => {
  try {
    return statSync(join(FIXTURES, n, 'config.json')).isFile() && statSync(join(FIXTURES, n, 'model.safetensors')).isFile();
  } catch {
    return false;
  }
});

test('every fixture family on WebGPU in Chromium equals HF', async ({ page }) => {
  await page.goto('/src/cli/browser/page.html');
  await page.waitForFunction(() => (globalThis as any).__webmoe, null, { timeout: 120_000 });
  expect(names.length).toBeGreaterThanOrEqual(9);
  for (const name of names) {
    const exp = JSON.parse(readFileSync(join(FIXTURES, name, 'expected.json'), 'utf8'));
    const files = readdirSync(join(FIXTURES, name)).map((f) => ({ name: f, size: statSync(join(FIXTURES, name, f)).size }));
    const eos: number[] = [].concat(JSON.parse(readFileSync(join(FIXTURES, name, 'config.json'), 'utf8')).eos_token_id ?? []);
    const out = await page.evaluate(
      async ({ name, files, tokens, prompt, n, eos }) => {
        const w = (globalThis as any).__webmoe;
        await w.init({ modelUrl: `/tests/fixtures/${name}/`, isPackage: false, files, maxLen: 64 });
        const decode = (b64: string) => new Float32Array(Uint8Array.from(atob(b64), (c) => c.charCodeAt(0)).buffer);
        const logits = (await w.forward(tokens, true)).map((b: string) => Array.from(decode(b)));
        w.reset();
        const pick = (l: Float32Array) => {
          let best = -1;
          for (let i = 0; i < l.length; i++) if (!eos.includes(i) && (best < 0 || l[i] > l[best])) best = i;
          return best;
        };
        let last = decode((await w.forward(prompt, false))[0]);
        const greedy: number[] = [];
        for (let i = 0; i < n; i++) {
          greedy.push(pick(last));
          if (i + 1 < n) last = decode((await w.forward([greedy[i]], false))[0]);
        }
        return { logits, greedy };
      },
      { name, files, tokens: exp.tokens, prompt: exp.greedy_prompt, n: exp.greedy.length, eos },
    );
    let d = 0;
    let m = 0;
    exp.logits.forEach((row: number[], t: number) =>
      row.forEach((v, j) => {
        d = Math.max(d, Math.abs(out.logits[t][j] - v));
        m = Math.max(m, Math.abs(v));
      }),
    );
    expect(d / m, `${name} logits`).toBeLessThan(2e-3);
    expect(out.greedy, `${name} greedy`).toEqual(exp.greedy);
  }
});
