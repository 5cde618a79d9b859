// Test helpers shared by the kernel tests (vitest in Node, and the same files in headless Chromium
// through tests/browser/). Framework-free: checks throw Errors with the first mismatch.

import { createGpuContext, type GpuContext } from '../../gpu/device.ts';
import { dequantizeMatrix, quantizeMatrix } from '../../format/quant.ts';
import { expertLayout, type ExpertLayout, type QuantKind } from '../../format/quant-layout.ts';

let ctxPromise: Promise<GpuContext> | null = null;

/** One device per test process (or page). */
export function testContext(): Promise<GpuContext> {
  if (!ctxPromise) ctxPromise = createGpuContext();
  return ctxPromise;
}

/** Seeded PRNG (the sampler's mulberry32) so failures reproduce. */
export { makeRng as rng } from '../../generate/sampler.ts';

/** Uniform values in [lo, hi). */
export function randArray(r: () => number, n: number, lo = -1, hi = 1): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = lo + (hi - lo) * r();
  return a;
}

/**
 * Random weights in 32-value groups whose magnitudes span a factor of 2, so that every quantized
 * code occurs (uniform [-1, 1] in every group never reaches mxfp4's largest code, 6 times the scale).
 */
export function randWeights(r: () => number, n: number): Float32Array {
  const v = randArray(r, n);
  for (let i = 0; i < n; i += 32) {
    const f = 1 + r();
    for (let j = i; j < Math.min(n, i + 32); j++) v[j] *= f;
  }
  return v;
}

/** Byte arrays packed one after another at `align`-byte offsets (e.g. q, k, v in one buffer). */
export function packAligned(parts: Uint8Array[], align = 256): { all: Uint8Array; offsets: number[] } {
  const offsets: number[] = [];
  let at = 0;
  for (const b of parts) {
    offsets.push(at);
    at += Math.ceil(b.byteLength / align) * align;
  }
  const all = new Uint8Array(at);
  parts.forEach((b, m) => all.set(b, offsets[m]));
  return { all, offsets };
}

/** An expert's weights as the reference sees them (dequantized), biases where the layout has them. */
export interface ExpertMats { g: Float32Array; u: Float32Array; d: Float32Array; bg?: Float32Array; bu?: Float32Array; bd?: Float32Array }

/**
 * Five random experts (hidden D, intermediate I) packed into an expert-cache arena in slots
 * `slotOf[e]` (not in expert order), with the dequantized weights the reference multiplies.
 */
export function expertArena(r: () => number, kind: QuantKind, D: number, I: number, biases: boolean): { layout: ExpertLayout; slotOf: number[]; cache: Uint8Array; mats: ExpertMats[] } {
  const layout = expertLayout(kind, D, I, biases);
  const slotOf = [3, 0, 4, 1, 2];
  const cache = new Uint8Array(slotOf.length * layout.bytes);
  const mats = slotOf.map((slot) => {
    const base = slot * layout.bytes;
    const q = (sec: 'gate' | 'up' | 'down') => {
      const [rr, cc] = layout[sec].shape;
      const b = quantizeMatrix(kind, randWeights(r, rr * cc), rr, cc);
      cache.set(b, base + layout[sec].offset);
      return dequantizeMatrix(kind, b, rr, cc);
    };
    const m: ExpertMats = { g: q('gate'), u: q('up'), d: q('down') };
    if (biases) {
      for (const [k, sec, n] of [['bg', 'gate_bias', I], ['bu', 'up_bias', I], ['bd', 'down_bias', D]] as const) {
        const v = randArray(r, n);
        cache.set(new Uint8Array(v.buffer), base + layout[sec]!.offset);
        m[k] = v;
      }
    }
    return m;
  });
  return { layout, slotOf, cache, mats };
}

/** Integer in [lo, hi]. */
export function randInt(r: () => number, lo: number, hi: number): number {
  return lo + Math.floor(r() * (hi - lo + 1));
}

export interface Tolerance {
  /** relative to max |expected| over the array */
  rtol?: number;
  atol?: number;
}

/**
 * |actual - expected| <= atol + rtol * max|expected| elementwise (a scale-aware bound: kernels
 * accumulate in f32 in another order than the f64 reference). Throws with the worst element.
 */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string, tol: Tolerance = {}): void {
  const rtol = tol.rtol ?? 1e-4;
  const atol = tol.atol ?? 1e-6;
  if (actual.length !== expected.length) throw new Error(`${what}: length ${actual.length} != expected ${expected.length}`);
  let scale = 0;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]));
  const bound = atol + rtol * scale;
  let worst = -1;
  let worstErr = 0;
  for (let i = 0; i < expected.length; i++) {
    const e = Math.abs(actual[i] - expected[i]);
    if (!(e <= bound) && (worst < 0 || e > worstErr || Number.isNaN(e))) {
      worst = i;
      worstErr = e;
    }
  }
  if (worst >= 0)
    throw new Error(
      `${what}: element ${worst} is ${actual[worst]}, expected ${expected[worst]} (|err| ${worstErr.toExponential(3)} > ` +
        `${bound.toExponential(3)} = ${atol} + ${rtol} * ${scale.toExponential(3)})`,
    );
}

/** Exact equality of integer arrays. */
export function expectEqual(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string): void {
  if (actual.length !== expected.length) throw new Error(`${what}: length ${actual.length} != expected ${expected.length}`);
  for (let i = 0; i < expected.length; i++)
    if (actual[i] !== expected[i]) throw new Error(`${what}: element ${i} is ${actual[i]}, expected ${expected[i]} (got [${Array.from(actual).slice(0, 16)}], expected [${Array.from(expected).slice(0, 16)}])`);
}

/** Expect `fn` to throw an error whose class name or message matches. */
export async function expectThrows(fn: () => unknown, match: RegExp, what: string): Promise<void> {
  try {
    await fn();
  } catch (e) {
    const s = `${(e as Error).name}: ${(e as Error).message}`;
    if (!match.test(s)) throw new Error(`${what}: threw "${s}", expected ${match}`);
    return;
  }
  throw new Error(`${what}: did not throw (expected ${match})`);
}
