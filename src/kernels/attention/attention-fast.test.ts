// The workgroup-per-(token, head) attention (attention-fast.wgsl) against the reference, with
// contexts longer than one block of keys (WG = 128) and rings that wrap.

import { describe, it } from 'vitest';
import { softmaxAttention, type KvCache } from '../../reference/attention.ts';
import { expectClose, randArray, rng, testContext } from '../testing/harness.ts';
import { kvWrite } from '../kv-cache/kv-cache.ts';
import { attention } from './attention.ts';

const CASES = [
  { name: 'full, GQA 4:2, sinks, 300 keys', Hq: 4, Hkv: 2, hd: 16, window: null, sinks: true, chunks: [130, 1, 150, 1, 1, 17] },
  { name: 'sliding 140 (ring wraps), MHA', Hq: 2, Hkv: 2, hd: 64, window: 140, sinks: false, chunks: [3, 150, 1, 1, 200, 1] },
  { name: 'full, head_dim 256 (two dims per thread), decode', Hq: 2, Hkv: 1, hd: 256, window: null, sinks: true, chunks: [5, 1, 1] },
];

describe('attention fast variant + kvWrite', () => {
  for (const c of CASES) {
    it(`${c.name}: chunk by chunk equal to the reference`, async () => {
      const ctx = await testContext();
      const r = rng(c.name.length * 31 + c.hd);
      const total = c.chunks.reduce((a, b) => a + b, 0);
      const capacity = c.window ?? total;
      const kvw = c.Hkv * c.hd;
      const ref: KvCache = { kind: 'kv', capacity, length: 0, k: new Float32Array(capacity * kvw), v: new Float32Array(capacity * kvw) };
      const sinks = c.sinks ? randArray(r, c.Hq, -1, 2) : undefined;
      const kCache = ctx.createBuffer(capacity * kvw * 4);
      const vCache = ctx.createBuffer(capacity * kvw * 4);
      const sinkBuf = sinks && ctx.upload(sinks);
      let pos0 = 0;
      for (const T of c.chunks) {
        const q = randArray(r, T * c.Hq * c.hd, -1, 1);
        const k = randArray(r, T * kvw, -1, 1);
        const v = randArray(r, T * kvw);
        const expect = softmaxAttention(ref, q, k, v, T, c.Hq, c.Hkv, c.hd, c.window, sinks);
        const out = ctx.createBuffer(T * c.Hq * c.hd * 4);
        await ctx.scoped(`attention fast ${c.name}`, async () => {
          const enc = ctx.encoder();
          const kb = ctx.upload(k);
          const vb = ctx.upload(v);
          attention(enc, { T, nHeads: c.Hq, nKv: c.Hkv, hd: c.hd, pos0, capacity, window: c.window, q: ctx.upload(q), k: kb, v: vb, kCache, vCache, sinks: sinkBuf, out, variant: 'fast' });
          kvWrite(enc, { T, width: kvw, pos0, capacity, k: kb, v: vb, kCache, vCache });
          enc.submit();
          expectClose(await ctx.readF32(out), expect, `${c.name} chunk at ${pos0} (T=${T})`, { rtol: 1e-5 });
        });
        pos0 += T;
      }
    });
  }
});
