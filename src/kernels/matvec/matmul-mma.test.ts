// The subgroup-matrix prefill products (matmul-mma.wgsl) against the CPU reference, with the cases
// of matmul-dp's tests (testing/int-products.ts): every tile size (16, 32, 64 tokens), q8 / q4
// / mxfp4, 1 and 2 digit planes. They run where the device has i8 subgroup matrices (an NVIDIA GPU
// with unsafe APIs allowed: the bench's device check runs the same cases there); elsewhere they
// return early with a console note (SwiftShader has no cooperative matrices).

import { describe, it } from 'vitest';
import type { QuantKind } from '../../format/quant-layout.ts';
import type { GpuContext } from '../../gpu/device.ts';
import { testContext } from '../testing/harness.ts';
import { MMA_CASES, denseCase, groupedCase, qkvCase } from '../testing/int-products.ts';
import { dpTuning } from './matmul-dp.ts';
import { mmaRoute, mmaTuning } from './matmul-mma.ts';

async function withMma(digits: 1 | 2, fn: (ctx: GpuContext) => Promise<void>): Promise<void> {
  const ctx = await testContext();
  if (!ctx.caps.subgroupMatrixI8) {
    console.warn('matmul-mma: no i8 subgroup matrices on this device; matmul-dp or the f32 tiles run instead');
    return;
  }
  const saved = { digits: dpTuning.digits, mma: mmaTuning.enabled };
  dpTuning.digits = digits;
  mmaTuning.enabled = true;
  try {
    await fn(ctx);
  } finally {
    dpTuning.digits = saved.digits;
    mmaTuning.enabled = saved.mma;
  }
}

function routed(ctx: GpuContext, kind: QuantKind, bt: number): void {
  if (!mmaRoute(ctx, kind, bt, 1)) throw new Error(`the subgroup-matrix route was not taken (${kind}, tiles of ${bt})`);
}

describe('matmul mma (subgroup-matrix prefill products)', () => {
  for (const [kind, digits, bt] of MMA_CASES.dense) {
    it(`${kind}, ${digits} digit plane(s), tiles of ${bt}: random T, rows, bias, residual, offsets`, () =>
      withMma(digits, async (ctx) => {
        routed(ctx, kind, bt);
        await denseCase(ctx, kind, digits, bt);
      }));
  }
  it('q, k, v in one dispatch (q8, 2 planes) equal three products', () => withMma(2, qkvCase));
  for (const [kind, digits, bt] of MMA_CASES.grouped) {
    it(`grouped experts (${kind}, ${digits} plane(s), tile ${bt}): gate_up and down match the reference`, () =>
      withMma(digits, async (ctx) => {
        routed(ctx, kind, bt);
        await groupedCase(ctx, kind, digits, bt);
      }));
  }
});
