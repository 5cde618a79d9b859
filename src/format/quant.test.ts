// Codec round trips with error bounds, and the byte layout read back independently of the codec
// (through u32 words, as the WGSL kernels read it) for every kind in quant-layout.ts.

import { describe, expect, it } from 'vitest';
import { dequantMxfp4, f16ToF32, f32ToF16, FP4_E2M1 } from './dtypes.ts';
import { dequantTensor, dequantizeMatrix, mxfp4FromHf, mxfp4ScaleByte, nearestE2M1, packTensor, quantizeMatrix } from './quant.ts';
import { GROUP, QUANT_KINDS, colsPadded, dataBytes, matrixBytes, scaleBytes, type QuantKind } from './quant-layout.ts';

/** Deterministic pseudo-random values with a few outliers, like trained weights. */
function randomMatrix(rows: number, cols: number, seed: number, scale = 0.05): Float32Array {
  let s = seed >>> 0 || 1;
  const rnd = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  const w = new Float32Array(rows * cols);
  for (let i = 0; i < w.length; i++) {
    const g = Math.sqrt(-2 * Math.log(rnd() + 1e-12)) * Math.cos(2 * Math.PI * rnd());
    w[i] = g * scale * (rnd() < 0.01 ? 20 : 1);
  }
  return w;
}

/** The u32 words of a packed matrix, as a WGSL `array<u32>` sees them. */
function words(b: Uint8Array): Uint32Array {
  expect(b.byteLength % 4).toBe(0);
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return Uint32Array.from({ length: b.byteLength / 4 }, (_, i) => dv.getUint32(4 * i, true));
}

/** Independent decoder following the layout comment in quant-layout.ts word by word. */
function decodeByWords(kind: QuantKind, b: Uint8Array, rows: number, cols: number): Float32Array {
  const w = words(b);
  const cp = colsPadded(kind, cols);
  const G = cp / GROUP;
  const sw = dataBytes(kind, rows, cols) / 4; // first scale word
  const out = new Float32Array(rows * cols);
  const f32 = new Float32Array(w.buffer);
  for (let r = 0; r < rows; r++)
    for (let k = 0; k < cols; k++) {
      const e = r * cp + k;
      const gi = r * G + Math.floor(k / GROUP);
      let v: number;
      if (kind === 'f32') v = f32[e];
      else if (kind === 'f16') v = f16ToF32((w[e >> 1] >>> (16 * (e & 1))) & 0xffff);
      else if (kind === 'q8') {
        const q = ((w[e >> 2] >>> (8 * (e & 3))) << 24) >> 24;
        v = q * f16ToF32((w[sw + (gi >> 1)] >>> (16 * (gi & 1))) & 0xffff);
      } else if (kind === 'q4') {
        const q = ((w[e >> 3] >>> (4 * (e & 7))) & 15) - 8;
        v = q * f16ToF32((w[sw + (gi >> 1)] >>> (16 * (gi & 1))) & 0xffff);
      } else {
        const code = (w[e >> 3] >>> (4 * (e & 7))) & 15;
        v = FP4_E2M1[code] * 2 ** (((w[sw + (gi >> 2)] >>> (8 * (gi & 3))) & 0xff) - 127);
      }
      out[r * cols + k] = v;
    }
  return out;
}

const SHAPES: [number, number][] = [
  [1, 32],
  [3, 40],
  [5, 7],
  [16, 64],
  [9, 100],
  [2, 1],
];

describe('quantizeMatrix / dequantizeMatrix', () => {
  for (const kind of QUANT_KINDS) {
    for (const [rows, cols] of SHAPES) {
      it(`${kind} ${rows}x${cols}: size, layout read as u32 words, error bound`, () => {
        const w = randomMatrix(rows, cols, rows * 1000 + cols);
        const b = quantizeMatrix(kind, w, rows, cols);
        expect(b.byteLength).toBe(matrixBytes(kind, rows, cols));
        const d = dequantizeMatrix(kind, b, rows, cols);
        expect(Array.from(decodeByWords(kind, b, rows, cols))).toEqual(Array.from(d));
        for (let r = 0; r < rows; r++)
          for (let k = 0; k < cols; k++) {
            const i = r * cols + k;
            const err = Math.abs(d[i] - w[i]);
            if (kind === 'f32') expect(err).toBe(0);
            else if (kind === 'f16') expect(err).toBeLessThanOrEqual(Math.abs(w[i]) * 2 ** -11 + 2 ** -25);
            else {
              const g = Math.floor(k / GROUP);
              let amax = 0;
              for (let j = g * GROUP; j < Math.min(cols, g * GROUP + GROUP); j++) amax = Math.max(amax, Math.abs(w[r * cols + j]));
              if (kind === 'mxfp4') expect(err).toBeLessThanOrEqual(amax / 3 + 1e-12);
              else expect(err).toBeLessThanOrEqual((amax / (kind === 'q8' ? 127 : 7) / 2) * (1 + 2 ** -10) + 1e-12);
            }
          }
      });
    }
  }

  it('relative RMS error on Gaussian weights with outliers (measured: q8 1.1%, q4 15%, mxfp4 17%, f16 0.02%)', () => {
    const w = randomMatrix(64, 256, 7);
    const rms = (a: Float32Array) => Math.sqrt(a.reduce((s, x) => s + x * x, 0) / a.length);
    for (const [kind, bound] of [['q8', 0.015], ['q4', 0.17], ['f16', 3e-4], ['mxfp4', 0.19]] as const) {
      const d = dequantizeMatrix(kind, quantizeMatrix(kind, w, 64, 256), 64, 256);
      const diff = d.map((x, i) => x - w[i]);
      expect(rms(diff) / rms(w)).toBeLessThan(bound);
    }
  });

  it('quantizing already-quantized values is lossless (q8, q4, mxfp4, f16)', () => {
    for (const kind of ['q8', 'q4', 'mxfp4', 'f16'] as const) {
      const w = randomMatrix(4, 70, 11);
      const once = dequantizeMatrix(kind, quantizeMatrix(kind, w, 4, 70), 4, 70);
      const twice = dequantizeMatrix(kind, quantizeMatrix(kind, once, 4, 70), 4, 70);
      expect(Array.from(twice)).toEqual(Array.from(once));
    }
  });

  it('all-zero groups give zero scales and exact zeros; padding holds zero weights', () => {
    const rows = 2;
    const cols = 40; // padded to 64: 24 padding columns per row
    const w = new Float32Array(rows * cols);
    w[5] = 0.5; // row 0, group 0; group 1 of row 0 and all of row 1 stay zero
    for (const kind of ['q8', 'q4'] as const) {
      const b = quantizeMatrix(kind, w, rows, cols);
      const d = dequantizeMatrix(kind, b, rows, cols);
      for (let i = 0; i < w.length; i++) expect(d[i]).toBe(i === 5 ? d[5] : 0);
      expect(d[5]).toBeCloseTo(0.5, 3);
      const base = dataBytes(kind, rows, cols);
      const scales = Array.from({ length: 4 }, (_, g) => b[base + 2 * g] | (b[base + 2 * g + 1] << 8));
      expect(scales.slice(1)).toEqual([0, 0, 0]);
      const want = 0.5 / (kind === 'q8' ? 127 : 7);
      expect(Math.abs(f16ToF32(scales[0]) - want)).toBeLessThanOrEqual(want * 2 ** -11);
      // padding elements (k = 40..63) are q = 0: byte 0 (q8) or nibble 8 (q4)
      for (let r = 0; r < rows; r++)
        for (let k = cols; k < 64; k++) {
          const e = r * 64 + k;
          if (kind === 'q8') expect(b[e]).toBe(0);
          else expect((b[e >> 1] >> ((e & 1) * 4)) & 15).toBe(8);
        }
    }
  });

  it('q4 bytes of a known row: nibble = q + 8, element k in bits 4*(k%8) of word k/8', () => {
    const w = Float32Array.from({ length: 32 }, (_, k) => (k - 16) / 16 * 7 * 0.25); // absmax 1.75 at k=0
    const b = quantizeMatrix('q4', w, 1, 32);
    const s = f16ToF32(b[16] | (b[17] << 8));
    expect(s).toBe(0.25);
    const wd = words(b);
    for (let k = 0; k < 32; k++) {
      const x = w[k] / 0.25;
      const q = Math.abs(x - Math.trunc(x)) === 0.5 ? 2 * Math.round(x / 2) : Math.round(x); // half to even (k = 8, 24)
      expect((wd[k >> 3] >>> (4 * (k & 7))) & 15).toBe(q + 8);
    }
    expect(scaleBytes('q4', 1, 32)).toBe(4);
  });

  it('rejects a value count that does not match the shape', () => {
    expect(() => quantizeMatrix('q4', new Float32Array(10), 3, 4)).toThrow(RangeError);
    expect(() => dequantizeMatrix('q8', new Uint8Array(4), 3, 40)).toThrow(RangeError);
  });
});

describe('mxfp4', () => {
  it('nearest E2M1 code with ties to even', () => {
    const cases: [number, number][] = [[0, 0], [0.25, 0], [0.26, 1], [0.75, 2], [1.25, 2], [1.75, 4], [2.5, 4], [3.5, 6], [5, 6], [5.1, 7], [6, 7], [-6, 15], [-0.5, 9], [-0.1, 0]];
    for (const [v, c] of cases) expect(nearestE2M1(v), `v=${v}`).toBe(c);
  });

  it('scale exponent is the smallest with absmax / 2^e <= 6', () => {
    for (const amax of [6, 6.0001, 3, 12, 0.75, 1e-3, 1e5]) {
      const e = mxfp4ScaleByte(amax) - 127;
      expect(amax / 2 ** e).toBeLessThanOrEqual(6);
      expect(amax / 2 ** (e - 1)).toBeGreaterThan(6);
    }
    expect(mxfp4ScaleByte(0)).toBe(0);
  });

  it('HF blocks/scales kept as is decode as the HF dequantizer does (dtypes.dequantMxfp4)', () => {
    const rows = 6;
    const cols = 80; // G = 3, 16 padding columns
    const G = 3;
    let s = 12345;
    const rnd = () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) >>> 24);
    const blocks = Uint8Array.from({ length: rows * G * 16 }, rnd);
    const scales = Uint8Array.from({ length: rows * G }, () => 120 + (rnd() % 12));
    const packed = mxfp4FromHf(blocks, scales, rows, cols);
    expect(packed.byteLength).toBe(matrixBytes('mxfp4', rows, cols));
    // nibbles verbatim, except padding columns 80..95, which become code 0 (zero weights)
    for (let r = 0; r < rows; r++)
      for (let k = 0; k < G * 32; k++) {
        const e = r * G * 32 + k;
        const nib = (x: Uint8Array) => (x[e >> 1] >> ((e & 1) * 4)) & 15;
        expect(nib(packed)).toBe(k < cols ? nib(blocks) : 0);
      }
    const ref = dequantMxfp4(blocks, scales, rows, G); // (rows, G*32)
    const got = dequantizeMatrix('mxfp4', packed, rows, cols);
    for (let r = 0; r < rows; r++) for (let k = 0; k < cols; k++) expect(got[r * cols + k]).toBe(ref[r * G * 32 + k]);
  });
});

describe('packTensor / dequantTensor', () => {
  it('vectors are always f32; matrices take the requested kind', () => {
    const v = Float32Array.from([1, -2, 3.5]);
    const pv = packTensor('q4', v, [3]);
    expect(pv.quant).toBe('f32');
    expect(Array.from(dequantTensor(pv))).toEqual([1, -2, 3.5]);
    const m = randomMatrix(3, 33, 5);
    const pm = packTensor('q8', m, [3, 33]);
    expect(pm.quant).toBe('q8');
    expect(pm.data.byteLength).toBe(matrixBytes('q8', 3, 33));
    expect(dequantTensor(pm).length).toBe(99);
  });

  it('f16 saturates instead of overflowing', () => {
    expect(f16ToF32(f32ToF16(1e6))).toBe(65504);
    const d = dequantizeMatrix('f16', quantizeMatrix('f16', Float32Array.from([1e6, -1e6, 1]), 1, 3), 1, 3);
    expect(Array.from(d)).toEqual([65504, -65504, 1]);
  });
});
