// The subgroup-matrix prefill products (matmul-mma.wgsl) checked on this device before anything is
// timed: the kernel tests' cases (src/kernels/testing/int-products.ts: every tile size, q8 / q4 /
// mxfp4, 1 and 2 digit planes, dense / q-k-v / grouped experts) at 1, 2 and 4 subgroups a
// workgroup and 2 and 4 row blocks a tile, against the CPU reference. The machines that run CI have no subgroup matrices, so
// this is where those tests run; the prefill tuner tries the kernel only after the check passed.

import type { GpuContext } from '../src/gpu/device.ts';
import { dpTuning } from '../src/kernels/matvec/matmul-dp.ts';
import { mmaTuning } from '../src/kernels/matvec/matmul-mma.ts';
import { hmmaTuning } from '../src/kernels/matvec/matmul-hmma.ts';
import { HMMA_CASES, MMA_CASES, denseCase, groupedCase, qkvCase } from '../src/kernels/testing/int-products.ts';

/** passed: the device check ran and every case passed; only then does the prefill tuner try the kernel */
export const mmaChecked = { passed: false };
/** the same for the f16 kernel (matmul-hmma.wgsl); a failure turns it off (hmmaTuning.enabled) */
export const hmmaChecked = { passed: false };

export interface MmaCheck {
  cases: number;
  failures: string[];
}

export async function checkMma(ctx: GpuContext, log: (s: string) => void): Promise<MmaCheck | null> {
  if (!ctx.caps.subgroupMatrixI8) return null;
  const saved = { digits: dpTuning.digits, enabled: mmaTuning.enabled, subgroups: mmaTuning.subgroups, rowBlocks: mmaTuning.rowBlocks };
  const failures: string[] = [];
  let cases = 0;
  const run = async (name: string, digits: 1 | 2, fn: () => Promise<void>) => {
    cases++;
    dpTuning.digits = digits;
    try {
      await fn();
      await ctx.device.queue.onSubmittedWorkDone();
      ctx.check();
    } catch (e) {
      failures.push(`${name}: ${(e as Error).message.slice(0, 300)}`);
    }
  };
  try {
    mmaTuning.enabled = true;
    hmmaTuning.enabled = false;
    for (const [sg, rb] of [[1, 2], [2, 2], [4, 2], [1, 4], [2, 4]] as const) {
      Object.assign(mmaTuning, { subgroups: sg, rowBlocks: rb });
      for (const [kind, d, bt] of MMA_CASES.dense) await run(`${sg} subgroups ${rb} row blocks, dense ${kind} ${d} planes tile ${bt}`, d, () => denseCase(ctx, kind, d, bt));
      await run(`${sg} subgroups ${rb} row blocks, q/k/v`, 2, () => qkvCase(ctx));
      for (const [kind, d, bt] of MMA_CASES.grouped) await run(`${sg} subgroups ${rb} row blocks, grouped ${kind} ${d} planes tile ${bt}`, d, () => groupedCase(ctx, kind, d, bt));
    }
  } finally {
    Object.assign(mmaTuning, { subgroups: saved.subgroups, rowBlocks: saved.rowBlocks, enabled: saved.enabled });
    mmaChecked.passed = failures.length === 0;
    dpTuning.digits = saved.digits;
    hmmaTuning.enabled = true;
  }
  log(`matmul-mma device check: ${cases - failures.length} of ${cases} cases pass${failures.length ? ` (kernel off): ${failures[0]}` : ''}`);
  return { cases, failures };
}

/**
 * The f16 subgroup-matrix products (matmul-hmma.wgsl) checked like checkMma: the kernel tests'
 * cases at 2 and 4 row blocks a tile and, for the dense products, 1, 2 and 4 token blocks.
 * A failure leaves the kernel off (hmmaTuning.enabled = false) for the rest of the run.
 */
export async function checkHmma(ctx: GpuContext, log: (s: string) => void): Promise<MmaCheck | null> {
  if (!ctx.caps.subgroupMatrixF16) return null;
  const saved = { ...hmmaTuning };
  const failures: string[] = [];
  let cases = 0;
  const run = async (name: string, fn: () => Promise<void>) => {
    cases++;
    try {
      await fn();
      await ctx.device.queue.onSubmittedWorkDone();
      ctx.check();
    } catch (e) {
      failures.push(`${name}: ${(e as Error).message.slice(0, 300)}`);
    }
  };
  try {
    for (const rb of [2, 4] as const) {
      Object.assign(hmmaTuning, { enabled: true, rowBlocks: rb });
      for (const [kind, bt, scale] of HMMA_CASES.dense) {
        hmmaTuning.tokenBlocks = (bt / 16) as 1 | 2 | 4;
        await run(`${rb} row blocks, dense ${kind} tile ${bt} weights x ${scale}`, () => denseCase(ctx, kind, 'f16', bt, scale));
      }
      await run(`${rb} row blocks, q/k/v`, () => qkvCase(ctx, 'f16'));
      for (const [kind, bt] of HMMA_CASES.grouped) await run(`${rb} row blocks, grouped ${kind} tile ${bt}`, () => groupedCase(ctx, kind, 'f16', bt));
    }
  } finally {
    Object.assign(hmmaTuning, saved);
    hmmaChecked.passed = failures.length === 0;
    if (!hmmaChecked.passed) hmmaTuning.enabled = false;
  }
  log(`matmul-hmma device check: ${cases - failures.length} of ${cases} cases pass${failures.length ? ` (kernel off): ${failures.slice(0, 3).join(' | ')}` : ''}`);
  return { cases, failures };
}
