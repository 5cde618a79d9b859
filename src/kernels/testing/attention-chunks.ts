// The attention kernels' shared case: a sequence fed chunk by chunk (prefill chunks, decode steps)
// through attention + kvWrite, each chunk's output checked against the CPU reference, and at the
// end the GPU ring against the reference cache. Used by attention.test.ts (simple), -fast and
// -tiled, which differ in the variant and the cases.

import { softmaxAttention, type KvCache } from '../../reference/attention.ts';
import { kvWrite } from '../kv-cache/kv-cache.ts';
import { attention, type AttentionArgs } from '../attention/attention.ts';
import { expectClose, randArray, rng, testContext } from './harness.ts';

export interface AttentionChunksCase {
  name: string;
  Hq: number;
  Hkv: number;
  hd: number;
  /** sliding window (the ring's capacity), or null for full attention over the whole sequence */
  window: number | null;
  sinks: boolean;
  /** tokens of each chunk, in order */
  chunks: number[];
}

/** Run case `c` with attention variant `variant`; `seed` and `span` (q / k range) vary the data. */
export async function attentionChunks(c: AttentionChunksCase, variant: AttentionArgs['variant'], seed: number, span = 1): Promise<void> {
  const ctx = await testContext();
  const r = rng(seed);
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
    const q = randArray(r, T * c.Hq * c.hd, -span, span);
    const k = randArray(r, T * kvw, -span, span);
    const v = randArray(r, T * kvw);
    const expect = softmaxAttention(ref, q, k, v, T, c.Hq, c.Hkv, c.hd, c.window, sinks);
    const out = ctx.createBuffer(T * c.Hq * c.hd * 4);
    await ctx.scoped(`attention ${variant ?? 'auto'} ${c.name}`, async () => {
      const enc = ctx.encoder();
      const kb = ctx.upload(k);
      const vb = ctx.upload(v);
      attention(enc, { T, nHeads: c.Hq, nKv: c.Hkv, hd: c.hd, pos0, capacity, window: c.window, q: ctx.upload(q), k: kb, v: vb, kCache, vCache, sinks: sinkBuf, out, variant });
      kvWrite(enc, { T, width: kvw, pos0, capacity, k: kb, v: vb, kCache, vCache });
      enc.submit();
      expectClose(await ctx.readF32(out), expect, `${c.name} chunk at ${pos0} (T=${T})`, { rtol: 1e-5 });
    });
    pos0 += T;
  }
  // the ring holds what the reference cache holds
  expectClose(await ctx.readF32(kCache), ref.k, `${c.name}: key cache`, { rtol: 0, atol: 0 });
  expectClose(await ctx.readF32(vCache), ref.v, `${c.name}: value cache`, { rtol: 0, atol: 0 });
}
