// The fast matvec variant (matvec-fast.wgsl) and its fused MoE forms against the CPU reference.
// On SwiftShader the subgroup is 4 lanes (team size 4); every geometry setting is exercised.

import { describe, it } from 'vitest';
import { matvec as refMatvec, rmsnorm as refRmsnorm } from '../../reference/ops.ts';
import { activate } from '../../reference/moe.ts';
import { dequantizeMatrix, quantizeMatrix } from '../../format/quant.ts';
import { QUANT_KINDS, expertLayout, type QuantKind } from '../../format/quant-layout.ts';
import type { ExpertActivation } from '../../format/spec.ts';
import { expectClose, randArray, randInt, rng, testContext } from '../testing/harness.ts';
import { fastKernel, fastMatvecPlan, matvec, matvecSegments, matvecTuning } from './matvec.ts';
import { expertDownSum, expertGateUp, fusedMoeUsable } from './moe-fused.ts';

function ref(kind: QuantKind, bytes: Uint8Array, rows: number, cols: number, x: Float32Array, bias?: Float32Array): Float32Array {
  return refMatvec(dequantizeMatrix(kind, bytes, rows, cols), x, rows, cols, bias);
}

/**
 * Run `fn` under each of a few geometries of the fast variant, restoring the defaults after. The
 * simple variant does not read the tuning: it runs once.
 */
async function eachTuning(fn: (label: string) => Promise<void>, variant: 'fast' | 'simple' = 'fast'): Promise<void> {
  if (variant === 'simple') return fn('simple');
  const saved = { ...matvecTuning, byKind: { ...matvecTuning.byKind }, small: { ...matvecTuning.small }, downSum: { ...matvecTuning.downSum } };
  matvecTuning.minGroups = 0; // keep each geometry even for these small matrices
  matvecTuning.byKind = {};
  matvecTuning.small = {};
  matvecTuning.downSum = {};
  try {
    for (const t of [
      { wg: 64, rpt: 1, unr: 1, design: 'unit' },
      { wg: 128, rpt: 2, unr: 2, design: 'unit' },
      { wg: 32, rpt: 4, unr: 4, design: 'unit' },
      { wg: 64, rpt: 1, unr: 1, design: 'sx', xc: 64 },
      { wg: 32, rpt: 4, unr: 1, design: 'sx' },
      { wg: 64, rpt: 1, unr: 1, design: 'wide', pf: 0 },
      { wg: 32, rpt: 3, unr: 1, design: 'wide', pf: 1 },
      { wg: 128, rpt: 4, unr: 1, design: 'wide', pf: 1 },
      { wg: 64, rpt: 8, unr: 1, design: 'wide', pf: 0, kx: 1 },
      { wg: 32, rpt: 6, unr: 1, design: 'wide', pf: 1 },
      { wg: 32, rpt: 2, unr: 1, design: 'wide', pf: 1, kx: 1 },
      { wg: 2048, rpt: 2, unr: 1, design: 'wide', pf: 1 }, // over every device's limit: shrunk to it
      { wg: 64, rpt: 3, unr: 1, design: 'dp' }, // q4: packed integer dots on x's digit planes; others: wide
      { wg: 32, rpt: 8, unr: 1, design: 'dp' },
      // mxfp4 through f16 bit patterns (where the adapter keeps f16 subnormals; others: dq 0)
      { wg: 64, rpt: 2, unr: 2, design: 'unit', dq: 2 },
      { wg: 32, rpt: 3, unr: 1, design: 'sx', dq: 2 },
      { wg: 32, rpt: 5, unr: 1, design: 'wide', pf: 1, dq: 2 },
      { wg: 64, rpt: 2, unr: 1, design: 'wide', pf: 0, kx: 1, dq: 2 },
      // gate_up: gate and up rows in one unit loop; down_sum: a team per expert (other entries: as without)
      { wg: 32, rpt: 6, unr: 1, design: 'wide', pf: 1, gu: 1, kt: 1, tpr: 2 }, // teams of 2 lanes
      { wg: 64, rpt: 8, unr: 1, design: 'wide', pf: 1, gu: 1, kt: 1, dq: 2 },
    ] as const) {
      Object.assign(matvecTuning, { xc: undefined, pf: undefined, kx: undefined, gu: undefined, kt: undefined, tpr: undefined, dq: saved.dq }, t);
      await fn(`${t.design} wg ${t.wg} rpt ${t.rpt} unr ${t.unr}${'xc' in t ? ` xc ${t.xc}` : ''}${'pf' in t ? ` pf ${t.pf}` : ''}${'kx' in t ? ` kx ${t.kx}` : ''}${'gu' in t ? ` gu ${t.gu} kt ${t.kt}` : ''}${'tpr' in t ? ` tpr ${t.tpr}` : ''}${'dq' in t ? ` dq ${t.dq}` : ''}`);
    }
  } finally {
    Object.assign(matvecTuning, saved);
  }
}

describe('matvec fast variant', () => {
  it('applies only to aligned shapes on adapters with subgroups', async () => {
    const ctx = await testContext();
    if (!ctx.caps.subgroups) return; // nothing to test: the simple variant is the only one
    if (!fastMatvecPlan(ctx, { cols: 64 })) throw new Error('cols 64 should take the fast path');
    if (fastMatvecPlan(ctx, { cols: 40 })) throw new Error('cols 40 must fall back');
    if (fastMatvecPlan(ctx, { cols: 64, xOffset: 2 })) throw new Error('unaligned x must fall back');
    if (fastMatvecPlan(ctx, { cols: 64, wOffset: 8 })) throw new Error('a matrix off a 16-byte boundary must fall back');
  });

  it('the f16-bit mxfp4 decoder (dq 2) runs only where the adapter keeps f16 subnormals, else the table or arithmetic one', async () => {
    const ctx = await testContext();
    if (!ctx.caps.subgroups) return;
    const caps = ctx.caps as { f16Subnormals: boolean; subgroupMinSize: number };
    const saved = { ...caps };
    const shape = { rows: 64, cols: 64, problems: 1 };
    const pick = (kind: QuantKind, dq: number) => fastKernel(ctx, kind, 'mv', shape, false, true, { wg: 64, rpt: 2, unr: 1, dq, design: 'unit' }).kernel;
    try {
      for (const [f16, sg] of [[true, 4], [false, 4], [true, 32], [false, 32]] as const) {
        Object.assign(caps, { f16Subnormals: f16, subgroupMinSize: sg });
        const want = f16 ? 'its own pipeline' : sg >= 16 ? 'the table pipeline' : 'the arithmetic pipeline';
        const got = pick('mxfp4', 2);
        const same = f16 ? got !== pick('mxfp4', 1) && got !== pick('mxfp4', 0) : got === pick('mxfp4', sg >= 16 ? 1 : 0);
        if (!same) throw new Error(`mxfp4 dq 2 with f16Subnormals ${f16}, subgroups of ${sg}: expected ${want}`);
        if (pick('q4', 2) !== pick('q4', sg >= 16 ? 1 : 0)) throw new Error(`q4 dq 2 (subgroups of ${sg}) must fall back to the ${sg >= 16 ? 'table' : 'arithmetic'} decoder`);
      }
    } finally {
      Object.assign(caps, saved);
    }
  });

  for (const kind of QUANT_KINDS) {
    it(`${kind}: random shapes, bias, offsets, several problems, every geometry`, async () => {
      const ctx = await testContext();
      if (!ctx.caps.subgroups) return;
      const r = rng(500 + kind.charCodeAt(0) + kind.length);
      const rows = randInt(r, 1, 70);
      const cols = 32 * randInt(r, 1, 9);
      const P = randInt(r, 1, 3);
      const wOffset = 256;
      const bytes = quantizeMatrix(kind, randArray(r, rows * cols), rows, cols);
      const wAll = new Uint8Array(wOffset + bytes.length);
      wAll.set(bytes, wOffset);
      const xs = randArray(r, P * cols + 4);
      const bias = randArray(r, rows);
      const expect = new Float32Array(P * rows);
      for (let p = 0; p < P; p++) expect.set(ref(kind, bytes, rows, cols, xs.subarray(4 + p * cols, 4 + (p + 1) * cols), bias), p * rows);
      const w = ctx.upload(wAll);
      const x = ctx.upload(xs);
      const b = ctx.upload(bias);
      await eachTuning(async (label) => {
        const y = ctx.createBuffer((2 + P * rows) * 4);
        await ctx.scoped(`fast ${kind}`, async () => {
          const enc = ctx.encoder();
          matvec(enc, { kind, rows, cols, w, wOffset, x, xOffset: 4, y, yOffset: 2, problems: P, bias: { buffer: b }, variant: 'fast' });
          enc.submit();
          expectClose((await ctx.readF32(y)).subarray(2), expect, `fast ${kind} ${rows}x${cols} P=${P} ${label}`);
        });
      });
    });
  }

  it('residual epilogue: y = alpha y + beta Wx and y = alpha h + beta Wx (fast and simple agree)', async () => {
    const ctx = await testContext();
    const r = rng(91);
    const rows = 37;
    const cols = 96;
    const bytes = quantizeMatrix('q8', randArray(r, rows * cols), rows, cols);
    const xs = randArray(r, cols);
    const y0 = randArray(r, rows);
    const h = randArray(r, rows);
    const wx = ref('q8', bytes, rows, cols, xs);
    const w = ctx.upload(bytes);
    const x = ctx.upload(xs);
    const hb = ctx.upload(h);
    const variants = ctx.caps.subgroups ? (['fast', 'simple'] as const) : (['simple'] as const);
    for (const variant of variants)
      for (const from of [false, true]) {
        const y = ctx.upload(y0);
        await ctx.scoped('residual', async () => {
          const enc = ctx.encoder();
          matvec(enc, { kind: 'q8', rows, cols, w, x, y, variant, residual: { alpha: 1.5, beta: 0.5, from: from ? hb : undefined } });
          enc.submit();
          const want = Float32Array.from(wx, (v, i) => 1.5 * (from ? h[i] : y0[i]) + 0.5 * v);
          expectClose(await ctx.readF32(y), want, `residual ${variant} from=${from}`);
        });
      }
  });

  it('norm fused into the product: W rmsnorm(x), the normed rows written out (fast and simple agree)', async () => {
    const ctx = await testContext();
    const r = rng(93);
    const rows = 48; // a whole number of 16-byte words: the shared-x design reads the weights as vec4
    const cols = 128;
    const P = 2;
    const bytes = quantizeMatrix('q4', randArray(r, rows * cols), rows, cols);
    const xs = randArray(r, P * cols, -3, 3);
    const nw = randArray(r, cols, 0.5, 1.5);
    const normed = new Float32Array(P * cols);
    for (let p = 0; p < P; p++) refRmsnorm(xs, nw, 1e-5, p * cols, cols, normed, p * cols);
    const want = new Float32Array(P * rows);
    for (let p = 0; p < P; p++) want.set(ref('q4', bytes, rows, cols, normed.subarray(p * cols, (p + 1) * cols)), p * rows);
    const w = ctx.upload(bytes);
    const x = ctx.upload(xs);
    const nb = ctx.upload(nw);
    const variants = ctx.caps.subgroups ? (['fast', 'simple'] as const) : (['simple'] as const);
    for (const variant of variants)
      await eachTuning(async (label) => {
        const y = ctx.createBuffer(P * rows * 4);
        const h = ctx.createBuffer((8 + P * cols) * 4);
        await ctx.scoped('norm', async () => {
          const enc = ctx.encoder();
          matvec(enc, { kind: 'q4', rows, cols, w, x, y, problems: P, variant, norm: { w: nb, eps: 1e-5, out: { buffer: h, offset: 8 } } });
          enc.submit();
          expectClose(await ctx.readF32(y), want, `norm ${variant} ${label}`);
          expectClose((await ctx.readF32(h)).subarray(8), normed, `normed rows ${variant} ${label}`);
        });
      }, variant);
  });

  it('segments: three matrices of one buffer (different rows) as one product, with biases and the norm fused', async () => {
    const ctx = await testContext();
    const r = rng(95);
    const cols = 96;
    const rowsOf = [40, 8, 8];
    const kind: QuantKind = 'q8';
    const mats: { wOffset: number; rows: number; yOffset: number; biasOffset: number }[] = [];
    const packed = rowsOf.map((rows) => quantizeMatrix(kind, randArray(r, rows * cols), rows, cols));
    const all = new Uint8Array(3 * 4096);
    let off = 0;
    let y0 = 0;
    packed.forEach((b, i) => {
      all.set(b, off);
      mats.push({ wOffset: off / 4, rows: rowsOf[i], yOffset: y0, biasOffset: 3 + y0 });
      off = Math.ceil((off + b.length) / 256) * 256;
      y0 += rowsOf[i];
    });
    const xs = randArray(r, cols, -2, 2);
    const nw = randArray(r, cols, 0.5, 1.5);
    const bias = randArray(r, 3 + y0);
    const normed = new Float32Array(cols);
    refRmsnorm(xs, nw, 1e-5, 0, cols, normed, 0);
    const want = new Float32Array(y0);
    packed.forEach((b, i) => want.set(ref(kind, b, rowsOf[i], cols, normed, bias.subarray(mats[i].biasOffset, mats[i].biasOffset + rowsOf[i])), mats[i].yOffset));
    const w = ctx.upload(all);
    const table = ctx.upload(Uint32Array.from(mats.flatMap((m) => [m.wOffset, m.rows, m.yOffset, m.biasOffset])));
    const x = ctx.upload(xs);
    const nb = ctx.upload(nw);
    const b = ctx.upload(bias);
    const variants = ctx.caps.subgroups ? (['fast', 'simple'] as const) : (['simple'] as const);
    for (const variant of variants)
      await eachTuning(async (label) => {
        const y = ctx.createBuffer(y0 * 4);
        const h = ctx.createBuffer(cols * 4);
        await ctx.scoped('segments', async () => {
          const enc = ctx.encoder();
          matvecSegments(enc, { kind, cols, w, mats, table: { buffer: table }, x, y, bias: b, norm: { w: nb, eps: 1e-5, out: { buffer: h } }, variant: variant === 'fast' ? 'auto' : 'simple' });
          enc.submit();
          expectClose(await ctx.readF32(y), want, `segments ${variant} ${label}`);
          expectClose(await ctx.readF32(h), normed, `segments normed ${variant} ${label}`);
        });
      }, variant);
  });

  const ACTS: ExpertActivation[] = [{ kind: 'swiglu' }, { kind: 'clamped_swiglu', alpha: 1.702, limit: 7 }];
  for (const [kind, biases, act] of [
    ['q4', false, ACTS[0]],
    ['mxfp4', true, ACTS[1]],
    ['q8', true, ACTS[0]],
  ] as [QuantKind, boolean, ExpertActivation][]) {
    it(`fused experts (${kind}, biases ${biases}, ${act.kind}): gate_up and down_sum match the reference`, async () => {
      const ctx = await testContext();
      const D = 64;
      const I = 96;
      const layout = expertLayout(kind, D, I, biases);
      if (!fusedMoeUsable(ctx, layout)) return;
      const r = rng(kind.length * 7 + +biases);
      const E = 4;
      const T = 2;
      const K = 2;
      const slotOf = [2, 0, 3, 1];
      const cache = new Uint8Array(E * layout.bytes);
      const W: { g: Float32Array; u: Float32Array; d: Float32Array; bg?: Float32Array; bu?: Float32Array; bd?: Float32Array }[] = [];
      for (let e = 0; e < E; e++) {
        const q = (k: 'gate' | 'up' | 'down') => quantizeMatrix(kind, randArray(r, I * D), layout[k].shape[0], layout[k].shape[1]);
        const [gb, ub, db] = [q('gate'), q('up'), q('down')];
        const base = slotOf[e] * layout.bytes;
        cache.set(gb, base + layout.gate.offset);
        cache.set(ub, base + layout.up.offset);
        cache.set(db, base + layout.down.offset);
        const ent: (typeof W)[number] = { g: dequantizeMatrix(kind, gb, I, D), u: dequantizeMatrix(kind, ub, I, D), d: dequantizeMatrix(kind, db, D, I) };
        if (biases) {
          ent.bg = randArray(r, I);
          ent.bu = randArray(r, I);
          ent.bd = randArray(r, D);
          cache.set(new Uint8Array(ent.bg.buffer), base + layout.gate_bias!.offset);
          cache.set(new Uint8Array(ent.bu.buffer), base + layout.up_bias!.offset);
          cache.set(new Uint8Array(ent.bd.buffer), base + layout.down_bias!.offset);
        }
        W.push(ent);
      }
      const xs = randArray(r, T * D, -2, 2); // (T, D)
      const chosen = [3, 1, 0, 3]; // (T, K)
      const wts = randArray(r, T * K, 0.1, 1);
      const resid = randArray(r, T * D);
      const acts = new Float32Array(T * K * I);
      const want = new Float32Array(T * D);
      for (let t = 0; t < T; t++) {
        const sum = new Float32Array(D);
        for (let k = 0; k < K; k++) {
          const e = W[chosen[t * K + k]];
          const x = xs.subarray(t * D, (t + 1) * D);
          const g = refMatvec(e.g, x, I, D, e.bg);
          const u = refMatvec(e.u, x, I, D, e.bu);
          const a = Float32Array.from(g, (gv, i) => activate(act, gv, u[i]));
          acts.set(a, (t * K + k) * I);
          const y = refMatvec(e.d, a, D, I, e.bd);
          for (let d = 0; d < D; d++) sum[d] += wts[t * K + k] * y[d];
        }
        for (let d = 0; d < D; d++) want[t * D + d] = resid[t * D + d] + sum[d];
      }
      const arena = ctx.upload(cache);
      const slots = ctx.upload(Uint32Array.from(chosen, (e) => (slotOf[e] * layout.bytes) / 4));
      await eachTuning(async (label) => {
        const a = ctx.createBuffer(T * K * I * 4);
        const out = ctx.upload(resid);
        await ctx.scoped('fused experts', async () => {
          const enc = ctx.encoder();
          expertGateUp(enc, { layout, activation: act, problems: T * K, xDiv: K, arena, slots, x: ctx.upload(xs), out: a });
          expertDownSum(enc, { layout, T, K, arena, slots, x: a, weights: ctx.upload(wts), out, residual: {} });
          enc.submit();
          expectClose(await ctx.readF32(a), acts, `gate_up ${kind} ${label}`);
          expectClose(await ctx.readF32(out), want, `down_sum ${kind} ${label}`);
        });
      });
    });
  }
});
