// The f16 subgroup-matrix prefill products (matmul-hmma.wgsl) against the CPU reference, with the
// cases of the integer products' tests (testing/int-products.ts) at f16 precision: every tile size
// (16, 32, 64 tokens), q8 / q4 / mxfp4, dense with bias and residual, q/k/v in one dispatch,
// grouped experts. They run where the device has f16 subgroup matrices (an NVIDIA GPU with Dawn's
// unsafe APIs and f16 toggle: the bench's device check runs the same cases there); elsewhere they
// return early with a console note (SwiftShader has no cooperative matrices).

import { describe, it } from 'vitest';
import type { QuantKind } from '../../format/quant-layout.ts';
import { createGpuContext, type GpuContext } from '../../gpu/device.ts';
import { testContext } from '../testing/harness.ts';
import { HMMA_CASES, denseCase, groupedCase, qkvCase } from '../testing/int-products.ts';
import { hmmaRoute, hmmaTuning, verifyHmma } from './matmul-hmma.ts';

async function withHmma(fn: (ctx: GpuContext) => Promise<void>, tokenBlocks = hmmaTuning.tokenBlocks): Promise<void> {
  const ctx = await testContext();
  if (!ctx.caps.subgroupMatrixF16) {
    console.warn('matmul-hmma: no f16 subgroup matrices on this device; the integer or f32 tiles run instead');
    return;
  }
  const saved = { ...hmmaTuning };
  Object.assign(hmmaTuning, { enabled: true, tokenBlocks });
  try {
    await fn(ctx);
  } finally {
    Object.assign(hmmaTuning, saved);
  }
}

function routed(ctx: GpuContext, kind: QuantKind, bt: number): void {
  if (!hmmaRoute(ctx, kind, bt, 64)) throw new Error(`the f16 subgroup-matrix route was not taken (${kind}, tiles of ${bt})`);
}

describe('matmul hmma (f16 subgroup-matrix prefill products)', () => {
  for (const [kind, bt, scale, words] of HMMA_CASES.dense) {
    it(`${kind}, tiles of ${bt}, weights x ${scale} at word ${words}: random T, rows, bias, residual, offsets`, () =>
      withHmma(async (ctx) => {
        routed(ctx, kind, bt);
        await denseCase(ctx, kind, 'f16', bt, scale, words);
      }, (bt / 16) as 1 | 2 | 4));
  }
  it('q, k, v in one dispatch (q8) equal three products', () => withHmma((ctx) => qkvCase(ctx, 'f16')));
  it('a device that claims f16 subgroup matrices but cannot compile the kernel keeps the route off (verifyHmma)', async () => {
    if ((await testContext()).caps.subgroupMatrixF16) return; // there the kernel compiles and the cases run it
    const ctx = await createGpuContext(); // its caps claimed below: this compiler has no subgroup matrices
    try {
      (ctx.caps as { subgroupMatrixF16: boolean }).subgroupMatrixF16 = true;
      if (!hmmaRoute(ctx, 'q4', 32, 64)) throw new Error('the claimed device should route to the kernel before the check');
      if (await verifyHmma(ctx)) throw new Error('verifyHmma passed a kernel this device cannot compile');
      if (hmmaRoute(ctx, 'q4', 32, 64)) throw new Error('the route stayed on after the failed check');
      ctx.check(); // the failed compile stayed inside its error scope
    } finally {
      ctx.destroy();
    }
  });
  for (const [kind, bt] of HMMA_CASES.grouped) {
    it(`grouped experts (${kind}, tile ${bt}): gate_up and down match the reference`, () =>
      withHmma(async (ctx) => {
        routed(ctx, kind, bt);
        await groupedCase(ctx, kind, 'f16', bt);
      }));
  }
});
