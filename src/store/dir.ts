// A model in a ShardStore as a DirSource, so the package reader (src/format/package.ts) reads a
// package from IndexedDB exactly as from disk:
//
//   const pkg = await openPackage(storeDir(new IdbShardStore(), 'tiny-moe'));
//
// Options: `verify` re-hashes whole files as they are read (a whole-file read, e.g. an expert blob,
// is hashed on every read; a partial read hashes its file once per DirSource) against the manifest
// in the store; `refetch` replaces a corrupt or missing file from the URL the model came from (or
// the one given) and serves the fresh bytes. Without `refetch` a corrupt file is an IntegrityError.
// The package reader already hashes every tensor and blob it reads; with `verify: true` here, open
// it with `{ verify: false }` to hash once.

import { IntegrityError } from '../format/errors.ts';
import { MANIFEST_FILE } from '../format/manifest.ts';
import type { ByteSource } from '../format/safetensors.ts';
import { sha256Hex } from '../format/sha256.ts';
import type { DirSource } from '../format/source.ts';
import { refetchFile } from './download.ts';
import { StoreFileMissingError } from './errors.ts';
import type { FileSpec } from './fetch-file.ts';
import type { ShardStore } from './types.ts';

export interface StoreDirOptions {
  /** re-verify sha256 of files as they are read (default false) */
  verify?: boolean;
  /** re-fetch corrupt or missing files: true = from the model's recorded source URL, or a base URL */
  refetch?: boolean | string;
  fetch?: typeof fetch;
}

export function storeDir(store: ShardStore, modelId: string, opts: StoreDirOptions = {}): DirSource & { readonly modelId: string } {
  const name = `${store.name}/${modelId}`;
  const verified = new Set<string>();
  const repairing = new Map<string, Promise<Uint8Array>>();
  let specs: Promise<Map<string, FileSpec>> | null = null;

  // manifest `files` entries (sha256 source of truth); the stored manifest's own record for itself
  const manifestSpecs = () =>
    (specs ??= (async () => {
      const map = new Map<string, FileSpec>();
      const bytes = await store.get(modelId, MANIFEST_FILE);
      if (!bytes) return map;
      try {
        const m = JSON.parse(new TextDecoder().decode(bytes)) as { files?: FileSpec[] };
        for (const f of m.files ?? []) if (f && typeof f.path === 'string' && typeof f.sha256 === 'string') map.set(f.path, f);
      } catch {
        // an unparsable manifest is reported by the package reader; records still give hashes
      }
      return map;
    })());

  const specOf = async (path: string): Promise<FileSpec | null> => {
    const s = (await manifestSpecs()).get(path);
    if (s) return s;
    const rec = await store.stat(modelId, path);
    return rec?.sha256 ? { path, bytes: rec.bytes, sha256: rec.sha256 } : null;
  };

  const repair = async (path: string, cause: Error): Promise<Uint8Array> => {
    const spec = await specOf(path);
    if (!opts.refetch || !spec) throw cause;
    let p = repairing.get(path);
    if (!p) {
      p = refetchFile(store, modelId, spec, { baseUrl: typeof opts.refetch === 'string' ? opts.refetch : undefined, fetch: opts.fetch, cause });
      repairing.set(path, p);
      p.then(
        () => verified.add(path),
        () => {},
      ).finally(() => repairing.delete(path));
    }
    return p;
  };

  /** bytes if they match their sha256; repaired bytes or IntegrityError otherwise */
  const checked = async (path: string, bytes: Uint8Array): Promise<Uint8Array> => {
    const spec = await specOf(path);
    if (!spec) return bytes; // nothing to check against
    const got = bytes.byteLength === spec.bytes ? await sha256Hex(bytes) : `size ${bytes.byteLength}`;
    if (got === spec.sha256) return bytes;
    return repair(path, new IntegrityError(`${name}/${path}`, spec.sha256, got));
  };

  const whole = async (path: string): Promise<Uint8Array> => {
    const bytes = await store.get(modelId, path);
    if (bytes === null) return repair(path, new StoreFileMissingError(store.name, modelId, path));
    return opts.verify ? checked(path, bytes) : bytes;
  };

  return {
    name,
    modelId,
    async list() {
      return (await store.files(modelId)).map((r) => r.path);
    },
    async readText(path) {
      if (!(await store.has(modelId, path)) && !(opts.refetch && (await specOf(path)))) return null;
      return new TextDecoder().decode(await whole(path));
    },
    async open(path): Promise<ByteSource> {
      let rec = await store.stat(modelId, path);
      if (!rec) {
        const bytes = await repair(path, new StoreFileMissingError(store.name, modelId, path));
        rec = { path, bytes: bytes.byteLength };
      }
      const size = rec.bytes;
      return {
        name: `${name}/${path}`,
        size,
        async read(offset, length) {
          if (offset === 0 && length === size) return whole(path);
          if (opts.verify && !verified.has(path)) {
            await whole(path);
            verified.add(path);
          }
          return store.read(modelId, path, offset, length);
        },
      };
    },
  };
}
