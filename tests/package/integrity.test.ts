// A damaged package is rejected with a typed error that names the file: corrupted blob or shard
// (IntegrityError), truncated or missing file (CheckpointError), bad manifest (ManifestError).

import { cpSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeSink } from '../../src/cli/convert.ts';
import { openPackageWeights } from '../../src/cli/load-package.ts';
import { CheckpointError, IntegrityError } from '../../src/format/errors.ts';
import { HfCheckpoint } from '../../src/format/hf-checkpoint.ts';
import { ManifestError } from '../../src/format/manifest.ts';
import { openPackage } from '../../src/format/package.ts';
import { writePackage } from '../../src/format/package-write.ts';
import { CpuRunner } from '../../src/reference/runner.ts';
import { nodeDir } from '../../src/store/node-dir.ts';
import { fixtureDir } from '../helpers/fixtures.ts';
import { removeScratch, scratchDir } from './tiny-checkpoint.ts';

let good: string;

beforeAll(async () => {
  good = scratchDir('good');
  await writePackage(await HfCheckpoint.open(nodeDir(fixtureDir('qwen3_moe'))), nodeSink(good), { quant: 'q4', denseQuant: 'q8' });
});

afterAll(removeScratch);

/** A copy of the good package that the test may damage. */
function copy(): string {
  const dir = scratchDir('bad-pkg');
  cpSync(good, dir, { recursive: true });
  return dir;
}

function editManifest(dir: string, edit: (m: any) => void): void {
  const p = join(dir, 'manifest.json');
  const m = JSON.parse(readFileSync(p, 'utf8'));
  edit(m);
  writeFileSync(p, JSON.stringify(m));
}

function flipByte(file: string, at: number): void {
  const b = readFileSync(file);
  b[at] ^= 0x40;
  writeFileSync(file, b);
}

describe('damaged packages', () => {
  it('the intact package opens and runs', async () => {
    const r = await CpuRunner.load(await openPackageWeights(good), 8);
    expect((await r.forward([1, 2, 3]))[0].length).toBe(r.spec.vocab_size);
  });

  it('a corrupted expert blob: IntegrityError naming the blob, also through the CPU runner', async () => {
    const dir = copy();
    flipByte(join(dir, 'experts', 'L1-E2.bin'), 100);
    const pkg = await openPackage(nodeDir(dir));
    await expect(pkg.expertBlob(1, 1)).resolves.toBeInstanceOf(Uint8Array);
    const err = await pkg.expertBlob(1, 2).catch((e) => e);
    expect(err).toBeInstanceOf(IntegrityError);
    expect(err.file).toBe(join(dir, 'experts', 'L1-E2.bin'));
    expect(err.message).toMatch(/sha256 mismatch/);
    await expect(openPackageWeights(dir).then((w) => CpuRunner.load(w))).rejects.toThrow(/L1-E2\.bin.*sha256/);
  });

  it('a corrupted dense shard: IntegrityError naming the shard', async () => {
    const dir = copy();
    const m = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
    const t = m.dense.find((x: any) => x.name === 'layers.0.q_proj');
    flipByte(join(dir, t.file), t.offset + 3);
    const pkg = await openPackage(nodeDir(dir));
    const err = await pkg.dense('layers.0.q_proj').catch((e) => e);
    expect(err).toBeInstanceOf(IntegrityError);
    expect(err.message).toContain(t.file);
    await expect(pkg.dense('layers.0.k_proj')).resolves.toBeTruthy();
  });

  it('a truncated dense shard: CheckpointError naming the shard at open', async () => {
    const dir = copy();
    const f = join(dir, 'dense-00000.bin');
    const b = readFileSync(f);
    writeFileSync(f, b.subarray(0, b.length - 10));
    const err = await openPackage(nodeDir(dir)).catch((e) => e);
    expect(err).toBeInstanceOf(CheckpointError);
    expect(err.file).toBe(f);
    expect(err.message).toMatch(/truncated/);
  });

  it('a truncated or missing expert blob: CheckpointError naming the blob', async () => {
    const dir = copy();
    const f = join(dir, 'experts', 'L0-E3.bin');
    writeFileSync(f, readFileSync(f).subarray(0, 64));
    rmSync(join(dir, 'experts', 'L0-E4.bin'));
    const pkg = await openPackage(nodeDir(dir));
    const e1 = await pkg.expertBlob(0, 3).catch((e) => e);
    expect(e1).toBeInstanceOf(CheckpointError);
    expect(e1.file).toBe(f);
    const e2 = await pkg.expertBlob(0, 4).catch((e) => e);
    expect(e2).toBeInstanceOf(CheckpointError);
    expect(e2.message).toContain('L0-E4.bin');
  });

  const manifestCases: [string, (m: any) => void, RegExp][] = [
    ['wrong format name', (m) => (m.format = 'gguf'), /format/],
    ['newer version', (m) => (m.version = 2), /newer than this WebMoE/],
    ['a dense offset that is not a number', (m) => (m.dense[0].offset = '0'), /dense\.0\.offset/],
    ['a dense offset off the 256-byte grid', (m) => (m.dense[1].offset += 4), /multiple of 256/],
    ['a dense size that disagrees with shape and quant', (m) => (m.dense[0].bytes -= 4), /takes/],
    ['a missing expert', (m) => m.experts.pop(), /layers × experts/],
    ['an expert listed twice', (m) => (m.experts[1] = m.experts[0]), /listed twice/],
    ['an expert layout for other dimensions', (m) => (m.expert_layout.down.shape = [8, 8]), /expert_layout/],
    ['a path escaping the package', (m) => (m.experts[0].file = '../x.bin'), /relative path/],
    ['a spec without layers', (m) => (m.spec.layers = []), /layers/],
    ['a bad sha256', (m) => (m.files[0].sha256 = 'abc'), /sha256/],
    ['lm_head missing', (m) => (m.dense = m.dense.filter((t: any) => t.name !== 'lm_head')), /lm_head/],
  ];
  for (const [what, edit, msg] of manifestCases) {
    it(`manifest with ${what}: ManifestError naming manifest.json`, async () => {
      const dir = copy();
      editManifest(dir, edit);
      const err = await openPackage(nodeDir(dir)).catch((e) => e);
      expect(err).toBeInstanceOf(ManifestError);
      expect(err.file).toBe(join(dir, 'manifest.json'));
      expect(err.message).toMatch(msg);
    });
  }

  it('manifest.json that is not JSON, or absent', async () => {
    const dir = copy();
    writeFileSync(join(dir, 'manifest.json'), '{"format": "webmoe-package",');
    const err = await openPackage(nodeDir(dir)).catch((e) => e);
    expect(err).toBeInstanceOf(ManifestError);
    expect(err.message).toMatch(/not valid JSON/);
    rmSync(join(dir, 'manifest.json'));
    await expect(openPackage(nodeDir(dir))).rejects.toThrow(ManifestError);
  });

  it('verifyAll finds a corrupted file that was never read', async () => {
    const dir = copy();
    flipByte(join(dir, 'experts', 'L2-E7.bin'), 7);
    const pkg = await openPackage(nodeDir(dir));
    await expect(pkg.verifyAll()).rejects.toThrow(IntegrityError);
  });
});
