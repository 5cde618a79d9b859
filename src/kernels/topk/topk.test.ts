import { describe, it } from 'vitest';
import { expectClose, expectEqual, randArray, randInt, rng, testContext } from '../testing/harness.ts';
import { topk } from './topk.ts';

/** CPU twin: sort ids by (value desc, id asc), drop banned, pad to k. */
function reference(x: Float32Array, k: number, banned: number[]): { ids: number[]; values: number[] } {
  const idx = Array.from({ length: x.length }, (_, i) => i).filter((i) => !banned.includes(i));
  idx.sort((a, b) => x[b] - x[a] || a - b);
  const ids = idx.slice(0, k);
  const values = ids.map((i) => x[i]);
  while (ids.length < k) {
    ids.push(0xffffffff);
    values.push(Math.fround(-3e38));
  }
  return { ids, values };
}

describe('topk', () => {
  it('fixed case: k = 3 with a tie and a banned id', async () => {
    const ctx = await testContext();
    const ids = ctx.createBuffer(12);
    const vals = ctx.createBuffer(12);
    await ctx.scoped('topk fixed', async () => {
      const enc = ctx.encoder();
      topk(enc, { logits: ctx.upload(new Float32Array([1, 5, 2, 5, 9])), n: 5, k: 3, ids, values: vals, banned: { buffer: ctx.upload(new Uint32Array([4])), count: 1 } });
      enc.submit();
      expectEqual(await ctx.readU32(ids), [1, 3, 2], 'ids');
      expectClose(await ctx.readF32(vals), [5, 5, 2], 'values', { rtol: 0, atol: 0 });
    });
  });

  it('random vocabularies and k (ties, banned ids, k > candidates) match a full sort', async () => {
    const ctx = await testContext();
    const r = rng(29);
    for (let trial = 0; trial < 5; trial++) {
      const n = trial === 0 ? 20000 : trial === 4 ? randInt(r, 1, 6) : randInt(r, 10, 2500);
      const k = trial === 4 ? 8 : randInt(r, 1, 64);
      // a coarse grid of values makes many exact ties
      const x = Float32Array.from(randArray(r, n, -4, 4), (v) => Math.round(v * 8) / 8);
      const banned = trial % 2 ? [randInt(r, 0, n - 1)] : [];
      const ids = ctx.createBuffer(k * 4);
      const vals = ctx.createBuffer(k * 4);
      await ctx.scoped('topk random', async () => {
        const enc = ctx.encoder();
        topk(enc, { logits: ctx.upload(x), n, k, ids, values: vals, banned: banned.length ? { buffer: ctx.upload(Uint32Array.from(banned)), count: 1 } : undefined });
        enc.submit();
        const expect = reference(x, k, banned);
        expectEqual(await ctx.readU32(ids), expect.ids, `ids n=${n} k=${k}`);
        expectClose(await ctx.readF32(vals), expect.values, `values n=${n} k=${k}`, { rtol: 0, atol: 0 });
      });
    }
  });
});
