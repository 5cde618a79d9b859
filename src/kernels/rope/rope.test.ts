import { describe, it } from 'vitest';
import { applyRope, ropeTable } from '../../reference/ops.ts';
import type { RopeSpec } from '../../format/spec.ts';
import { expectClose, randArray, randInt, rng, testContext } from '../testing/harness.ts';
import { rope, ropeCosSin } from './rope.ts';

const YARN: RopeSpec = {
  theta: 150000,
  rotary_dim: 64,
  scaling: { type: 'yarn', factor: 32, original_max_position_embeddings: 4096, beta_fast: 32, beta_slow: 1, truncate: false, attention_factor: 1.3465735902799727 },
};

describe('rope', () => {
  it('fixed case: rotary_dim 2 at position 1 rotates by one radian', async () => {
    const ctx = await testContext();
    const table = ropeTable({ theta: 10000, rotary_dim: 2, scaling: { type: 'none' } });
    const x = ctx.upload(new Float32Array([1, 0, 5])); // one head, hd 3: dims 0,1 rotate, dim 2 passes
    await ctx.scoped('rope fixed', async () => {
      const enc = ctx.encoder();
      rope(enc, { T: 1, heads: 1, hd: 3, rotaryDim: 2, x, cs: ctx.upload(ropeCosSin(table, 1, 1)) });
      enc.submit();
      expectClose(await ctx.readF32(x), [Math.cos(1), Math.sin(1), 5], 'x', { rtol: 1e-6 });
    });
  });

  const specs: [string, RopeSpec][] = [
    ['full NeoX', { theta: 1e6, rotary_dim: 32, scaling: { type: 'none' } }],
    ['partial 16 of 32', { theta: 1e7, rotary_dim: 16, scaling: { type: 'none' } }],
    ['YaRN x32', YARN],
  ];
  for (const [name, spec] of specs) {
    it(`${name}: random chunks at random positions match applyRope`, async () => {
      const ctx = await testContext();
      const r = rng(name.length * 31);
      const table = ropeTable(spec);
      const hd = name.startsWith('YaRN') ? 64 : 32;
      for (let trial = 0; trial < 3; trial++) {
        const T = randInt(r, 1, 6);
        const H = randInt(r, 1, 5);
        const pos0 = trial === 2 ? 100000 + randInt(r, 0, 999) : randInt(r, 0, 300);
        const stride = H * hd + randInt(r, 0, 3);
        const x = randArray(r, T * stride, -2, 2);
        const expect = new Float32Array(x);
        for (let t = 0; t < T; t++) applyRope(expect.subarray(t * stride, t * stride + H * hd), H, hd, pos0 + t, table);
        const buf = ctx.upload(x);
        await ctx.scoped(`rope ${name}`, async () => {
          const enc = ctx.encoder();
          rope(enc, { T, heads: H, hd, rotaryDim: spec.rotary_dim, x: buf, xStride: stride, cs: ctx.upload(ropeCosSin(table, pos0, T)) });
          enc.submit();
          expectClose(await ctx.readF32(buf), expect, `${name} T=${T} H=${H} pos0=${pos0}`, { rtol: 1e-5 });
        });
      }
    });
  }
});
