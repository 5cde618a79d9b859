// reload(): model sources (local package, HF checkpoint, app-config URL downloaded into a store,
// cached id, offline), init progress, backend selection and the runner seam, cache helpers.

import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packedWeights } from '../format/pack.ts';
import { byteLevelTokenizerJson } from '../generate/testing.ts';
import type { ModelRunner } from '../model/runner.ts';
import { CpuRunner } from '../reference/runner.ts';
import { ReferenceModel } from '../reference/forward.ts';
import { PackageServer } from '../store/testing/package-server.ts';
import { builtinGpuRunner, registerGpuRunner, type GpuFactoryOptions } from './backends.ts';
import { ModelIncompleteError } from '../store/errors.ts';
import { BackendUnavailableError, ModelFilesError, ModelSourceError } from './load-errors.ts';
import { createNodeEngine } from './node.ts';
import type { WebMoeInitProgressReport } from './progress.ts';
import { storyPackage, templateText } from './testing.ts';

let root: string;
let story: string;
let server: PackageServer;
let url: string;

function filesOf(dir: string): Map<string, Uint8Array> {
  const out = new Map<string, Uint8Array>();
  const walk = (d: string) => {
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      else out.set(relative(dir, p).split('\\').join('/'), new Uint8Array(readFileSync(p)));
    }
  };
  walk(dir);
  return out;
}

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'webmoe-load-'));
  story = await storyPackage(join(root, 'story'), 5);
  server = await new PackageServer().start();
  url = server.add('story', filesOf(story));
});
afterAll(async () => {
  await server.close();
  rmSync(root, { recursive: true, force: true });
});

const ASK = { messages: [{ role: 'user' as const, content: 'Once' }], max_tokens: 5, seed: 1 };

describe('reload: sources and progress', () => {
  it('a local package: progress goes verify -> load -> ready, monotonic, ending at 1', async () => {
    const reports: WebMoeInitProgressReport[] = [];
    const engine = createNodeEngine({ backend: 'cpu' });
    await engine.reload(story, { initProgressCallback: (r) => reports.push(r) });
    const phases = [...new Set(reports.map((r) => r.phase))];
    expect(phases).toEqual(['verify', 'load', 'ready']);
    for (let i = 1; i < reports.length; i++) expect(reports[i].progress).toBeGreaterThanOrEqual(reports[i - 1].progress);
    expect(reports[reports.length - 1]).toMatchObject({ progress: 1, phase: 'ready' });
    expect(reports[reports.length - 1].text).toMatch(/story on cpu/);
    expect(reports.filter((r) => r.phase === 'load').length).toBeGreaterThan(3);
    expect(reports.every((r) => r.timeElapsed >= 0 && r.text.length > 0)).toBe(true);
    await engine.unload();
  });

  it('an app-config id: downloaded into the store (download phase), then served from the cache, offline too', async () => {
    const cacheDir = join(root, 'cache');
    const appConfig = { model_list: [{ model_id: 'tiny-story', model_url: url }] };
    const a = createNodeEngine({ backend: 'cpu', cacheDir, appConfig });
    expect(await a.hasModelInCache('tiny-story')).toBe(false);
    const reports: WebMoeInitProgressReport[] = [];
    a.setInitProgressCallback((r) => reports.push(r));
    await a.reload('tiny-story');
    expect(reports.some((r) => r.phase === 'download' && /Downloading tiny-story/.test(r.text))).toBe(true);
    expect(reports.find((r) => r.phase === 'verify')!.progress).toBeGreaterThanOrEqual(0.8);
    expect(server.requests.length).toBeGreaterThan(10);
    expect(await a.hasModelInCache('tiny-story')).toBe(true);
    const first = await a.chat.completions.create(ASK);
    expect(first.model).toBe('tiny-story');

    // a second engine: the cached copy is used (no request reaches the server), by app-config id or plain id
    server.reset();
    const b = createNodeEngine({ backend: 'cpu', cacheDir, appConfig });
    const seen: string[] = [];
    await b.reload('tiny-story', { initProgressCallback: (r) => seen.push(r.phase) });
    expect(seen).not.toContain('download');
    expect(server.requests).toEqual([]);
    expect((await b.chat.completions.create(ASK)).choices[0].message.content).toBe(first.choices[0].message.content);
    const c = createNodeEngine({ backend: 'cpu', cacheDir });
    await c.reload('tiny-story');
    await c.deleteModelFromCache('tiny-story');
    expect(await c.hasModelInCache('tiny-story')).toBe(false);
    await expect(c.chat.completions.create(ASK)).rejects.toThrow(/reload/);
    await Promise.all([a.unload(), b.unload()]);
  });

  it('a package URL (id from the URL); a partial copy in the store is an actionable error, not a silent re-download', async () => {
    const cacheDir = join(root, 'cache2');
    const e = createNodeEngine({ backend: 'cpu', cacheDir });
    await e.reload(url);
    expect((await e.getStats()).model).toBe('story');
    rmSync(join(cacheDir, 'story', 'experts', 'L1-E0.bin'));
    const f = createNodeEngine({ backend: 'cpu', cacheDir });
    await expect(f.reload('story')).rejects.toBeInstanceOf(ModelIncompleteError);
    await f.reload(url); // the URL resumes the download
    expect(await f.hasModelInCache('story')).toBe(true);
    await Promise.all([e.unload(), f.unload()]);
  });

  it('unknown sources and missing chat files are named errors that say what to do', async () => {
    const e = createNodeEngine({ backend: 'cpu' });
    await expect(e.reload('no-such-model')).rejects.toBeInstanceOf(ModelSourceError);
    await expect(e.reload('https://example.invalid/pkg/')).rejects.toThrow(/store/);
    const bare = join(root, 'bare');
    cpSync(story, bare, { recursive: true });
    rmSync(join(bare, 'chat_template.jinja'));
    await expect(e.reload(bare)).rejects.toBeInstanceOf(ModelFilesError);
    await expect(e.reload(bare)).rejects.toThrow(/chat template.*chat_template\.jinja/);
    expect((await e.getStats()).model).toBeNull();
  });

  it('an HF checkpoint directory with a tokenizer and template chats as well', async () => {
    const hf = join(root, 'hf');
    cpSync(join(import.meta.dirname, '../../tests/fixtures/qwen3_moe'), hf, { recursive: true });
    writeFileSync(join(hf, 'tokenizer.json'), JSON.stringify(byteLevelTokenizerJson([], [])));
    writeFileSync(join(hf, 'tokenizer_config.json'), JSON.stringify({ chat_template: templateText('story.jinja') }));
    const e = createNodeEngine({ backend: 'cpu' });
    await e.reload(hf);
    const r = await e.chat.completions.create({ ...ASK, ignore_eos: true });
    expect(r.usage!.completion_tokens).toBe(5);
    await e.unload();
  });
});

describe('reload: backends', () => {
  afterAll(() => registerGpuRunner(builtinGpuRunner));

  it("'auto' in Node (no navigator.gpu) runs the CPU reference and says why", async () => {
    registerGpuRunner(builtinGpuRunner);
    const e = createNodeEngine();
    await e.reload(story);
    expect(await e.getStats()).toMatchObject({ backend: 'cpu', backendNote: expect.stringMatching(/WebGPU is not available here/) });
    await e.unload();
  });

  it("'webgpu' without a GPU runner is BackendUnavailableError; 'auto' falls back to the CPU and says so", async () => {
    registerGpuRunner(null);
    const e = createNodeEngine();
    await expect(e.reload(story, { backend: 'webgpu' })).rejects.toBeInstanceOf(BackendUnavailableError);
    let ready = '';
    await e.reload(story, { initProgressCallback: (r) => (ready = r.text) });
    expect(ready).toMatch(/CPU reference/);
    const s = await e.getStats();
    expect(s.backend).toBe('cpu');
    expect(s.backendNote).toMatch(/no WebGPU runner is registered/);
    expect(await e.runtimeStatsText()).toMatch(/backend: cpu \(no WebGPU runner is registered/);
    await e.unload();
  });

  it('a registered GPU runner gets the packed model and the load options; its stats reach getStats', async () => {
    let got: GpuFactoryOptions | null = null;
    // A runner over the packed model's own bytes that counts expert reads as a cache would.
    registerGpuRunner(async (packed, opts) => {
      got = opts;
      const cpu = new CpuRunner(await ReferenceModel.load(packedWeights(packed)), opts.maxLength);
      let calls = 0;
      const runner: ModelRunner = {
        backend: 'webgpu-test',
        get spec() {
          return cpu.spec;
        },
        get length() {
          return cpu.length;
        },
        maxLength: cpu.maxLength,
        reset: () => cpu.reset(),
        forward: (t, all) => (calls++, cpu.forward(t, all)),
        expertCacheStats: () => ({ hits: 3 * calls, misses: calls, bytesStreamed: calls * packed.expertLayout.bytes, stallMs: 0, budgetBytes: opts.expertBudgetBytes ?? 0 }),
        dispose: () => cpu.dispose(),
      };
      return Object.assign(runner, { gpuMemoryBytes: () => 1 << 20 });
    });
    try {
      const e = createNodeEngine({ backend: 'webgpu' });
      await e.reload(story, { expertBudgetBytes: 12345, context_window_size: 64 });
      expect(got).toMatchObject({ expertBudgetBytes: 12345, maxLength: 64, modelId: 'story' });
      await e.chat.completions.create(ASK);
      const s = await e.getStats();
      expect(s.backend).toBe('webgpu-test');
      expect(s.expertCache).toMatchObject({ hitRate: 0.75, budgetBytes: 12345 });
      expect(s.expertCacheHitRate).toBe(0.75);
      expect(s.gpuMemoryBytes).toBe(1 << 20);
      expect(await e.runtimeStatsText()).toMatch(/expert cache: 75\.0% hits .*GPU memory: 1\.0 MiB/);
      await expect(e.chat.completions.create({ ...ASK, max_tokens: 64 })).rejects.toThrow(/context window is 64|context window of 64/);
      await e.unload();
    } finally {
      registerGpuRunner(null);
    }
  });
});
