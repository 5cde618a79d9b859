import { describe, it } from 'vitest';
import { argmax as refArgmax } from '../../generate/sampler.ts';
import { expectEqual, randArray, randInt, rng, testContext } from '../testing/harness.ts';
import { argmax } from './argmax.ts';

describe('argmax', () => {
  it('fixed case: ties go to the lower index; banned ids are skipped', async () => {
    const ctx = await testContext();
    const logits = ctx.upload(new Float32Array([1, 5, 2, 5, 0]));
    const out = ctx.createBuffer(12);
    await ctx.scoped('argmax fixed', async () => {
      const enc = ctx.encoder();
      argmax(enc, { logits, n: 5, out });
      argmax(enc, { logits, n: 5, out, outOffset: 1, banned: { buffer: ctx.upload(new Uint32Array([1])), count: 1 } });
      argmax(enc, { logits, n: 1, out, outOffset: 2, banned: { buffer: ctx.upload(new Uint32Array([0])), count: 1 } });
      enc.submit();
      expectEqual(await ctx.readU32(out), [1, 3, 0xffffffff], 'ids');
    });
  });

  it('random vocabularies (many chunks, duplicated maxima, banned ids) match the sampler', async () => {
    const ctx = await testContext();
    const r = rng(23);
    for (let trial = 0; trial < 5; trial++) {
      const n = trial === 0 ? 70000 : randInt(r, 1, 3000);
      const off = randInt(r, 0, 5);
      const x = randArray(r, off + n, -10, 10);
      // duplicate the maximum further on, and ban a few ids (sometimes the maximum itself)
      const row = x.subarray(off);
      const top = refArgmax(row);
      if (n > 1) row[randInt(r, 0, n - 1)] = row[top];
      const banned = trial % 2 ? [top, randInt(r, 0, n - 1)] : [];
      const out = ctx.createBuffer(4);
      await ctx.scoped('argmax random', async () => {
        const enc = ctx.encoder();
        argmax(enc, { logits: ctx.upload(x), offset: off, n, out, banned: banned.length ? { buffer: ctx.upload(Uint32Array.from(banned)), count: banned.length } : undefined });
        enc.submit();
        const expect = refArgmax(row, banned);
        expectEqual(await ctx.readU32(out), [expect < 0 ? 0xffffffff : expect], `n=${n} banned=[${banned}]`);
      });
    }
  });
});
