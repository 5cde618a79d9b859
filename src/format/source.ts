// Where checkpoint and package files come from. src/format knows only this interface; Node's file
// system (src/store/node-dir.ts), the browser's IndexedDB and HTTP implement it.

import type { ByteSource } from './safetensors.ts';

export interface DirSource {
  /** a name for error messages (directory path or base URL) */
  readonly name: string;
  /** relative file names in the directory (non-recursive is enough for HF checkpoints) */
  list(): Promise<string[]>;
  /** null when the file does not exist */
  readText(path: string): Promise<string | null>;
  open(path: string): Promise<ByteSource>;
}

/** An in-memory ByteSource (tests, small files). */
export function bytesSource(name: string, bytes: Uint8Array): ByteSource {
  return {
    name,
    size: bytes.byteLength,
    async read(offset, length) {
      if (offset + length > bytes.byteLength) throw new RangeError(`${name}: read past end`);
      return bytes.subarray(offset, offset + length);
    },
  };
}
