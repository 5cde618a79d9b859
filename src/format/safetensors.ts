// Streaming safetensors reader. Only the header is parsed up front; tensor bytes are read on
// demand through a ByteSource (a Node file handle, a Blob, an HTTP range reader), so a multi-GB
// file is never held in memory.
//
// File layout: u64 little-endian header length N, N bytes of JSON header
// {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__"?: {...}}, then the data
// section; offsets are relative to the start of the data section.

import { CheckpointError } from './errors.ts';
import { DTYPE_BYTES, type SafetensorsDtype } from './dtypes.ts';

export interface ByteSource {
  /** a name for error messages (file path or URL) */
  readonly name: string;
  readonly size: number;
  read(offset: number, length: number): Promise<Uint8Array>;
}

export interface TensorInfo {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  /** absolute byte offset in the file */
  offset: number;
  bytes: number;
}

const MAX_HEADER = 100 * 1024 * 1024;

export class SafetensorsFile {
  readonly source: ByteSource;
  readonly tensors: Map<string, TensorInfo>;
  readonly metadata: Record<string, string>;

  private constructor(source: ByteSource, tensors: Map<string, TensorInfo>, metadata: Record<string, string>) {
    this.source = source;
    this.tensors = tensors;
    this.metadata = metadata;
  }

  static async open(source: ByteSource): Promise<SafetensorsFile> {
    const file = source.name;
    if (source.size < 8) throw new CheckpointError(file, `file is ${source.size} bytes, too short for a safetensors header (truncated?)`);
    const lenBytes = await source.read(0, 8);
    const headerLen = Number(new DataView(lenBytes.buffer, lenBytes.byteOffset, 8).getBigUint64(0, true));
    if (headerLen <= 0 || headerLen > MAX_HEADER || 8 + headerLen > source.size)
      throw new CheckpointError(file, `header length ${headerLen} does not fit a ${source.size}-byte file (truncated or not safetensors)`);
    const headerBytes = await source.read(8, headerLen);
    let header: Record<string, unknown>;
    try {
      header = JSON.parse(new TextDecoder().decode(headerBytes));
    } catch (e) {
      throw new CheckpointError(file, `header is not valid JSON (${(e as Error).message})`);
    }
    if (typeof header !== 'object' || header === null || Array.isArray(header))
      throw new CheckpointError(file, 'header is not a JSON object');
    const dataStart = 8 + headerLen;
    const tensors = new Map<string, TensorInfo>();
    let metadata: Record<string, string> = {};
    const ranges: [number, number, string][] = [];
    for (const [name, raw] of Object.entries(header)) {
      if (name === '__metadata__') {
        metadata = (raw ?? {}) as Record<string, string>;
        continue;
      }
      const info = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
      if (typeof info.dtype !== 'string' || !(info.dtype in DTYPE_BYTES))
        throw new CheckpointError(file, `unsupported dtype ${JSON.stringify(info.dtype)} (supported: ${Object.keys(DTYPE_BYTES).join(', ')})`, name);
      const dtype = info.dtype as SafetensorsDtype;
      if (!Array.isArray(info.shape) || !info.shape.every((d) => Number.isInteger(d) && d >= 0))
        throw new CheckpointError(file, `shape ${JSON.stringify(info.shape)} is not a list of non-negative integers`, name);
      const shape = info.shape as number[];
      const off = info.data_offsets;
      if (!Array.isArray(off) || off.length !== 2 || !off.every((d) => Number.isInteger(d) && d >= 0) || off[1] < off[0])
        throw new CheckpointError(file, `data_offsets ${JSON.stringify(off)} are invalid`, name);
      const count = shape.reduce((a, b) => a * b, 1);
      const bytes = off[1] - off[0];
      if (bytes !== count * DTYPE_BYTES[dtype])
        throw new CheckpointError(file, `header says ${bytes} bytes but ${dtype}${JSON.stringify(shape)} needs ${count * DTYPE_BYTES[dtype]}`, name);
      if (dataStart + off[1] > source.size)
        throw new CheckpointError(file, `tensor ends at byte ${dataStart + off[1]} but the file has ${source.size} bytes (truncated download?)`, name);
      tensors.set(name, { name, dtype, shape, offset: dataStart + off[0], bytes });
      ranges.push([off[0], off[1], name]);
    }
    ranges.sort((a, b) => a[0] - b[0]);
    for (let i = 1; i < ranges.length; i++)
      if (ranges[i][0] < ranges[i - 1][1])
        throw new CheckpointError(file, `overlaps tensor "${ranges[i - 1][2]}" (header lies about offsets)`, ranges[i][2]);
    return new SafetensorsFile(source, tensors, metadata);
  }

  /** Raw bytes of a whole tensor. */
  async readRaw(name: string): Promise<Uint8Array> {
    const t = this.tensors.get(name);
    if (!t) throw new CheckpointError(this.source.name, 'no such tensor', name);
    return this.source.read(t.offset, t.bytes);
  }

  /** Raw bytes of the i-th slice along dim 0 (e.g. one expert of a fused [E, ...] tensor). */
  async readSlice0(name: string, index: number): Promise<Uint8Array> {
    const t = this.tensors.get(name);
    if (!t) throw new CheckpointError(this.source.name, 'no such tensor', name);
    const n0 = t.shape[0];
    if (index < 0 || index >= n0) throw new CheckpointError(this.source.name, `slice ${index} out of range [0, ${n0})`, name);
    const per = t.bytes / n0;
    return this.source.read(t.offset + index * per, per);
  }
}
