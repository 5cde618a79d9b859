// Element decoders for the dtypes checkpoints use: f32, f16, bf16, FP8 e4m3 (with 128x128 block
// scales), MXFP4 (E2M1 nibbles with E8M0 group scales). Everything decodes to f32.

/** f16 bits -> f32 value (exact). */
export function f16ToF32(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

const f32buf = new Float32Array(1);
const u32buf = new Uint32Array(f32buf.buffer);

/** f32 -> f16 bits, round to nearest even; saturates to ±65504 instead of producing Inf. */
export function f32ToF16(v: number): number {
  f32buf[0] = v;
  const x = u32buf[0];
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  let mant = x & 0x7fffff;
  if (exp === 0xff) return mant ? sign | 0x7e00 : sign | 0x7bff;
  let e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7bff;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let half = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && half & 1)) half++;
  if ((half & 0x7fff) >= 0x7c00) return sign | 0x7bff;
  return sign | half;
}

/** bf16 bits -> f32 value (exact). */
export function bf16ToF32(b: number): number {
  u32buf[0] = (b & 0xffff) << 16;
  return f32buf[0];
}

/** float8_e4m3fn -> f32: sign 1, exponent 4 (bias 7), mantissa 3, no Inf, 0x7f/0xff NaN. */
export function fp8e4m3ToF32(b: number): number {
  const s = b & 0x80 ? -1 : 1;
  const e = (b >> 3) & 0xf;
  const m = b & 7;
  if (e === 15 && m === 7) return NaN;
  if (e === 0) return s * 2 ** -6 * (m / 8);
  return s * 2 ** (e - 7) * (1 + m / 8);
}

/** FP4 E2M1 value of each nibble (low 3 bits magnitude, bit 3 sign). */
export const FP4_E2M1 = [0, 0.5, 1, 1.5, 2, 3, 4, 6, -0, -0.5, -1, -1.5, -2, -3, -4, -6];

/** E8M0 scale byte -> 2^(s-127). */
export function e8m0ToF32(s: number): number {
  return 2 ** (s - 127);
}

export type SafetensorsDtype = 'F32' | 'F16' | 'BF16' | 'F8_E4M3' | 'U8' | 'I8' | 'I32' | 'F64';

export const DTYPE_BYTES: Record<SafetensorsDtype, number> = {
  F32: 4,
  F16: 2,
  BF16: 2,
  F8_E4M3: 1,
  U8: 1,
  I8: 1,
  I32: 4,
  F64: 8,
};

/** Decode raw little-endian bytes of a float dtype into f32. */
export function decodeToF32(dtype: SafetensorsDtype, bytes: Uint8Array): Float32Array {
  const n = bytes.byteLength / DTYPE_BYTES[dtype];
  const out = new Float32Array(n);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  switch (dtype) {
    case 'F32':
      for (let i = 0; i < n; i++) out[i] = dv.getFloat32(i * 4, true);
      break;
    case 'F64':
      for (let i = 0; i < n; i++) out[i] = dv.getFloat64(i * 8, true);
      break;
    case 'F16':
      for (let i = 0; i < n; i++) out[i] = f16ToF32(dv.getUint16(i * 2, true));
      break;
    case 'BF16':
      for (let i = 0; i < n; i++) out[i] = bf16ToF32(dv.getUint16(i * 2, true));
      break;
    case 'F8_E4M3':
      for (let i = 0; i < n; i++) out[i] = fp8e4m3ToF32(bytes[i]);
      break;
    case 'U8':
      for (let i = 0; i < n; i++) out[i] = bytes[i];
      break;
    case 'I8':
      for (let i = 0; i < n; i++) out[i] = dv.getInt8(i);
      break;
    case 'I32':
      for (let i = 0; i < n; i++) out[i] = dv.getInt32(i * 4, true);
      break;
  }
  return out;
}

/**
 * FP8 block dequant: W[i, j] = fp8(Wq[i, j]) * scale_inv[floor(i/B), floor(j/B)].
 * weight: [rows, cols] f32 already decoded from fp8; scales: [ceil(rows/B), ceil(cols/B)].
 */
export function applyBlockScales(
  weight: Float32Array, // (rows, cols)
  rows: number,
  cols: number,
  scales: Float32Array, // (ceil(rows/B), ceil(cols/B))
  block: number,
): Float32Array {
  const sc = Math.ceil(cols / block);
  for (let i = 0; i < rows; i++) {
    const srow = Math.floor(i / block) * sc;
    for (let j = 0; j < cols; j++) weight[i * cols + j] *= scales[srow + Math.floor(j / block)];
  }
  return weight;
}

/**
 * MXFP4 dequant of one [rows, G, 16] block tensor with [rows, G] E8M0 scales into [rows, G*32].
 * Byte b of group g holds element 32g+2b in its low nibble and 32g+2b+1 in its high nibble.
 */
export function dequantMxfp4(
  blocks: Uint8Array, // (rows, G, 16)
  scales: Uint8Array, // (rows, G)
  rows: number,
  groups: number,
): Float32Array {
  const cols = groups * 32;
  const out = new Float32Array(rows * cols); // (rows, G*32)
  for (let r = 0; r < rows; r++) {
    for (let g = 0; g < groups; g++) {
      const sc = e8m0ToF32(scales[r * groups + g]);
      const base = (r * groups + g) * 16;
      for (let b = 0; b < 16; b++) {
        const byte = blocks[base + b];
        out[r * cols + g * 32 + 2 * b] = FP4_E2M1[byte & 15] * sc;
        out[r * cols + g * 32 + 2 * b + 1] = FP4_E2M1[byte >> 4] * sc;
      }
    }
  }
  return out;
}
