import { describe, it } from 'vitest';
import { softmaxAttention, type KvCache } from '../../reference/attention.ts';
import { expectClose, expectThrows, randArray, rng, testContext } from '../testing/harness.ts';
import { attentionChunks, type AttentionChunksCase } from '../testing/attention-chunks.ts';
import { attention } from './attention.ts';

const CASES: AttentionChunksCase[] = [
  { name: 'full, MHA, prefill then decode', Hq: 2, Hkv: 2, hd: 16, window: null, sinks: false, chunks: [6, 1, 1, 3] },
  { name: 'full, GQA 4:1, sinks', Hq: 4, Hkv: 1, hd: 32, window: null, sinks: true, chunks: [1, 5, 1] },
  { name: 'sliding 4 (ring wraps), GQA 2:1, sinks', Hq: 4, Hkv: 2, hd: 8, window: 4, sinks: true, chunks: [3, 1, 1, 6, 1, 1, 2] },
  { name: 'sliding 5, chunk longer than the ring', Hq: 2, Hkv: 1, hd: 64, window: 5, sinks: false, chunks: [12, 1, 9] },
];

describe('attention + kvWrite', () => {
  it('fixed case: one key; the sink takes its share of the mass', async () => {
    const ctx = await testContext();
    const kc = ctx.createBuffer(16 * 4);
    const vc = ctx.createBuffer(16 * 4);
    const out = ctx.createBuffer(4 * 4);
    await ctx.scoped('attention fixed', async () => {
      const enc = ctx.encoder();
      attention(enc, {
        T: 1, nHeads: 2, nKv: 1, hd: 2, pos0: 0, capacity: 8, window: null,
        q: ctx.upload(new Float32Array([1, 0, 0, 1])), k: ctx.upload(new Float32Array([0, 0])), v: ctx.upload(new Float32Array([3, -6])),
        kCache: kc, vCache: vc, sinks: ctx.upload(new Float32Array([0, Math.log(2)])), out,
      });
      enc.submit();
      // score 0 for both heads; head 0: sink 0 -> p = 1/2; head 1: sink log 2 -> p = 1/3
      expectClose(await ctx.readF32(out), [1.5, -3, 1, -2], 'out', { rtol: 1e-6 });
    });
  });

  for (const c of CASES) {
    it(`${c.name}: chunk by chunk equal to the reference`, () => attentionChunks(c, undefined, c.name.length * 13 + c.hd, 2));
  }

  it('fused qkv rows: strides and offsets select q, k and v inside one buffer', async () => {
    const ctx = await testContext();
    const r = rng(5);
    const [T, Hq, Hkv, hd] = [3, 2, 1, 8];
    const row = (Hq + 2 * Hkv) * hd; // (T, q | k | v)
    const qkv = randArray(r, T * row, -2, 2);
    const pick = (off: number, w: number) => {
      const a = new Float32Array(T * w);
      for (let t = 0; t < T; t++) a.set(qkv.subarray(t * row + off, t * row + off + w), t * w);
      return a;
    };
    const ref: KvCache = { kind: 'kv', capacity: 4, length: 0, k: new Float32Array(4 * hd), v: new Float32Array(4 * hd) };
    const expect = softmaxAttention(ref, pick(0, Hq * hd), pick(Hq * hd, hd), pick((Hq + 1) * hd, hd), T, Hq, Hkv, hd, null);
    const buf = ctx.upload(qkv);
    const out = ctx.createBuffer(T * Hq * hd * 4);
    await ctx.scoped('attention fused', async () => {
      const enc = ctx.encoder();
      attention(enc, {
        T, nHeads: Hq, nKv: Hkv, hd, pos0: 0, capacity: 4, window: null,
        q: buf, qStride: row, k: buf, kOffset: Hq * hd, v: buf, vOffset: (Hq + 1) * hd, kvStride: row,
        kCache: ctx.createBuffer(4 * hd * 4), vCache: ctx.createBuffer(4 * hd * 4), out,
      });
      enc.submit();
      expectClose(await ctx.readF32(out), expect, 'fused', { rtol: 1e-5 });
    });
  });

  it('rejects a full-attention chunk beyond the cache capacity', async () => {
    const ctx = await testContext();
    const b = ctx.createBuffer(1024);
    await expectThrows(
      () => attention(ctx.encoder(), { T: 2, nHeads: 1, nKv: 1, hd: 4, pos0: 3, capacity: 4, window: null, q: b, k: b, v: b, kCache: b, vCache: b, out: b }),
      /exceed the cache capacity/,
      'overflow',
    );
  });
});
