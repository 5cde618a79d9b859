// A PackageSink into a ShardStore (IndexedDB in the browser, a directory in Node): how the app
// writes a pruned package next to the original. Each file is collected in memory (dense shards are
// capped at 64 MiB, expert blobs are small), hashed, then stored with its completion record in one
// `put`, so the store never holds a partial file. manifest.json is written last by the writer, so a
// model without it is an unfinished prune (remove it with store.deleteModel).

import type { PackageSink } from '../format/package-write.ts';
import { sha256Hex } from '../format/sha256.ts';
import type { ShardStore } from '../store/types.ts';

export function shardStoreSink(store: ShardStore, modelId: string): PackageSink {
  return {
    async create(path) {
      const parts: Uint8Array[] = [];
      let bytes = 0;
      return {
        async write(b) {
          parts.push(b.slice()); // the writer may reuse its buffer
          bytes += b.byteLength;
        },
        async close() {
          const all = new Uint8Array(bytes);
          let off = 0;
          for (const p of parts) {
            all.set(p, off);
            off += p.byteLength;
          }
          const sha256 = await sha256Hex(all);
          await store.put(modelId, path, all, sha256);
          return { bytes, sha256 };
        },
      };
    },
  };
}
