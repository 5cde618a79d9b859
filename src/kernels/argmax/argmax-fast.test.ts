// The workgroup argmax (argmax-fast.wgsl) against the sampler's argmax: ties to the lower index,
// banned ids, many chunks, and every id banned.

import { describe, it } from 'vitest';
import { argmax as refArgmax } from '../../generate/sampler.ts';
import { expectEqual, randArray, randInt, rng, testContext } from '../testing/harness.ts';
import { argmax } from './argmax.ts';

describe('argmax fast variant', () => {
  it('fixed cases and random vocabularies match the sampler', async () => {
    const ctx = await testContext();
    const fixed = ctx.upload(new Float32Array([1, 5, 2, 5, 0]));
    const out0 = ctx.createBuffer(12);
    await ctx.scoped('argmax fast fixed', async () => {
      const enc = ctx.encoder();
      argmax(enc, { logits: fixed, n: 5, out: out0, variant: 'fast' });
      argmax(enc, { logits: fixed, n: 5, out: out0, outOffset: 1, banned: { buffer: ctx.upload(new Uint32Array([1])), count: 1 }, variant: 'fast' });
      argmax(enc, { logits: fixed, n: 1, out: out0, outOffset: 2, banned: { buffer: ctx.upload(new Uint32Array([0])), count: 1 }, variant: 'fast' });
      enc.submit();
      expectEqual(await ctx.readU32(out0), [1, 3, 0xffffffff], 'ids');
    });
    const r = rng(29);
    for (let trial = 0; trial < 4; trial++) {
      const n = trial === 0 ? 20000 : randInt(r, 1, 9000);
      const off = randInt(r, 0, 5);
      const x = randArray(r, off + n, -10, 10);
      const row = x.subarray(off);
      const top = refArgmax(row);
      if (n > 1) row[randInt(r, 0, n - 1)] = row[top];
      const banned = trial % 2 ? [top, randInt(r, 0, n - 1)] : [];
      const out = ctx.createBuffer(4);
      await ctx.scoped('argmax fast random', async () => {
        const enc = ctx.encoder();
        argmax(enc, { logits: ctx.upload(x), offset: off, n, out, banned: banned.length ? { buffer: ctx.upload(Uint32Array.from(banned)), count: banned.length } : undefined, variant: 'fast' });
        enc.submit();
        const expect = refArgmax(row, banned);
        expectEqual(await ctx.readU32(out), [expect < 0 ? 0xffffffff : expect], `n=${n} banned=[${banned}]`);
      });
    }
  });
});
