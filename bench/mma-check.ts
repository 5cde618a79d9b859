// The subgroup-matrix prefill products (matmul-mma.wgsl: i8; matmul-hmma.wgsl: f16) checked on
// this device before anything is timed: the kernel tests' cases (src/kernels/testing/int-products.ts:
// every tile size, q8 / q4 / mxfp4, 1 and 2 digit planes or f16, dense / q-k-v / grouped experts)
// in each kernel's layouts, against the CPU reference. The machines that run CI have no subgroup
// matrices, so this is where those tests run; the prefill tuner tries a kernel only after its
// check passed.

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

/** A check's case runner: runs a case to the end of its GPU work, counting it and keeping its failure. */
function caseRunner(ctx: GpuContext): { result: MmaCheck; run: (name: string, fn: () => Promise<void>) => Promise<void> } {
  const result: MmaCheck = { cases: 0, failures: [] };
  const run = async (name: string, fn: () => Promise<void>) => {
    result.cases++;
    try {
      await fn();
      await ctx.device.queue.onSubmittedWorkDone();
      ctx.check();
    } catch (e) {
      result.failures.push(`${name}: ${(e as Error).message.slice(0, 300)}`);
    }
  };
  return { result, run };
}

export async function checkMma(ctx: GpuContext, log: (s: string) => void): Promise<MmaCheck | null> {
  if (!ctx.caps.subgroupMatrixI8) return null;
  const saved = { digits: dpTuning.digits, enabled: mmaTuning.enabled, subgroups: mmaTuning.subgroups, rowBlocks: mmaTuning.rowBlocks };
  const { result, run: runCase } = caseRunner(ctx);
  const { failures } = result;
  const run = (name: string, digits: 1 | 2, fn: () => Promise<void>) => {
    dpTuning.digits = digits;
    return runCase(name, fn);
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
  log(`matmul-mma device check: ${result.cases - failures.length} of ${result.cases} cases pass${failures.length ? ` (kernel off): ${failures[0]}` : ''}`);
  return result;
}

/**
 * The f16 subgroup-matrix products (matmul-hmma.wgsl) checked like checkMma: the kernel tests'
 * cases at 2 and 4 row blocks a tile and, for the dense products, 1, 2 and 4 token blocks.
 * A failure leaves the kernel off (hmmaTuning.enabled = false) for the rest of the run.
 */
export async function checkHmma(ctx: GpuContext, log: (s: string) => void): Promise<MmaCheck | null> {
  if (!ctx.caps.subgroupMatrixF16) return null;
  const saved = { ...hmmaTuning };
  const { result, run } = caseRunner(ctx);
  const { failures } = result;
  try {
    for (const rb of [2, 4] as const) {
      Object.assign(hmmaTuning, { enabled: true, rowBlocks: rb });
      for (const [kind, bt, scale, words] of HMMA_CASES.dense) {
        hmmaTuning.tokenBlocks = (bt / 16) as 1 | 2 | 4;
        await run(`${rb} row blocks, dense ${kind} tile ${bt} weights x ${scale} at word ${words}`, () => denseCase(ctx, kind, 'f16', bt, scale, words));
      }
      await run(`${rb} row blocks, q/k/v`, () => qkvCase(ctx, 'f16'));
      for (const [kind, bt] of HMMA_CASES.grouped) await run(`${rb} row blocks, grouped ${kind} tile ${bt}`, () => groupedCase(ctx, kind, 'f16', bt));
    }
  } finally {
    Object.assign(hmmaTuning, saved);
    hmmaChecked.passed = failures.length === 0;
    if (!hmmaChecked.passed) hmmaTuning.enabled = false;
  }
  log(`matmul-hmma device check: ${result.cases - failures.length} of ${result.cases} cases pass${failures.length ? ` (kernel off): ${failures.slice(0, 3).join(' | ')}` : ''}`);
  return result;
}
