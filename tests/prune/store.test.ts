// The app's path: prune a package held in a ShardStore into a new model of the same store
// (IndexedDB through fake-indexeddb, and the Node directory store), then open it from there.

import 'fake-indexeddb/auto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openPackage } from '../../src/format/package.ts';
import { writePackage } from '../../src/format/package-write.ts';
import { HfCheckpoint } from '../../src/format/hf-checkpoint.ts';
import { prunePackage, shardStoreSink } from '../../src/prune/index.ts';
import { CALIBRATION_TEXT } from '../../src/prune/calibration.ts';
import { storeDir } from '../../src/store/dir.ts';
import { IdbShardStore } from '../../src/store/idb.ts';
import { NodeShardStore } from '../../src/store/node-store.ts';
import { assertComplete } from '../../src/store/registry.ts';
import type { ShardStore } from '../../src/store/types.ts';
import { nodeDir } from '../../src/store/node-dir.ts';
import { fixtureDir } from '../helpers/fixtures.ts';
import { removeScratch } from '../package/tiny-checkpoint.ts';
import { byteTokenizerDir } from './helpers.ts';

const roots: string[] = [];
afterAll(() => {
  removeScratch();
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

function nodeRoot(): string {
  const r = mkdtempSync(join(tmpdir(), 'webmoe-prune-store-'));
  roots.push(r);
  return r;
}

const stores: [string, () => ShardStore][] = [
  ['IdbShardStore (fake-indexeddb)', () => new IdbShardStore({ dbName: `prune-${Math.random()}` })],
  ['NodeShardStore', () => new NodeShardStore(nodeRoot())],
];

describe.each(stores)('%s', (_name, make) => {
  it('prune to fit with the built-in calibration text: store -> store', async () => {
    const store = make();
    const hf = await HfCheckpoint.open(nodeDir(fixtureDir('gpt_oss')));
    await writePackage(hf, shardStoreSink(store, 'tiny'), { extras: nodeDir(byteTokenizerDir()) });
    const pkg = await openPackage(storeDir(store, 'tiny'));
    const { plan, manifest } = await prunePackage(pkg, shardStoreSink(store, 'tiny-pruned'), { ratio: 0.5, calibration: { text: CALIBRATION_TEXT } });
    expect(plan.calibration.tokens).toBe(new TextEncoder().encode(CALIBRATION_TEXT).byteLength + plan.calibration.windows);
    await assertComplete(store, 'tiny-pruned');
    const pruned = await openPackage(storeDir(store, 'tiny-pruned'));
    expect(pruned.manifest).toEqual(manifest);
    expect(pruned.spec.moe.num_experts).toBe(4);
    expect(pruned.manifest.tokenizer.tokenizer).toBe('tokenizer.json');
    await pruned.verifyAll();
    expect(await pruned.expertBlob(2, 3)).toEqual(await pkg.expertBlob(2, plan.kept[2][3]));
  });
});
