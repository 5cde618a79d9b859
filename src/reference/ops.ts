// Plain-loop building blocks of the CPU reference. Every GPU kernel is tested against these.
// All arithmetic is f32-stored / f64-accumulated: the reference is the oracle, so it favours
// accuracy over speed. Numerically careful like the kernels: max-subtracted softmax, overflow-safe
// sigmoid.

import type { RopeSpec } from '../format/spec.ts';

/** y = W x (+ b). W: (rows, cols) row-major, x: (cols) -> (rows). */
export function matvec(W: Float32Array, x: Float32Array, rows: number, cols: number, bias?: Float32Array): Float32Array {
  const y = new Float32Array(rows); // (rows)
  for (let r = 0; r < rows; r++) {
    let acc = 0;
    const off = r * cols;
    for (let c = 0; c < cols; c++) acc += W[off + c] * x[c];
    y[r] = bias ? acc + bias[r] : acc;
  }
  return y;
}

/** RMSNorm over x[offset .. offset+n) in place-free form: y = w * x / sqrt(mean(x^2) + eps). */
export function rmsnorm(x: Float32Array, w: Float32Array, eps: number, offset = 0, n = x.length, out: Float32Array = new Float32Array(n), outOffset = 0): Float32Array {
  let ss = 0;
  for (let i = 0; i < n; i++) ss += x[offset + i] * x[offset + i];
  const inv = 1 / Math.sqrt(ss / n + eps);
  for (let i = 0; i < n; i++) out[outOffset + i] = w[i] * (x[offset + i] * inv);
  return out;
}

/** Overflow-safe logistic function. */
export function sigmoid(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

export function silu(x: number): number {
  return x * sigmoid(x);
}

/** Softmax of a list with max subtraction. */
export function softmax(xs: ArrayLike<number>): Float64Array {
  let m = -Infinity;
  for (let i = 0; i < xs.length; i++) m = Math.max(m, xs[i]);
  const out = new Float64Array(xs.length);
  let s = 0;
  for (let i = 0; i < xs.length; i++) {
    out[i] = Math.exp(xs[i] - m);
    s += out[i];
  }
  for (let i = 0; i < xs.length; i++) out[i] /= s;
  return out;
}

/** Indices of the k largest values; ties broken by the lower index (as torch.topk on CPU does in practice). */
export function topk(xs: ArrayLike<number>, k: number): number[] {
  const idx = Array.from({ length: xs.length }, (_, i) => i);
  idx.sort((a, b) => xs[b] - xs[a] || a - b);
  return idx.slice(0, k);
}

// ---------------------------------------------------------------------------------------------
// RoPE (NeoX / rotate_half pairs (i, i + r/2) within the first r = rotary_dim dims of each head)

export interface RopeTable {
  rotaryDim: number;
  /** (rotaryDim/2) inverse frequencies */
  invFreq: Float64Array;
  /** multiplier on cos and sin (YaRN attention factor; 1 otherwise) */
  scale: number;
}

/** Inverse frequencies, with YaRN when configured (no truncation when `truncate` is false). */
export function ropeTable(rope: RopeSpec): RopeTable {
  const r = rope.rotary_dim;
  const half = r / 2;
  const invFreq = new Float64Array(half);
  // HF computes base^(2i/r) in f32; round through f32 to match.
  for (let i = 0; i < half; i++) invFreq[i] = Math.fround(1 / Math.fround(rope.theta ** ((2 * i) / r)));
  let scale = 1;
  if (rope.scaling.type === 'yarn') {
    const s = rope.scaling;
    const L0 = s.original_max_position_embeddings;
    const corr = (nrot: number) => (r * Math.log(L0 / (nrot * 2 * Math.PI))) / (2 * Math.log(rope.theta));
    let low = corr(s.beta_fast);
    let high = corr(s.beta_slow);
    if (s.truncate) {
      low = Math.floor(low);
      high = Math.ceil(high);
    }
    low = Math.max(low, 0);
    high = Math.min(high, r - 1);
    if (low === high) high += 0.001;
    for (let i = 0; i < half; i++) {
      const posFreq = Math.fround(rope.theta ** ((2 * i) / r));
      const extrap = 1 / posFreq;
      const interp = 1 / (s.factor * posFreq);
      const ramp = Math.min(1, Math.max(0, (i - low) / (high - low)));
      const extrapFactor = 1 - ramp;
      invFreq[i] = Math.fround(interp * (1 - extrapFactor) + extrap * extrapFactor);
    }
    scale = s.attention_factor;
  }
  return { rotaryDim: r, invFreq, scale };
}

/** Rotate `nHeads` heads of size hd stored contiguously in x (in place) for position pos. */
export function applyRope(x: Float32Array, nHeads: number, hd: number, pos: number, t: RopeTable): void {
  const half = t.rotaryDim / 2;
  for (let i = 0; i < half; i++) {
    const ang = Math.fround(pos * t.invFreq[i]);
    const c = Math.fround(Math.cos(ang) * t.scale);
    const s = Math.fround(Math.sin(ang) * t.scale);
    for (let h = 0; h < nHeads; h++) {
      const o = h * hd;
      const a = x[o + i];
      const b = x[o + i + half];
      x[o + i] = a * c - b * s;
      x[o + i + half] = b * c + a * s;
    }
  }
}
