// The Comlink boundary in Node: EngineHost exposed on one end of a real MessageChannel, the
// client on the other (structured clone, proxied callbacks and all, as between a page and its
// worker). Chromium runs the same through a real Worker in e2e/worker.spec.ts.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type * as Comlink from 'comlink';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createWorkerEngine, type WorkerEngine } from './client.ts';
import { GenerationInterruptedError, InvalidRequestError, ModelNotLoadedError } from './errors.ts';
import { exposeEngine } from './host.ts';
import { ModelSourceError } from './load-errors.ts';
import { createNodeEngine } from './node.ts';
import type { WebMoeInitProgressReport } from './progress.ts';
import { storyPackage } from './testing.ts';
import type { ChatCompletionChunk } from './types.ts';

let root: string;
let story: string;
let channel: MessageChannel;
let client: WorkerEngine;

const ONCE = { messages: [{ role: 'user' as const, content: 'Once' }], temperature: 1, seed: 11, max_tokens: 20 };

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'webmoe-client-'));
  story = await storyPackage(join(root, 'story'), 4);
  channel = new MessageChannel();
  exposeEngine(createNodeEngine({ backend: 'cpu' }), channel.port1 as unknown as Comlink.Endpoint);
  client = createWorkerEngine(channel.port2 as unknown as Comlink.Endpoint);
});
afterAll(() => {
  client.dispose();
  channel.port1.close();
  channel.port2.close();
  rmSync(root, { recursive: true, force: true });
});

describe('worker client over a MessageChannel', () => {
  it('errors keep their class and fields across the boundary', async () => {
    const e = await client.chat.completions.create(ONCE).catch((x) => x);
    expect(e).toBeInstanceOf(ModelNotLoadedError);
    expect(e.code).toBe('model_not_loaded');
    await expect(client.reload(join(root, 'nope'))).rejects.toBeInstanceOf(ModelSourceError);
  });

  it('reload reports progress through a proxied callback', async () => {
    const reports: WebMoeInitProgressReport[] = [];
    client.setInitProgressCallback((r) => reports.push(r));
    await client.reload(story);
    await new Promise((r) => setTimeout(r, 20)); // progress messages are fire-and-forget
    expect(reports.length).toBeGreaterThan(3);
    expect(reports[reports.length - 1]).toMatchObject({ phase: 'ready', progress: 1 });
  });

  it('streaming rebuilt as an async iterator equals the non-streamed reply', async () => {
    const whole = await client.chat.completions.create(ONCE);
    const chunks: ChatCompletionChunk[] = [];
    for await (const c of await client.chat.completions.create({ ...ONCE, stream: true, stream_options: { include_usage: true } })) chunks.push(c);
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe(whole.choices[0].message.content);
    expect(chunks[chunks.length - 1].usage).toMatchObject({ completion_tokens: 20 });
    expect(await client.getMessage()).toBe(whole.choices[0].message.content);
    expect((await client.getStats()).requests).toBe(2);
    expect(await client.runtimeStatsText()).toMatch(/^prefill: /);
  });

  it('a bad streaming request rejects create() itself, with the field named', async () => {
    const e = await client.chat.completions.create({ ...ONCE, stream: true, top_p: 0 }).catch((x) => x);
    expect(e).toBeInstanceOf(InvalidRequestError);
    expect(e.param).toBe('top_p');
  });

  it('interruptGenerate mid-stream crosses the boundary: finish_reason "abort"', async () => {
    const chunks: ChatCompletionChunk[] = [];
    for await (const c of await client.chat.completions.create({ ...ONCE, max_tokens: 200, stream: true })) {
      chunks.push(c);
      if (chunks.length === 3) client.interruptGenerate();
    }
    expect(chunks[chunks.length - 1].choices[0].finish_reason).toBe('abort');
    expect(chunks.length).toBeLessThan(60);
  });

  it('breaking out of the loop interrupts the worker; unload mid-stream surfaces GenerationInterruptedError', async () => {
    for await (const c of await client.chat.completions.create({ ...ONCE, max_tokens: 200, stream: true })) if (c.choices[0].delta.content) break;
    await expect.poll(async () => (await client.getStats()).last?.finishReason).toBe('abort');

    const it = (await client.chat.completions.create({ ...ONCE, max_tokens: 200, stream: true }))[Symbol.asyncIterator]();
    await it.next();
    const unloaded = client.unload();
    const drained = (async () => {
      for (;;) if ((await it.next()).done) return;
    })();
    await expect(drained).rejects.toBeInstanceOf(GenerationInterruptedError);
    await unloaded;
    await expect(client.chat.completions.create(ONCE)).rejects.toBeInstanceOf(ModelNotLoadedError);
  });
});
