// The engine in Node (CLI, tests, benchmarks): createEngine plus local directories as model
// sources — a WebMoE package (manifest.json) or an HF checkpoint (config.json + *.safetensors,
// packed in memory when a GPU runner asks for packed weights). Package URLs download into a
// NodeShardStore when `cacheDir` is given. Browser code imports src/api/index.ts, never this file.

import { existsSync, statSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { HfCheckpoint } from '../format/hf-checkpoint.ts';
import { packInMemory } from '../format/pack.ts';
import { openPackage } from '../format/package.ts';
import type { PackedModel } from '../format/quant-layout.ts';
import { nodeDir } from '../store/node-dir.ts';
import { NodeShardStore } from '../store/node-store.ts';
import { createEngine, type EngineOptions, type WebMoeEngine } from './engine.ts';
import { ModelSourceError } from './load-errors.ts';
import type { LocalOpener } from './models.ts';

/** A local package or checkpoint directory; null when `path` is not a directory. */
export const openLocalDir: LocalOpener = async (path) => {
  const full = resolve(path);
  if (!existsSync(full) || !statSync(full).isDirectory()) return null;
  const dir = nodeDir(full);
  const id = basename(full);
  if (existsSync(resolve(full, 'manifest.json'))) {
    const pkg = await openPackage(dir);
    return { id, dir, weights: pkg.weights(), packed: async () => pkg };
  }
  if (existsSync(resolve(full, 'config.json'))) {
    const src = await HfCheckpoint.open(dir);
    let packed: Promise<PackedModel> | null = null;
    return { id, dir, weights: src, packed: () => (packed ??= packInMemory(src)) };
  }
  throw new ModelSourceError(path, 'the directory has neither manifest.json (WebMoE package) nor config.json (HF checkpoint).');
};

export interface NodeEngineOptions extends EngineOptions {
  /** directory of downloaded packages (a NodeShardStore); without it URLs cannot be loaded */
  cacheDir?: string;
}

export function createNodeEngine(opts: NodeEngineOptions = {}): WebMoeEngine {
  const { cacheDir, ...rest } = opts;
  return createEngine({ ...rest, store: rest.store ?? (cacheDir ? new NodeShardStore(cacheDir) : null), openLocal: rest.openLocal ?? openLocalDir });
}
