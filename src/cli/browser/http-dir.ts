// A directory served over HTTP as a DirSource: `__list.json` (or the caller) names the files and
// sizes, and byte ranges come from HTTP Range requests, so a checkpoint is read tensor by tensor,
// as from disk.

import type { ByteSource } from '../../format/safetensors.ts';
import type { DirSource } from '../../format/source.ts';

export function httpDir(base: string, files?: { name: string; size: number }[]): DirSource {
  const root = base.endsWith('/') ? base : `${base}/`;
  let listing: Promise<{ name: string; size: number }[]> | null = files ? Promise.resolve(files) : null;
  const list = () =>
    (listing ??= fetch(`${root}__list.json`).then((r): Promise<{ name: string; size: number }[]> => {
      if (!r.ok) throw new Error(`${root}__list.json: HTTP ${r.status}`);
      return r.json();
    }));
  return {
    name: root,
    async list() {
      return (await list()).map((f) => f.name);
    },
    async readText(path) {
      const r = await fetch(root + path);
      if (r.status === 404) return null;
      if (!r.ok) throw new Error(`${root}${path}: HTTP ${r.status}`);
      return r.text();
    },
    async open(path): Promise<ByteSource> {
      const f = (await list()).find((x) => x.name === path);
      if (!f) throw new Error(`${root}${path}: not found`);
      return {
        name: root + path,
        size: f.size,
        async read(offset, length) {
          if (length === 0) return new Uint8Array(0);
          const r = await fetch(root + path, { headers: { Range: `bytes=${offset}-${offset + length - 1}` } });
          if (!r.ok) throw new Error(`${root}${path}: HTTP ${r.status}`);
          const b = new Uint8Array(await r.arrayBuffer());
          if (b.byteLength !== length) throw new RangeError(`${root}${path}: got ${b.byteLength} bytes for a ${length}-byte range`);
          return b;
        },
      };
    },
  };
}
