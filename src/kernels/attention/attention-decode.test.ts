// attentionDecode (rope + ring write + attention for one token, attention-decode.wgsl) against the
// reference: applyRope on q and k, then softmaxAttention over the reference cache, step by step,
// over more keys than one block, on a full and a wrapping sliding layer, with sinks and GQA; and
// with the q / k RMSNorm folded in (per head, Qwen3; over the whole projection, MiniMax-M2).

import { describe, it } from 'vitest';
import { softmaxAttention, type KvCache } from '../../reference/attention.ts';
import { applyRope, rmsnorm, ropeTable } from '../../reference/ops.ts';
import type { RopeSpec } from '../../format/spec.ts';
import { expectClose, randArray, rng, testContext } from '../testing/harness.ts';
import { ropeCosSin } from '../rope/rope.ts';
import { attentionDecode, attentionDecodeNormUsable } from './attention.ts';

type QkNorm = 'per_head' | 'whole_projection';
const CASES: { name: string; Hq: number; Hkv: number; hd: number; rot: number; window: number | null; sinks: boolean; steps: number; norm?: QkNorm }[] = [
  { name: 'full, GQA 4:2, sinks, 140 steps', Hq: 4, Hkv: 2, hd: 16, rot: 16, window: null, sinks: true, steps: 140 },
  { name: 'sliding 6 (ring wraps), partial rotary 8 of 16, MHA', Hq: 2, Hkv: 2, hd: 16, rot: 8, window: 6, sinks: false, steps: 14 },
  { name: 'q / k norm per head, GQA 4:2', Hq: 4, Hkv: 2, hd: 16, rot: 16, window: null, sinks: false, steps: 8, norm: 'per_head' },
  { name: 'hd 128 (4 lanes a key, blocks of 64 keys), sliding 100, sinks, 150 steps', Hq: 2, Hkv: 1, hd: 128, rot: 64, window: 100, sinks: true, steps: 150 },
  { name: 'hd 24 (chunks not a power of two: 42 key parts of 6 dims)', Hq: 2, Hkv: 1, hd: 24, rot: 24, window: null, sinks: false, steps: 40, norm: 'per_head' },
  { name: 'q / k norm over the whole projection (rows past 4 loads a thread), GQA 80:40, partial rotary 8 of 16', Hq: 80, Hkv: 40, hd: 16, rot: 8, window: null, sinks: false, steps: 8, norm: 'whole_projection' },
];

/** The reference's q / k norm (forward.ts): rmsnorm per head or over the whole row, in place. */
function refNorm(x: Float32Array, heads: number, hd: number, w: Float32Array, mode: QkNorm, eps: number): void {
  if (mode === 'whole_projection') x.set(rmsnorm(x, w, eps));
  else for (let h = 0; h < heads; h++) rmsnorm(x, w, eps, h * hd, hd, x, h * hd);
}

describe('attention decode (rope + ring write + attention)', () => {
  for (const c of CASES) {
    it(c.name, async () => {
      const ctx = await testContext();
      if (c.norm && !attentionDecodeNormUsable(ctx)) return; // fewer than 10 storage buffers a stage
      const r = rng(c.steps + c.hd);
      const eps = 1e-6;
      const whole = c.norm === 'whole_projection';
      const qnw = randArray(r, whole ? c.Hq * c.hd : c.hd, 0.5, 1.5);
      const knw = randArray(r, whole ? c.Hkv * c.hd : c.hd, 0.5, 1.5);
      const qkNorm = c.norm && { mode: c.norm, eps, q: ctx.upload(qnw), k: ctx.upload(knw) };
      const spec: RopeSpec = { theta: 1e4, rotary_dim: c.rot, scaling: { type: 'none' } };
      const table = ropeTable(spec);
      const capacity = c.window ?? c.steps;
      const kvw = c.Hkv * c.hd;
      const ref: KvCache = { kind: 'kv', capacity, length: 0, k: new Float32Array(capacity * kvw), v: new Float32Array(capacity * kvw) };
      const sinks = c.sinks ? randArray(r, c.Hq, -1, 1) : undefined;
      const kc = ctx.createBuffer(capacity * kvw * 4);
      const vc = ctx.createBuffer(capacity * kvw * 4);
      const sb = sinks && ctx.upload(sinks);
      for (let pos = 0; pos < c.steps; pos++) {
        const q = randArray(r, c.Hq * c.hd);
        const k = randArray(r, kvw);
        const v = randArray(r, kvw);
        const qr = new Float32Array(q);
        const kr = new Float32Array(k);
        if (c.norm) {
          refNorm(qr, c.Hq, c.hd, qnw, c.norm, eps);
          refNorm(kr, c.Hkv, c.hd, knw, c.norm, eps);
        }
        applyRope(qr, c.Hq, c.hd, pos, table);
        applyRope(kr, c.Hkv, c.hd, pos, table);
        const want = softmaxAttention(ref, qr, kr, v, 1, c.Hq, c.Hkv, c.hd, c.window, sinks);
        const out = ctx.createBuffer(c.Hq * c.hd * 4);
        const check = pos % 23 === 0 || pos === c.steps - 1;
        await ctx.scoped('attention decode', async () => {
          const enc = ctx.encoder();
          attentionDecode(enc, {
            nHeads: c.Hq, nKv: c.Hkv, hd: c.hd, pos0: pos, capacity, window: c.window, q: ctx.upload(q), k: ctx.upload(k), v: ctx.upload(v),
            kCache: kc, vCache: vc, sinks: sb, out, cs: ctx.upload(ropeCosSin(table, pos, 1)), rotaryDim: c.rot, qkNorm,
          }, true);
          enc.submit();
          if (check) expectClose(await ctx.readF32(out), want, `${c.name} at ${pos}`, { rtol: 1e-5 });
        });
      }
      expectClose(await ctx.readF32(kc), ref.k, 'key ring', { rtol: 1e-6 });
      expectClose(await ctx.readF32(vc), ref.v, 'value ring', { rtol: 0, atol: 0 });
    });
  }
});
