// Byte layouts of quantized matrices, shared by the codecs (src/format/quant.ts), the package
// writer, the expert cache and the WGSL kernels. A matrix is W (rows = out, cols = in), row-major;
// y = W x. colsPad = ceil(cols / 32) * 32 for the grouped kinds; padding elements are zero weights
// and kernels never read x beyond `cols`.
//
//   f32    rows*cols f32.
//   f16    rows*ceil(cols/2) u32 words, two halves per word (low half = even element).
//   q8     data: rows*colsPad/4 u32 words, element k of a row in byte k%4 of word k/4 (int8,
//          two's complement); then scales: rows*(colsPad/32) f16, symmetric: scale = absmax/127.
//   q4     data: rows*colsPad/8 u32 words, element k in bits 4*(k%8) of word k/8, stored as
//          nibble = q + 8 (q in [-7, 7]); then scales: rows*(colsPad/32) f16, scale = absmax/7.
//   mxfp4  data: same nibble order as q4 (these are exactly the bytes of HF's `*_blocks`), each
//          nibble an FP4 E2M1 code; then scales: rows*(colsPad/32) u8 E8M0 (2^(s-127)).
// The scale section starts right after the data (data is always a whole number of u32 words) and
// is zero-padded to a multiple of 4 bytes, so the whole matrix is a u32 array.

export type QuantKind = 'f32' | 'f16' | 'q8' | 'q4' | 'mxfp4';

export const QUANT_KINDS: QuantKind[] = ['f32', 'f16', 'q8', 'q4', 'mxfp4'];

export const GROUP = 32;

/** GPU copies and bindings start at multiples of this. */
export const ALIGN = 256;

export function alignUp(n: number, a = ALIGN): number {
  return Math.ceil(n / a) * a;
}

export function colsPadded(kind: QuantKind, cols: number): number {
  if (kind === 'f32') return cols;
  if (kind === 'f16') return Math.ceil(cols / 2) * 2;
  return Math.ceil(cols / GROUP) * GROUP;
}

/** Bytes of the data section (whole u32 words). */
export function dataBytes(kind: QuantKind, rows: number, cols: number): number {
  const cp = colsPadded(kind, cols);
  switch (kind) {
    case 'f32':
      return rows * cols * 4;
    case 'f16':
      return rows * cp * 2;
    case 'q8':
      return rows * cp;
    case 'q4':
    case 'mxfp4':
      return (rows * cp) / 2;
  }
}

/** Bytes of the scale section, padded to 4. */
export function scaleBytes(kind: QuantKind, rows: number, cols: number): number {
  const groups = rows * (colsPadded(kind, cols) / GROUP);
  if (kind === 'q8' || kind === 'q4') return Math.ceil((groups * 2) / 4) * 4;
  if (kind === 'mxfp4') return Math.ceil(groups / 4) * 4;
  return 0;
}

export function matrixBytes(kind: QuantKind, rows: number, cols: number): number {
  return dataBytes(kind, rows, cols) + scaleBytes(kind, rows, cols);
}

/** Where one tensor sits inside an expert blob (same for every expert of a model). */
export interface BlobSection {
  /** byte offset inside the blob, a multiple of ALIGN */
  offset: number;
  bytes: number;
  quant: QuantKind;
  /** [rows, cols] for matrices, [n] for vectors (always f32) */
  shape: number[];
}

/** Layout of one expert blob: gate, up, down matrices, then optional f32 biases. */
export interface ExpertLayout {
  gate: BlobSection;
  up: BlobSection;
  down: BlobSection;
  gate_bias?: BlobSection;
  up_bias?: BlobSection;
  down_bias?: BlobSection;
  /** total blob bytes (a multiple of ALIGN) */
  bytes: number;
}

/** Compute the expert blob layout for D, I, the expert quant kind and whether biases exist. */
export function expertLayout(kind: QuantKind, D: number, I: number, biases: boolean): ExpertLayout {
  let off = 0;
  const sec = (quant: QuantKind, shape: number[]): BlobSection => {
    const bytes = shape.length === 2 ? matrixBytes(quant, shape[0], shape[1]) : shape[0] * 4;
    const s = { offset: off, bytes, quant, shape };
    off = alignUp(off + bytes);
    return s;
  };
  const layout: Partial<ExpertLayout> = {
    gate: sec(kind, [I, D]),
    up: sec(kind, [I, D]),
    down: sec(kind, [D, I]),
  };
  if (biases) {
    layout.gate_bias = sec('f32', [I]);
    layout.up_bias = sec('f32', [I]);
    layout.down_bias = sec('f32', [D]);
  }
  layout.bytes = off;
  return layout as ExpertLayout;
}

/** A tensor in packed form, ready for a GPU upload or a CPU dequant. */
export interface PackedTensor {
  quant: QuantKind;
  /** [rows, cols] or [n] */
  shape: number[];
  data: Uint8Array;
}

/**
 * The weights as the engine consumes them: dense tensors by canonical name ("embed_tokens",
 * "final_norm", "lm_head", "layers.{L}.{field}"), and one blob per expert in ExpertLayout.
 * Implemented by a package on disk / in IndexedDB and by an HF checkpoint packed in memory.
 */
export interface PackedModel {
  readonly spec: import('./spec.ts').ModelSpec;
  readonly expertLayout: ExpertLayout;
  /** names of the dense tensors present */
  denseNames(): string[];
  dense(name: string): Promise<PackedTensor>;
  expertBlob(layer: number, expert: number): Promise<Uint8Array>;
}
