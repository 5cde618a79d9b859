// The packed-integer prefill products (matmul-dp.wgsl) against the CPU reference (cases in
// testing/int-products.ts): dense (with bias and residual), q/k/v in one dispatch, and the grouped
// experts, for q8, q4 and mxfp4 at 1 and 2 digit planes, 4 and 8 slots a thread.

import { describe, it } from 'vitest';
import type { QuantKind } from '../../format/quant-layout.ts';
import type { GpuContext } from '../../gpu/device.ts';
import { testContext } from '../testing/harness.ts';
import { denseCase, groupedCase, qkvCase } from '../testing/int-products.ts';
import { dpRoute, dpTuning } from './matmul-dp.ts';
import { mmaTuning } from './matmul-mma.ts';

/** Run fn with `digits` planes and `slots` a thread, skipping (with a note) where the device has no packed dot products. */
async function withDigits(digits: 1 | 2, slots: 4 | 8, fn: (ctx: GpuContext) => Promise<void>): Promise<void> {
  const ctx = await testContext();
  if (!ctx.caps.packedDot) {
    console.warn('matmul-dp: no packed_4x8_integer_dot_product on this device; the f32 kernel runs instead');
    return;
  }
  const saved = { digits: dpTuning.digits, slots: dpTuning.slots, mma: mmaTuning.enabled };
  Object.assign(dpTuning, { digits, slots });
  mmaTuning.enabled = false; // this kernel, not the subgroup-matrix one
  try {
    await fn(ctx);
  } finally {
    Object.assign(dpTuning, { digits: saved.digits, slots: saved.slots });
    mmaTuning.enabled = saved.mma;
  }
}

/** The route the tiles of bt tokens take must be this kernel with `slots` slots a thread. */
function routed(ctx: GpuContext, kind: QuantKind, bt: number, slots: number): void {
  if (dpRoute(ctx, kind, bt, 1)?.sl !== slots) throw new Error(`the packed-integer route with ${slots} slots was not taken`);
}

describe('matmul dp (packed integer prefill products)', () => {
  for (const [kind, digits, bt, slots] of [
    ['q8', 2, 64, 8],
    ['q4', 1, 128, 8],
    ['mxfp4', 2, 16, 4],
    ['q4', 2, 32, 4],
    ['mxfp4', 1, 64, 8],
    ['q8', 1, 32, 4],
  ] as [QuantKind, 1 | 2, number, 4 | 8][]) {
    it(`${kind}, ${digits} digit plane(s), ${slots} slots a thread, tiles of ${bt}: random T, rows, bias, residual, offsets`, () =>
      withDigits(digits, slots, async (ctx) => {
        routed(ctx, kind, bt, slots);
        await denseCase(ctx, kind, digits, bt);
      }));
  }

  it('q, k, v in one dispatch (q8, 2 planes, 8 slots) equal three products', () => withDigits(2, 8, qkvCase));

  for (const [kind, digits, bt, slots] of [
    ['mxfp4', 2, 32, 8],
    ['q4', 1, 16, 4],
    ['q8', 2, 64, 8],
    ['q4', 1, 64, 8],
  ] as [QuantKind, 1 | 2, number, 4 | 8][]) {
    it(`grouped experts (${kind}, ${digits} plane(s), ${slots} slots, tile ${bt}): gate_up and down match the reference`, () =>
      withDigits(digits, slots, async (ctx) => {
        routed(ctx, kind, bt, slots);
        await groupedCase(ctx, kind, digits, bt);
      }));
  }
});
