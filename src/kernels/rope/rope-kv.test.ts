// ropeKv (rope-kv.wgsl): q and k rotated as applyRope does, and the ring holding the rotated keys
// and the values, for decode steps and for chunks that fit the ring.

import { describe, it } from 'vitest';
import { applyRope, ropeTable } from '../../reference/ops.ts';
import type { RopeSpec } from '../../format/spec.ts';
import { expectClose, expectThrows, randArray, rng, testContext } from '../testing/harness.ts';
import { ropeCosSin, ropeKv, ropeKvApplies } from './rope.ts';

describe('ropeKv', () => {
  const cases: [string, RopeSpec, number, number, number, number[]][] = [
    ['full rotary, GQA 4:2, chunk then decode', { theta: 1e6, rotary_dim: 16, scaling: { type: 'none' } }, 4, 2, 16, [5, 1, 1]],
    ['partial 8 of 16, ring of 6 wraps on decode steps', { theta: 5e6, rotary_dim: 8, scaling: { type: 'none' } }, 3, 1, 16, [4, 1, 1, 1, 1, 1]],
  ];
  for (const [name, spec, Hq, Hkv, hd, chunks] of cases) {
    it(name, async () => {
      const ctx = await testContext();
      const r = rng(name.length);
      const table = ropeTable(spec);
      const cap = name.includes('ring') ? 6 : 16;
      const kw = Hkv * hd;
      const kc = ctx.createBuffer(cap * kw * 4);
      const vc = ctx.createBuffer(cap * kw * 4);
      const ringK = new Float32Array(cap * kw);
      const ringV = new Float32Array(cap * kw);
      let pos0 = 0;
      for (const T of chunks) {
        if (!ropeKvApplies(T, pos0, cap)) throw new Error(`ropeKvApplies(${T}, ${pos0}, ${cap}) should hold`);
        const q = randArray(r, T * Hq * hd);
        const k = randArray(r, T * kw);
        const v = randArray(r, T * kw);
        const wantQ = new Float32Array(q);
        const wantK = new Float32Array(k);
        for (let t = 0; t < T; t++) {
          const qt = wantQ.subarray(t * Hq * hd, (t + 1) * Hq * hd);
          const kt = wantK.subarray(t * kw, (t + 1) * kw);
          applyRope(qt, Hq, hd, pos0 + t, table);
          applyRope(kt, Hkv, hd, pos0 + t, table);
          ringK.set(kt, ((pos0 + t) % cap) * kw);
          ringV.set(v.subarray(t * kw, (t + 1) * kw), ((pos0 + t) % cap) * kw);
        }
        const qb = ctx.upload(q);
        const kb = ctx.upload(k);
        await ctx.scoped('ropeKv', async () => {
          const enc = ctx.encoder();
          ropeKv(enc, { T, nHeads: Hq, nKv: Hkv, hd, rotaryDim: spec.rotary_dim, pos0, capacity: cap, q: qb, k: kb, v: ctx.upload(v), kCache: kc, vCache: vc, cs: ctx.upload(ropeCosSin(table, pos0, T)) });
          enc.submit();
          expectClose(await ctx.readF32(qb), wantQ, `q at ${pos0}`, { rtol: 1e-6 });
          expectClose(await ctx.readF32(kb), wantK, `k at ${pos0}`, { rtol: 1e-6 });
          expectClose(await ctx.readF32(kc), ringK, `key ring at ${pos0}`, { rtol: 1e-6 });
          expectClose(await ctx.readF32(vc), ringV, `value ring at ${pos0}`, { rtol: 0, atol: 0 });
        });
        pos0 += T;
      }
    });
  }

  it('refuses a chunk that would overwrite ring rows its own queries read', async () => {
    const ctx = await testContext();
    const b = ctx.createBuffer(4096);
    await expectThrows(
      () => ropeKv(ctx.encoder(), { T: 3, nHeads: 1, nKv: 1, hd: 4, rotaryDim: 4, pos0: 4, capacity: 5, q: b, k: b, v: b, kCache: b, vCache: b, cs: b }),
      /would overwrite ring rows/,
      'hazard',
    );
  });
});
