// A directory on the local file system as a DirSource (Node only): the CLI, tests and benchmarks
// read HF checkpoints and WebMoE packages through it. Reads are positional, so a multi-GB
// safetensors file is never loaded whole.

import { open, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { ByteSource } from '../format/safetensors.ts';
import type { DirSource } from '../format/source.ts';

export function nodeDir(path: string): DirSource {
  return {
    name: path,
    async list() {
      return (await readdir(path, { withFileTypes: true })).filter((d) => d.isFile()).map((d) => d.name);
    },
    async readText(file) {
      try {
        return await readFile(join(path, file), 'utf8');
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw e;
      }
    },
    async open(file) {
      return nodeFile(join(path, file));
    },
  };
}

export async function nodeFile(path: string): Promise<ByteSource> {
  const size = (await stat(path)).size;
  return { name: path, size, read: (offset, length) => readFileRange(path, offset, length) };
}

/** `length` bytes at `offset` of a file (positional reads; ENOENT from open passes through). */
export async function readFileRange(path: string, offset: number, length: number): Promise<Uint8Array> {
  const fh = await open(path, 'r');
  try {
    const buf = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const { bytesRead } = await fh.read(buf, done, length - done, offset + done);
      if (bytesRead === 0) throw new RangeError(`${path}: unexpected end of file at byte ${offset + done}`);
      done += bytesRead;
    }
    return buf;
  } finally {
    await fh.close();
  }
}
