// Tiled prefill matmul and the grouped expert GEMM (with the GPU plan) against the CPU reference.

import { describe, it as vitestIt } from 'vitest';
import { matvec as refMatvec } from '../../reference/ops.ts';
import { activate } from '../../reference/moe.ts';
import { dequantizeMatrix, quantizeMatrix } from '../../format/quant.ts';
import { QUANT_KINDS, type QuantKind } from '../../format/quant-layout.ts';
import type { ExpertActivation } from '../../format/spec.ts';
import { expectClose, expectEqual, expertArena, packAligned, randArray, randInt, randWeights, rng, testContext } from '../testing/harness.ts';
import { groupedDown, groupedGateUp, groupedTile, matmulTiled, matmulTiledQkv, matmulTuning, moePlan, planWords, type TileGeometry } from './matmul-tiled.ts';
import { dpTuning } from './matmul-dp.ts';

// These cover the f32 kernel (matmul-tiled.wgsl) for every kind; matmul-dp.test.ts the packed
// integer one that q8 / q4 / mxfp4 take by default where the device has packed dot products.
function it(name: string, fn: () => Promise<void>): void {
  vitestIt(name, async () => {
    const saved = dpTuning.digits;
    dpTuning.digits = 0;
    try {
      await fn();
    } finally {
      dpTuning.digits = saved;
    }
  });
}

describe('matmul tiled', () => {
  // tiles of 16 (4 tokens a thread), 64 (8), 128, 64 with 4 tokens a thread, 32 with 8; register
  // prefetch where the kind and geometry allow it (q8, q4 and mxfp4 here; at least two column
  // groups so that a prefetched group is used)
  const GEOS: [number, TileGeometry][] = [
    [16, { tm: 4, ny: 4, nx: 16 }],
    [64, { tm: 8, ny: 8, nx: 16 }],
    [128, { tm: 4, ny: 32, nx: 8, pf: 1 }],
    [64, { tm: 4, ny: 16, nx: 8, pf: 1 }],
    [32, { tm: 8, ny: 4, nx: 16, pf: 1 }],
  ];
  QUANT_KINDS.forEach((kind, ki) => {
    const [bt, geo] = GEOS[ki % GEOS.length];
    it(`${kind}: random T, rows, bias, residual, offsets; tiles of ${bt} tokens (${geo.tm} a thread, ${geo.nx} x ${geo.ny} threads)`, async () => {
      const ctx = await testContext();
      const r = rng(300 + kind.charCodeAt(0) * 3 + kind.length);
      const rows = randInt(r, 1, 90);
      const cols = 32 * randInt(r, 2, 4);
      const T = bt <= 16 ? randInt(r, 1, 40) : randInt(r, bt / 2 + 1, bt + 40); // tiles of bt (a partial one likely)
      const bytes = quantizeMatrix(kind, randWeights(r, rows * cols), rows, cols);
      const W = dequantizeMatrix(kind, bytes, rows, cols);
      const xs = randArray(r, 4 + T * cols);
      const bias = randArray(r, rows);
      const y0 = randArray(r, T * rows);
      const want = new Float32Array(T * rows);
      for (let t = 0; t < T; t++) {
        const v = refMatvec(W, xs.subarray(4 + t * cols, 4 + (t + 1) * cols), rows, cols, bias);
        for (let i = 0; i < rows; i++) want[t * rows + i] = 0.5 * y0[t * rows + i] + 2 * v[i];
      }
      const saved = { bt: matmulTuning.bt, geometry: matmulTuning.geometry };
      try {
        matmulTuning.bt = bt;
        matmulTuning.geometry = { ...saved.geometry, [bt]: geo };
        const y = ctx.upload(y0);
        await ctx.scoped(`matmul ${kind}`, async () => {
          const enc = ctx.encoder();
          matmulTiled(enc, { kind, rows, cols, T, w: ctx.upload(bytes), x: ctx.upload(xs), xOffset: 4, y, bias: { buffer: ctx.upload(bias) }, residual: { alpha: 0.5, beta: 2 } });
          enc.submit();
          expectClose(await ctx.readF32(y), want, `${kind} T=${T} ${rows}x${cols} bt=${bt}`);
        });
      } finally {
        Object.assign(matmulTuning, saved);
      }
    });
  });

  for (const [kind, rows, biased] of [
    ['q8', [150, 40, 24], true],
    ['mxfp4', [64, 200, 8], false],
  ] as [QuantKind, [number, number, number], boolean][]) {
    it(`q, k, v in one dispatch (${kind}, rows ${rows.join('/')}, biases ${biased}) equal three products`, async () => {
      const ctx = await testContext();
      const r = rng(rows[0] + rows[1]);
      const cols = 96;
      const T = randInt(r, 5, 70);
      const packed = rows.map((n) => quantizeMatrix(kind, randWeights(r, n * cols), n, cols));
      const { all, offsets } = packAligned(packed);
      const biases = rows.map((n) => randArray(r, n));
      const bOffsets = [3, 3 + rows[0] + 5, 3 + rows[0] + rows[1] + 10] as [number, number, number];
      const bAll = new Float32Array(bOffsets[2] + rows[2]);
      biases.forEach((b, m) => bAll.set(b, bOffsets[m]));
      const xs = randArray(r, 8 + T * cols);
      const ys = rows.map((n) => ctx.createBuffer(T * n * 4)) as [GPUBuffer, GPUBuffer, GPUBuffer];
      await ctx.scoped(`qkv ${kind}`, async () => {
        const enc = ctx.encoder();
        matmulTiledQkv(enc, {
          kind, cols, T, w: ctx.upload(all), wOffsets: offsets as [number, number, number], rows, x: ctx.upload(xs), xOffset: 8, ys,
          bias: biased ? { buffer: ctx.upload(bAll), offsets: bOffsets } : undefined,
        });
        enc.submit();
        for (let m = 0; m < 3; m++) {
          const W = dequantizeMatrix(kind, packed[m], rows[m], cols);
          const want = new Float32Array(T * rows[m]);
          for (let t = 0; t < T; t++) want.set(refMatvec(W, xs.subarray(8 + t * cols, 8 + (t + 1) * cols), rows[m], cols, biased ? biases[m] : undefined), t * rows[m]);
          expectClose(await ctx.readF32(ys[m]), want, `${kind} matrix ${m} T=${T}`);
        }
      });
    });
  }

  const ACTS: ExpertActivation[] = [{ kind: 'swiglu' }, { kind: 'clamped_swiglu', alpha: 1.702, limit: 7 }];
  for (const [kind, biases, act, bt, geo] of [
    ['q4', false, ACTS[0], 16, { tm: 4, ny: 4, nx: 16 }],
    ['mxfp4', true, ACTS[1], 32, { tm: 8, ny: 4, nx: 16, pf: 1 }],
    ['q8', true, ACTS[0], 64, { tm: 8, ny: 8, nx: 16, pf: 1 }],
  ] as [QuantKind, boolean, ExpertActivation, number, TileGeometry][]) {
    it(`grouped experts (${kind}, biases ${biases}, tile ${bt}, prefetch ${geo.pf ?? 0}): plan, gate_up and down match the reference`, async () => {
      const ctx = await testContext();
      const r = rng(kind.length * 11 + bt);
      const D = 64;
      const I = 96;
      const E = 5;
      const K = 2;
      const T = 13;
      const { layout, slotOf, cache, mats } = expertArena(r, kind, D, I, biases);
      // (T, K) distinct experts per token, skewed towards expert 1
      const ids = new Uint32Array(T * K);
      for (let t = 0; t < T; t++) {
        const a = r() < 0.6 ? 1 : randInt(r, 0, E - 1);
        let b = randInt(r, 0, E - 1);
        if (b === a) b = (a + 1) % E;
        ids.set([a, b], t * K);
      }
      const xs = randArray(r, T * D, -2, 2);
      const n = T * K;
      const wantA = new Float32Array(n * I);
      const wantY = new Float32Array(n * D);
      for (let p = 0; p < n; p++) {
        const m = mats[ids[p]];
        const x = xs.subarray(Math.floor(p / K) * D, (Math.floor(p / K) + 1) * D);
        const g = refMatvec(m.g, x, I, D, m.bg);
        const u = refMatvec(m.u, x, I, D, m.bu);
        const a = Float32Array.from(g, (gv, i) => activate(act, gv, u[i]));
        wantA.set(a, p * I);
        wantY.set(refMatvec(m.d, a, D, I, m.bd), p * D);
      }
      const arena = ctx.upload(cache);
      const slots = ctx.upload(Uint32Array.from(ids, (e) => (slotOf[e] * layout.bytes) / 4));
      const plan = ctx.createBuffer(planWords(E, n, bt) * 4);
      const order = ctx.createBuffer(n * 4);
      const ea = ctx.createBuffer(n * I * 4);
      const ey = ctx.createBuffer(n * D * 4);
      const saved = matmulTuning.geometry;
      matmulTuning.geometry = { ...saved, [bt]: geo };
      await ctx.scoped('grouped', async () => {
        const enc = ctx.encoder();
        moePlan(enc, { n, E, bt, ids: ctx.upload(ids), plan, order });
        const common = { layout, n, K, E, bt, plan, order, arena, slots };
        groupedGateUp(enc, { ...common, activation: act, x: ctx.upload(xs), out: ea });
        groupedDown(enc, { ...common, x: ea, out: ey });
        enc.submit();
        const pl = await ctx.readU32(plan);
        const counts = Array.from({ length: E }, (_, e) => ids.filter((v) => v === e).length);
        expectEqual(pl.subarray(0, E), counts, 'pairs per expert');
        expectEqual([pl[2 * E + 1]], [counts.reduce((s, c) => s + Math.ceil(c / bt), 0)], 'tile count');
        const ord = await ctx.readU32(order);
        expectEqual([...ord].sort((a, b) => a - b), Array.from({ length: n }, (_, i) => i), 'order is a permutation');
        for (let e = 0; e < E; e++) for (let i = pl[E + e]; i < pl[E + e] + counts[e]; i++) expectEqual([ids[ord[i]]], [e], `pair ${i} sorted under expert ${e}`);
        expectClose(await ctx.readF32(ea), wantA, `gate_up ${kind}`);
        expectClose(await ctx.readF32(ey), wantY, `down ${kind}`);
      }).finally(() => {
        matmulTuning.geometry = saved;
      });
    });
  }
});

describe('grouped tile choice (groupedTile)', () => {
  vitestIt('f16 subgroup matrices: one tile of 64 an expert from 8 tokens an expert, smaller where the f16 copy of x would pass the binding', async () => {
    const cases: [number, number, number, number][] = [
      // problems, experts, rows the f16 copy may have, tile
      [512 * 8, 256, Infinity, 64], // MiniMax-M2 at 512 tokens: 16 an expert
      [512 * 8, 128, Infinity, 64], // Qwen3-30B-A3B: 32 an expert
      [512 * 4, 32, Infinity, 64], // gpt-oss: 64 an expert
      [64 * 8, 256, Infinity, 16], // 2 an expert
      [512 * 8, 256, 15000, 16], // 64 would need (64 + 256) 64 = 20480 rows; 16 an expert: 16
      [512 * 8, 128, 12000, 32], // 64 would need (64 + 128) 64 = 12288 rows; 32 an expert: 32
    ];
    for (const [n, E, rows, want] of cases) {
      const got = groupedTile(n, E, 'hmma', rows);
      if (got !== want) throw new Error(`groupedTile(${n}, ${E}, 'hmma', ${rows}) = ${got}, want ${want}`);
    }
  });
});
