import { describe, it } from 'vitest';
import { dequantizeMatrix, quantizeMatrix } from '../../format/quant.ts';
import { QUANT_KINDS } from '../../format/quant-layout.ts';
import { expectClose, randArray, randInt, rng, testContext } from '../testing/harness.ts';
import { embedding } from './embedding.ts';

describe('embedding', () => {
  it('fixed case: f32 rows gathered in token order', async () => {
    const ctx = await testContext();
    const table = ctx.upload(new Float32Array([0, 1, 10, 11, 20, 21])); // (3, 2)
    const y = ctx.createBuffer(4 * 4);
    await ctx.scoped('embedding fixed', async () => {
      const enc = ctx.encoder();
      embedding(enc, { kind: 'f32', vocab: 3, dim: 2, table, tokens: ctx.upload(new Uint32Array([2, 0])), T: 2, y });
      enc.submit();
      expectClose(await ctx.readF32(y), [20, 21, 0, 1], 'rows', { rtol: 0, atol: 0 });
    });
  });

  for (const kind of QUANT_KINDS) {
    it(`${kind}: random tables and tokens match the CPU dequant`, async () => {
      const ctx = await testContext();
      const r = rng(300 + kind.charCodeAt(0) * 7 + kind.length);
      for (let trial = 0; trial < 3; trial++) {
        const V = randInt(r, 2, 90);
        const D = randInt(r, 1, 150);
        const T = randInt(r, 1, 7);
        const bytes = quantizeMatrix(kind, randArray(r, V * D), V, D);
        const wOffset = 256 * trial;
        const all = new Uint8Array(wOffset + bytes.length);
        all.set(bytes, wOffset);
        const tokens = Uint32Array.from({ length: T }, () => randInt(r, 0, V - 1));
        const deq = dequantizeMatrix(kind, bytes, V, D);
        const expect = new Float32Array(T * D);
        tokens.forEach((tok, t) => expect.set(deq.subarray(tok * D, (tok + 1) * D), t * D));
        const y = ctx.createBuffer(T * D * 4);
        await ctx.scoped(`embedding ${kind}`, async () => {
          const enc = ctx.encoder();
          embedding(enc, { kind, vocab: V, dim: D, table: ctx.upload(all), wOffset, tokens: ctx.upload(tokens), T, y });
          enc.submit();
          expectClose(await ctx.readF32(y), expect, `${kind} V=${V} D=${D}`, { rtol: 0, atol: 0 });
        });
      }
    });
  }
});
