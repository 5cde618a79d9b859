import { describe, it } from 'vitest';
import { lightningAttention, type LinearState } from '../../reference/attention.ts';
import { expectClose, randArray, randInt, rng, testContext } from '../testing/harness.ts';
import { lightning } from './lightning.ts';

function newState(H: number, hd: number): LinearState {
  return { kind: 'linear', length: 0, kv: new Float64Array(H * hd * hd) };
}

/** SiLU'd-looking inputs: mostly positive, moderate. */
function inputs(r: () => number, T: number, H: number, hd: number) {
  return { q: randArray(r, T * H * hd, -0.3, 1), k: randArray(r, T * H * hd, -0.3, 1), v: randArray(r, T * H * hd, -1, 1) };
}

describe('lightning', () => {
  it('fixed case: one head, hd 1, two tokens by recurrence', async () => {
    const ctx = await testContext();
    const state = ctx.createBuffer(4);
    const out = ctx.createBuffer(8);
    const s = Math.log(2); // exp(-s) = 1/2
    await ctx.scoped('lightning fixed', async () => {
      const enc = ctx.encoder();
      lightning(enc, {
        T: 2, nHeads: 1, hd: 1, mode: 'recurrent',
        q: ctx.upload(new Float32Array([1, 2])), k: ctx.upload(new Float32Array([3, 1])), v: ctx.upload(new Float32Array([1, 4])),
        decay: ctx.upload(new Float32Array([s])), state, out,
      });
      enc.submit();
      // KV1 = 3, o1 = 3; KV2 = 1.5 + 4 = 5.5, o2 = 11
      expectClose(await ctx.readF32(out), [3, 11], 'out', { rtol: 1e-6 });
      expectClose(await ctx.readF32(state), [5.5], 'state', { rtol: 1e-6 });
    });
  });

  it('block prefill then recurrent decode equals the reference, chunk by chunk', async () => {
    const ctx = await testContext();
    const r = rng(41);
    for (const [H, hd, B, chunks] of [[2, 8, 4, [11, 1, 1, 6, 1]], [3, 16, 5, [5, 1, 13]]] as [number, number, number, number[]][]) {
      const decay = Array.from({ length: H }, () => 0.02 + 0.5 * r());
      const ref = newState(H, hd);
      const state = ctx.createBuffer(H * hd * hd * 4);
      const decayBuf = ctx.upload(Float32Array.from(decay));
      for (const T of chunks) {
        const { q, k, v } = inputs(r, T, H, hd);
        const expect = lightningAttention(ref, q, k, v, T, H, hd, decay, B);
        const out = ctx.createBuffer(T * H * hd * 4);
        await ctx.scoped('lightning chunks', async () => {
          const enc = ctx.encoder();
          lightning(enc, { T, nHeads: H, hd, q: ctx.upload(q), k: ctx.upload(k), v: ctx.upload(v), decay: decayBuf, state, out, blockSize: B });
          enc.submit();
          expectClose(await ctx.readF32(out), expect, `H=${H} hd=${hd} B=${B} chunk T=${T}`, { rtol: 1e-5 });
        });
      }
      expectClose(await ctx.readF32(state), ref.kv, 'final state', { rtol: 1e-5 });
    }
  });

  it('block form equals the token-by-token recurrence on the GPU (T not a multiple of the block)', async () => {
    const ctx = await testContext();
    const r = rng(42);
    const H = randInt(r, 1, 3);
    const hd = randInt(r, 2, 24);
    const T = randInt(r, 9, 23);
    const B = 8;
    const { q, k, v } = inputs(r, T, H, hd);
    const decays = Float32Array.from({ length: H }, () => 0.01 + r());
    const decay = ctx.upload(decays);
    const init = randArray(r, H * hd * hd, -0.5, 0.5); // a non-empty state from an earlier chunk
    const ref: LinearState = { kind: 'linear', length: 0, kv: Float64Array.from(init) };
    const expect = lightningAttention(ref, q, k, v, T, H, hd, Array.from(decays), B);
    const run = async (mode: 'recurrent' | 'block') => {
      const state = ctx.upload(init);
      const out = ctx.createBuffer(T * H * hd * 4);
      await ctx.scoped(`lightning ${mode}`, () => {
        const enc = ctx.encoder();
        lightning(enc, { T, nHeads: H, hd, q: ctx.upload(q), k: ctx.upload(k), v: ctx.upload(v), decay, state, out, mode, blockSize: B });
        enc.submit();
      });
      return { out: await ctx.readF32(out), state: await ctx.readF32(state) };
    };
    const rec = await run('recurrent');
    const blk = await run('block');
    expectClose(blk.out, rec.out, `outputs H=${H} hd=${hd} T=${T}`, { rtol: 1e-5 });
    expectClose(blk.state, rec.state, 'states', { rtol: 1e-5 });
    // and both equal the reference, from the same non-empty state
    expectClose(rec.out, expect, 'recurrent outputs vs the reference', { rtol: 1e-5 });
    expectClose(blk.out, expect, 'block outputs vs the reference', { rtol: 1e-5 });
    expectClose(blk.state, ref.kv, 'state vs the reference', { rtol: 1e-5 });
  });
});
