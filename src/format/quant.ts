// Quantization codecs: f32 <-> the packed byte layouts of src/format/quant-layout.ts (f32, f16, q8,
// q4, mxfp4), with the CPU dequant every backend can fall back to.
//
//   q8    per row, per group of 32 columns: s = f16(absmax / 127), q = clamp(round(w / s), -127, 127)
//         (round half to even; NaN weights become 0)
//   q4    same with 7: s = f16(absmax / 7), q in [-7, 7], stored as nibble q + 8
//   mxfp4 s = 2^e with the smallest e such that absmax / 2^e <= 6, code = nearest FP4 E2M1 value
//   f16   round to nearest even, saturating at ±65504
// q is computed against the f16-rounded scale, so dequant(quant(w)) errs by at most s/2 per element
// (q8/q4) and by at most 2^e (mxfp4, half the widest E2M1 step). Padding columns (cols..colsPad)
// hold zero weights: q = 0 (nibble 8 for q4, code 0 for mxfp4, 0 for q8/f16).
//
// Bytes are assembled one by one (little-endian, as WGSL reads u32 words), so the codecs do not
// depend on the host's endianness.

import { FP4_E2M1, e8m0ToF32, f16ToF32, f32ToF16 } from './dtypes.ts';
import { GROUP, colsPadded, dataBytes, matrixBytes, type PackedTensor, type QuantKind } from './quant-layout.ts';

/** f16 bits -> f32 value, all 65536 of them (256 KiB, built on first use of this module). */
const F16 = Float32Array.from({ length: 65536 }, (_, h) => f16ToF32(h));

/** Quantize a row-major (rows, cols) f32 matrix into `kind`'s byte layout (matrixBytes bytes). */
export function quantizeMatrix(kind: QuantKind, w: Float32Array, rows: number, cols: number): Uint8Array {
  if (w.length !== rows * cols) throw new RangeError(`quantizeMatrix: ${w.length} values for a ${rows}x${cols} matrix`);
  const out = new Uint8Array(matrixBytes(kind, rows, cols));
  switch (kind) {
    case 'f32':
      encodeF32(w, out);
      break;
    case 'f16':
      encodeF16(w, rows, cols, out);
      break;
    case 'q8':
    case 'q4':
      encodeSymmetric(kind, w, rows, cols, out);
      break;
    case 'mxfp4':
      encodeMxfp4(w, rows, cols, out);
      break;
  }
  return out;
}

/** Dequantize `kind`'s byte layout back into a row-major (rows, cols) f32 matrix. */
export function dequantizeMatrix(kind: QuantKind, bytes: Uint8Array, rows: number, cols: number): Float32Array {
  const need = matrixBytes(kind, rows, cols);
  if (bytes.byteLength < need) throw new RangeError(`dequantizeMatrix: ${kind} ${rows}x${cols} needs ${need} bytes, got ${bytes.byteLength}`);
  const out = new Float32Array(rows * cols); // (rows, cols)
  switch (kind) {
    case 'f32':
      decodeF32(bytes, out);
      break;
    case 'f16': {
      const cp = colsPadded(kind, cols);
      for (let r = 0; r < rows; r++)
        for (let k = 0; k < cols; k++) {
          const i = 2 * (r * cp + k);
          out[r * cols + k] = F16[bytes[i] | (bytes[i + 1] << 8)];
        }
      break;
    }
    case 'q8':
    case 'q4':
      decodeSymmetric(kind, bytes, rows, cols, out);
      break;
    case 'mxfp4':
      decodeMxfp4(bytes, rows, cols, out);
      break;
  }
  return out;
}

/** Pack a tensor: matrices ([rows, cols]) in `kind`, vectors ([n]) always f32. */
export function packTensor(kind: QuantKind, w: Float32Array, shape: number[]): PackedTensor {
  if (shape.length === 1) {
    if (w.length !== shape[0]) throw new RangeError(`packTensor: ${w.length} values for shape [${shape[0]}]`);
    return { quant: 'f32', shape: [...shape], data: quantizeMatrix('f32', w, 1, shape[0]) };
  }
  if (shape.length !== 2) throw new RangeError(`packTensor: shape ${JSON.stringify(shape)} is neither [n] nor [rows, cols]`);
  return { quant: kind, shape: [...shape], data: quantizeMatrix(kind, w, shape[0], shape[1]) };
}

/** A packed tensor back to f32 in its logical shape (padding dropped). */
export function dequantTensor(t: PackedTensor): Float32Array {
  const [rows, cols] = t.shape.length === 1 ? [1, t.shape[0]] : t.shape;
  if (t.shape.length === 1 && t.quant !== 'f32') throw new RangeError(`dequantTensor: vectors are stored as f32, got ${t.quant}`);
  return dequantizeMatrix(t.quant, t.data, rows, cols);
}

// ---- f32 / f16 ------------------------------------------------------------------------------

function encodeF32(w: Float32Array, out: Uint8Array): void {
  const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
  for (let i = 0; i < w.length; i++) dv.setFloat32(i * 4, w[i], true);
}

function decodeF32(bytes: Uint8Array, out: Float32Array): void {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < out.length; i++) out[i] = dv.getFloat32(i * 4, true);
}

function encodeF16(w: Float32Array, rows: number, cols: number, out: Uint8Array): void {
  const cp = colsPadded('f16', cols);
  for (let r = 0; r < rows; r++)
    for (let k = 0; k < cols; k++) {
      const h = f32ToF16(w[r * cols + k]);
      const i = 2 * (r * cp + k);
      out[i] = h & 0xff;
      out[i + 1] = h >> 8;
    }
}

// ---- q8 / q4: symmetric int, groups of 32, f16 scales -----------------------------------------

/** Adding then subtracting 1.5 * 2^52 rounds a double to the nearest integer, ties to even. */
const ROUND = 6755399441055744;

/** clamp(round-half-even(x), -qmax, qmax); NaN -> 0. */
function code(x: number, qmax: number): number {
  const v = x + ROUND - ROUND;
  return v >= -qmax ? (v <= qmax ? v : qmax) : v < -qmax ? -qmax : 0;
}

function encodeSymmetric(kind: 'q8' | 'q4', w: Float32Array, rows: number, cols: number, out: Uint8Array): void {
  const cp = colsPadded(kind, cols);
  const G = cp / GROUP;
  const qmax = kind === 'q8' ? 127 : 7;
  const sBase = dataBytes(kind, rows, cols);
  if (kind === 'q4') out.fill(0x88, 0, sBase); // every nibble q = 0 (padding stays there)
  for (let r = 0; r < rows; r++) {
    const row = r * cols;
    for (let g = 0; g < G; g++) {
      const k0 = g * GROUP;
      const n = Math.min(cols, k0 + GROUP) - k0;
      const src = row + k0;
      let amax = 0;
      for (let k = 0; k < n; k++) {
        const a = Math.abs(w[src + k]);
        if (a > amax) amax = a;
      }
      const s16 = f32ToF16(amax / qmax);
      const s = F16[s16];
      const inv = s > 0 ? 1 / s : 0;
      const si = sBase + 2 * (r * G + g);
      out[si] = s16 & 0xff;
      out[si + 1] = s16 >> 8;
      const e0 = r * cp + k0; // first element of the group in the padded matrix (a multiple of 32)
      if (kind === 'q8') {
        for (let k = 0; k < n; k++) out[e0 + k] = code(w[src + k] * inv, 127) & 0xff;
      } else if (n === GROUP) {
        for (let k = 0, b = e0 >> 1; k < GROUP; k += 2, b++) out[b] = (code(w[src + k] * inv, 7) + 8) | ((code(w[src + k + 1] * inv, 7) + 8) << 4);
      } else {
        for (let k = 0; k < n; k++) {
          const b = (e0 + k) >> 1;
          const nib = code(w[src + k] * inv, 7) + 8;
          out[b] = k & 1 ? (out[b] & 0x0f) | (nib << 4) : (out[b] & 0xf0) | nib;
        }
      }
    }
  }
}

function decodeSymmetric(kind: 'q8' | 'q4', bytes: Uint8Array, rows: number, cols: number, out: Float32Array): void {
  const cp = colsPadded(kind, cols);
  const G = cp / GROUP;
  const sBase = dataBytes(kind, rows, cols);
  for (let r = 0; r < rows; r++) {
    for (let g = 0; g < G; g++) {
      const si = sBase + 2 * (r * G + g);
      const s = F16[bytes[si] | (bytes[si + 1] << 8)];
      const k1 = Math.min(cols, (g + 1) * GROUP);
      for (let k = g * GROUP; k < k1; k++) {
        const idx = r * cp + k;
        let q: number;
        if (kind === 'q8') q = (bytes[idx] << 24) >> 24; // sign-extend int8
        else q = ((bytes[idx >> 1] >> ((idx & 1) * 4)) & 15) - 8;
        out[r * cols + k] = q * s;
      }
    }
  }
}

// ---- mxfp4: FP4 E2M1 codes, E8M0 power-of-two scales -------------------------------------------

/** Nearest E2M1 code (sign in bit 3) of v, which must already be scaled into [-6, 6]. */
export function nearestE2M1(v: number): number {
  const a = Math.abs(v);
  // midpoints between 0, .5, 1, 1.5, 2, 3, 4, 6 (ties go to the even code)
  const m = a <= 0.25 ? 0 : a < 0.75 ? 1 : a <= 1.25 ? 2 : a < 1.75 ? 3 : a <= 2.5 ? 4 : a < 3.5 ? 5 : a <= 5 ? 6 : 7;
  return m === 0 ? 0 : v < 0 ? m | 8 : m;
}

/** E8M0 exponent byte for a group with this absmax: smallest e with absmax / 2^e <= 6. */
export function mxfp4ScaleByte(amax: number): number {
  if (!(amax > 0)) return 0;
  let e = Math.ceil(Math.log2(amax / 6));
  if (amax / 2 ** e > 6) e++;
  else if (amax / 2 ** (e - 1) <= 6) e--;
  return Math.max(0, Math.min(254, e + 127));
}

function encodeMxfp4(w: Float32Array, rows: number, cols: number, out: Uint8Array): void {
  const cp = colsPadded('mxfp4', cols);
  const G = cp / GROUP;
  const sBase = dataBytes('mxfp4', rows, cols);
  for (let r = 0; r < rows; r++) {
    const row = r * cols;
    for (let g = 0; g < G; g++) {
      const k0 = g * GROUP;
      const k1 = Math.min(cols, k0 + GROUP);
      let amax = 0;
      for (let k = k0; k < k1; k++) amax = Math.max(amax, Math.abs(w[row + k]));
      const sb = mxfp4ScaleByte(amax);
      out[sBase + r * G + g] = sb;
      const inv = 1 / e8m0ToF32(sb);
      for (let k = k0; k < k1; k++) {
        const c = nearestE2M1(Math.max(-6, Math.min(6, w[row + k] * inv)));
        const idx = r * cp + k;
        out[idx >> 1] |= idx & 1 ? c << 4 : c;
      }
    }
  }
}

function decodeMxfp4(bytes: Uint8Array, rows: number, cols: number, out: Float32Array): void {
  const cp = colsPadded('mxfp4', cols);
  const G = cp / GROUP;
  const sBase = dataBytes('mxfp4', rows, cols);
  for (let r = 0; r < rows; r++) {
    for (let g = 0; g < G; g++) {
      const s = e8m0ToF32(bytes[sBase + r * G + g]);
      const k1 = Math.min(cols, (g + 1) * GROUP);
      for (let k = g * GROUP; k < k1; k++) {
        const idx = r * cp + k;
        out[r * cols + k] = FP4_E2M1[(bytes[idx >> 1] >> ((idx & 1) * 4)) & 15] * s;
      }
    }
  }
}

/**
 * Assemble an mxfp4 matrix from HF's raw `_blocks` (rows, G, 16) and `_scales` (rows, G) bytes:
 * the data section is the blocks verbatim (except that padding columns cols..G*32, if any, are
 * set to code 0 so they hold zero weights), the scale section the scales, zero-padded to 4 bytes.
 */
export function mxfp4FromHf(blocks: Uint8Array, scales: Uint8Array, rows: number, cols: number): Uint8Array {
  const G = colsPadded('mxfp4', cols) / GROUP;
  if (blocks.byteLength !== rows * G * 16 || scales.byteLength !== rows * G)
    throw new RangeError(`mxfp4FromHf: ${rows}x${cols} needs ${rows * G * 16} block bytes and ${rows * G} scale bytes, got ${blocks.byteLength} and ${scales.byteLength}`);
  const out = new Uint8Array(matrixBytes('mxfp4', rows, cols));
  out.set(blocks, 0);
  const cp = G * GROUP;
  if (cp !== cols)
    for (let r = 0; r < rows; r++)
      for (let k = cols; k < cp; k++) {
        const idx = r * cp + k;
        out[idx >> 1] &= idx & 1 ? 0x0f : 0xf0;
      }
  out.set(scales, dataBytes('mxfp4', rows, cols));
  return out;
}
