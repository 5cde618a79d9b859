// ShardStore contract, run on both implementations in Node: IdbShardStore over fake-indexeddb (the
// pure key/record logic; real IndexedDB is exercised in Chromium by e2e/store.spec.ts) and
// NodeShardStore over a temp directory. Also the DirSource adapter feeding the package reader.

import 'fake-indexeddb/auto';
import { mkdtempSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { IntegrityError } from '../format/errors.ts';
import { openPackage } from '../format/package.ts';
import { sha256Hex } from '../format/sha256.ts';
import { storeDir } from './dir.ts';
import { StoreFileMissingError } from './errors.ts';
import { IdbShardStore, type ValueKind } from './idb.ts';
import { NodeShardStore } from './node-store.ts';
import { listModels, modelStatus, verifyModel } from './registry.ts';
import { makeTestPackage, randomBytes } from './testing/test-package.ts';
import type { ShardStore } from './types.ts';

let dbCount = 0;
const makers: [string, () => ShardStore][] = [
  ...(['arraybuffer', 'blob'] as ValueKind[]).map((kind): [string, () => ShardStore] => [
    `IdbShardStore (${kind}, fake-indexeddb)`,
    () => new IdbShardStore({ dbName: `t${dbCount++}`, valueKind: kind }),
  ]),
  ['NodeShardStore', () => new NodeShardStore(mkdtempSync(join(tmpdir(), 'webmoe-store-')))],
];

describe.each(makers)('%s', (_name, make) => {
  it('put/get/read/stat/has round-trip, including sub-folders and ranges', async () => {
    const s = make();
    const a = randomBytes(70_000, 1);
    await s.put('org/model-a', 'experts/L0-E1.bin', a, await sha256Hex(a));
    expect(await s.get('org/model-a', 'experts/L0-E1.bin')).toEqual(a);
    expect(await s.read('org/model-a', 'experts/L0-E1.bin', 1000, 5000)).toEqual(a.subarray(1000, 6000));
    expect(await s.stat('org/model-a', 'experts/L0-E1.bin')).toEqual({ path: 'experts/L0-E1.bin', bytes: 70_000, sha256: await sha256Hex(a) });
    expect(await s.has('org/model-a', 'experts/L0-E1.bin')).toBe(true);
    expect(await s.has('org/model-a', 'experts/L0-E2.bin')).toBe(false);
    expect(await s.get('org/model-a', 'nope.bin')).toBeNull();
    expect(await s.getMany('org/model-a', ['experts/L0-E1.bin', 'nope.bin', 'experts/L0-E1.bin'])).toEqual([a, null, a]);
    await expect(s.read('org/model-a', 'nope.bin', 0, 1)).rejects.toBeInstanceOf(StoreFileMissingError);
    // a view with an offset stores only its own bytes
    const big = randomBytes(1000, 2);
    await s.put('org/model-a', 'x.bin', big.subarray(100, 300));
    expect(await s.get('org/model-a', 'x.bin')).toEqual(big.subarray(100, 300));
    // replace
    await s.put('org/model-a', 'x.bin', new Uint8Array([1, 2, 3]));
    expect(await s.get('org/model-a', 'x.bin')).toEqual(new Uint8Array([1, 2, 3]));
    expect((await s.stat('org/model-a', 'x.bin'))!.bytes).toBe(3);
  });

  it('lists files and models, deletes one file and one model without touching others', async () => {
    const s = make();
    for (const id of ['m1', 'm2'])
      for (const p of ['manifest.json', 'dense-00000.bin', 'experts/L0-E0.bin', 'experts/L1-E3.bin']) await s.put(id, p, randomBytes(10, p.length));
    await s.setModelRecord({ modelId: 'm3', source: 'http://x/m3', updatedAt: 5 });
    expect(await s.models()).toEqual(['m1', 'm2', 'm3']);
    expect((await s.files('m1')).map((f) => f.path).sort()).toEqual(['dense-00000.bin', 'experts/L0-E0.bin', 'experts/L1-E3.bin', 'manifest.json']);
    expect(await s.modelRecord('m3')).toEqual({ modelId: 'm3', source: 'http://x/m3', updatedAt: 5 });
    await s.deleteFile('m1', 'experts/L0-E0.bin');
    expect(await s.has('m1', 'experts/L0-E0.bin')).toBe(false);
    expect(await s.files('m1')).toHaveLength(3);
    await s.deleteModel('m1');
    expect(await s.files('m1')).toEqual([]);
    expect(await s.models()).toEqual(['m2', 'm3']);
    expect(await s.files('m2')).toHaveLength(4);
  });

  it('rejects paths that escape the package and odd model ids', async () => {
    const s = make();
    await expect(s.put('m', '../x', new Uint8Array(1))).rejects.toThrow(RangeError);
    await expect(s.put('m', '/abs', new Uint8Array(1))).rejects.toThrow(RangeError);
    await expect(s.put('../m', 'a', new Uint8Array(1))).rejects.toThrow(RangeError);
  });

  it('a package in the store reads through storeDir + openPackage like one on disk; registry sees it complete', async () => {
    const s = make();
    const pkg = await makeTestPackage({ seed: 3 });
    for (const [p, b] of pkg.files) await s.put('tiny', p, b, await sha256Hex(b));
    const opened = await openPackage(storeDir(s, 'tiny'));
    expect(opened.spec.num_hidden_layers).toBe(2);
    expect(await opened.expertBlob(1, 5)).toEqual(pkg.files.get('experts/L1-E5.bin'));
    const lm = await opened.dense('lm_head');
    const t = pkg.manifest.dense.find((d) => d.name === 'lm_head')!;
    expect(lm.data).toEqual(pkg.files.get(t.file)!.subarray(t.offset, t.offset + t.bytes));
    const st = await modelStatus(s, 'tiny');
    expect(st).toMatchObject({ complete: true, missing: [], bytesTotal: pkg.totalBytes, filesTotal: pkg.manifest.files.length });
    expect((await listModels(s)).map((m) => m.modelId)).toEqual(['tiny']);

    // one expert missing: incomplete, named
    await s.deleteFile('tiny', 'experts/L0-E2.bin');
    expect(await modelStatus(s, 'tiny')).toMatchObject({ complete: false, missing: ['experts/L0-E2.bin'], missingBytes: pkg.manifest.expert_layout.bytes });
  });

  it('a corrupt record is caught before use: by the reader, by storeDir verify, by verifyModel', async () => {
    const s = make();
    const pkg = await makeTestPackage({ seed: 4, layers: 1, experts: 4 });
    for (const [p, b] of pkg.files) await s.put('tiny', p, b, await sha256Hex(b));
    const bad = pkg.files.get('experts/L0-E3.bin')!.slice();
    bad[1234] ^= 0xff;
    await s.put('tiny', 'experts/L0-E3.bin', bad); // stored behind the downloader's back, no hash
    const plain = await openPackage(storeDir(s, 'tiny'));
    await expect(plain.expertBlob(0, 3)).rejects.toBeInstanceOf(IntegrityError);
    const checking = await openPackage(storeDir(s, 'tiny', { verify: true }), { verify: false });
    await expect(checking.expertBlob(0, 3)).rejects.toBeInstanceOf(IntegrityError);
    expect(await checking.expertBlob(0, 2)).toEqual(pkg.files.get('experts/L0-E2.bin'));
    expect(await verifyModel(s, 'tiny')).toEqual({ checked: pkg.manifest.files.length, corrupt: ['experts/L0-E3.bin'], missing: [], repaired: [] });
  });
});

describe('NodeShardStore specifics', () => {
  it('reads a package converted in place (files, no records) and sees it complete', async () => {
    const root = mkdtempSync(join(tmpdir(), 'webmoe-store-'));
    const pkg = await makeTestPackage({ seed: 5, layers: 1, experts: 2 });
    for (const [p, b] of pkg.files) {
      mkdirSync(join(root, 'pkg', 'experts'), { recursive: true });
      writeFileSync(join(root, 'pkg', p), b);
    }
    const { store, modelId } = NodeShardStore.forPackageDir(join(root, 'pkg'));
    expect(modelId).toBe('pkg');
    expect((await store.stat('pkg', 'experts/L0-E1.bin'))!.sha256).toBeUndefined();
    expect((await modelStatus(store, 'pkg')).complete).toBe(true);
    const opened = await openPackage(storeDir(store, 'pkg'));
    expect(await opened.expertBlob(0, 1)).toEqual(pkg.files.get('experts/L0-E1.bin'));
    expect((await store.estimate())!.free).toBeGreaterThan(0);
  });
});
