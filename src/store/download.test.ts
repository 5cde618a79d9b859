// Downloader in Node against a real HTTP server with injected faults, into a NodeShardStore (the
// browser path, IndexedDB in Chromium, is e2e/store.spec.ts).

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { IntegrityError } from '../format/errors.ts';
import { ManifestError } from '../format/manifest.ts';
import { openPackage } from '../format/package.ts';
import { storeDir } from './dir.ts';
import { downloadModel, type DownloadProgress } from './download.ts';
import { DownloadAbortedError, DownloadHttpError, DownloadLockedError, DownloadNetworkError, TruncatedDownloadError } from './errors.ts';
import { NodeShardStore } from './node-store.ts';
import { modelStatus } from './registry.ts';
import { PackageServer } from './testing/package-server.ts';
import { makeTestPackage, type TestPackage } from './testing/test-package.ts';

let server: PackageServer;
let pkg: TestPackage;
let base: string;
const store = () => new NodeShardStore(mkdtempSync(join(tmpdir(), 'webmoe-dl-')));
const EXPERT = 'experts/L1-E2.bin';

beforeAll(async () => {
  server = await new PackageServer().start();
  pkg = await makeTestPackage({ seed: 7 });
  base = server.add('tiny', pkg.files);
});
afterAll(() => server.close());
beforeEach(() => server.reset());

describe('downloadModel (Node)', () => {
  it('downloads every file once, verified, with progress to 100%, and the package opens from the store', async () => {
    const s = store();
    const events: DownloadProgress[] = [];
    const r = await downloadModel(s, base, { onProgress: (p) => events.push(p), concurrency: 3 });
    expect(r.modelId).toBe('tiny');
    expect(r.fetched.sort()).toEqual(pkg.manifest.files.map((f) => f.path).sort());
    expect(r.bytesFetched).toBe(pkg.totalBytes);
    for (const f of pkg.manifest.files) expect(server.count(`/tiny/${f.path}`)).toBe(1);
    const last = events[events.length - 1];
    expect(last).toMatchObject({ phase: 'done', bytesDone: pkg.totalBytes, bytesTotal: pkg.totalBytes, filesDone: pkg.manifest.files.length, etaSeconds: 0 });
    for (let i = 1; i < events.length; i++) expect(events[i].bytesFetched).toBeGreaterThanOrEqual(events[i - 1].bytesFetched);
    expect((await modelStatus(s, 'tiny')).complete).toBe(true);
    const opened = await openPackage(storeDir(s, 'tiny'));
    expect(await opened.expertBlob(1, 2)).toEqual(pkg.files.get(EXPERT));

    // a second run fetches nothing but the manifest
    server.reset();
    const again = await downloadModel(s, base);
    expect(again.fetched).toEqual([]);
    expect(server.requests).toEqual(['/tiny/manifest.json']);
  });

  it('a connection cut mid-file is a typed error; the next run fetches only what is missing', async () => {
    const s = store();
    server.faults.set(`/tiny/${EXPERT}`, { kind: 'cut', after: 40_000 });
    const err = await downloadModel(s, base, { retries: 0, concurrency: 1 }).catch((e) => e);
    expect(err).toBeInstanceOf(DownloadNetworkError);
    expect(err.message).toContain(EXPERT);
    expect(await s.has('tiny', EXPERT)).toBe(false);
    const before = new Set((await s.files('tiny')).map((f) => f.path));
    expect(before.size).toBeGreaterThan(1);
    expect((await modelStatus(s, 'tiny')).missing).toContain(EXPERT);

    server.reset();
    const r = await downloadModel(s, base);
    expect(r.skipped.length).toBe(before.size - 1); // manifest.json is in `before` but not a listed file
    for (const p of before) if (p !== 'manifest.json') expect(server.count(`/tiny/${p}`)).toBe(0);
    expect(server.count(`/tiny/${EXPERT}`)).toBe(1);
    expect((await modelStatus(s, 'tiny')).complete).toBe(true);
  });

  it('a short body is TruncatedDownloadError without retries, and is retried away with them', async () => {
    const s = store();
    server.faults.set(`/tiny/${EXPERT}`, { kind: 'short', bytes: 1000, times: 1 });
    const err = await downloadModel(s, base, { retries: 0 }).catch((e) => e);
    expect(err).toBeInstanceOf(TruncatedDownloadError);
    expect(err).toMatchObject({ received: 1000, expected: pkg.manifest.expert_layout.bytes });
    server.reset();
    server.faults.set(`/tiny/${EXPERT}`, { kind: 'short', bytes: 1000, times: 1 });
    await downloadModel(s, base, { retries: 1 });
    expect(server.count(`/tiny/${EXPERT}`)).toBe(2);
    expect((await modelStatus(s, 'tiny')).complete).toBe(true);
  });

  it('bytes that do not match the manifest sha256 are never stored', async () => {
    const s = store();
    const files = new Map(pkg.files);
    const bad = files.get(EXPERT)!.slice();
    bad[5] ^= 1;
    files.set(EXPERT, bad);
    const liar = server.add('liar', files);
    const err = await downloadModel(s, liar, { retries: 1 }).catch((e) => e);
    expect(err).toBeInstanceOf(IntegrityError);
    expect(server.count(`/liar/${EXPERT}`)).toBe(2);
    expect(await s.has('liar', EXPERT)).toBe(false);
  });

  it('HTTP 404 is not retried; an invalid manifest writes nothing', async () => {
    const s = store();
    server.faults.set(`/tiny/${EXPERT}`, { kind: 'status', status: 404 });
    const err = await downloadModel(s, base).catch((e) => e);
    expect(err).toBeInstanceOf(DownloadHttpError);
    expect(err.status).toBe(404);
    expect(server.count(`/tiny/${EXPERT}`)).toBe(1);

    const broken = server.add('broken', new Map([['manifest.json', new TextEncoder().encode('{"format":"webmoe-package","version":1}')]]));
    const s2 = store();
    await expect(downloadModel(s2, broken)).rejects.toBeInstanceOf(ManifestError);
    expect(await s2.models()).toEqual([]);
  });

  it('an AbortSignal stops the download with DownloadAbortedError; the next run resumes', async () => {
    const s = store();
    server.throttle = 2_000_000;
    const ctl = new AbortController();
    const run = downloadModel(s, base, { signal: ctl.signal, concurrency: 2, onProgress: (p) => p.filesDone >= 3 && ctl.abort() });
    await expect(run).rejects.toBeInstanceOf(DownloadAbortedError);
    const kept = (await s.files('tiny')).map((f) => f.path).filter((p) => p !== 'manifest.json');
    expect(kept.length).toBeGreaterThanOrEqual(3);
    expect(kept.length).toBeLessThan(pkg.manifest.files.length);
    server.reset();
    const r = await downloadModel(s, base);
    expect(r.skipped.sort()).toEqual(kept.sort());
    for (const p of kept) expect(server.count(`/tiny/${p}`)).toBe(0);
    expect((await modelStatus(s, 'tiny')).complete).toBe(true);
  });

  it('two downloads of one model never run at once; each file is fetched once', async () => {
    const s = store();
    server.throttle = 4_000_000;
    const [a, b] = await Promise.all([downloadModel(s, base), downloadModel(s, base)]);
    expect(a.fetched.length + b.fetched.length).toBe(pkg.manifest.files.length);
    for (const f of pkg.manifest.files) expect(server.count(`/tiny/${f.path}`)).toBe(1);
    const running = downloadModel(s, base);
    await expect(downloadModel(s, base, { ifLocked: 'fail' })).rejects.toBeInstanceOf(DownloadLockedError);
    await running;
  });

  it('a corrupt file is re-fetched from the recorded source on read; stale files of an old version go', async () => {
    const s = store();
    await downloadModel(s, base);
    const bad = pkg.files.get(EXPERT)!.slice();
    bad[100] ^= 0x80;
    await s.put('tiny', EXPERT, bad);
    await s.put('tiny', 'experts/L9-E9.bin', new Uint8Array(4)); // not in the manifest
    server.reset();
    const opened = await openPackage(storeDir(s, 'tiny', { verify: true, refetch: true }), { verify: false });
    expect(await opened.expertBlob(1, 2)).toEqual(pkg.files.get(EXPERT));
    expect(server.requests).toEqual([`/tiny/${EXPERT}`]);
    expect(await s.get('tiny', EXPERT)).toEqual(pkg.files.get(EXPERT));
    await downloadModel(s, base);
    expect(await s.has('tiny', 'experts/L9-E9.bin')).toBe(false);
  });
});
