// WebMoeServer in this process, for what a spawned server makes hard to catch: the 503 window
// while the model loads (and a failed load), and the queue's own rules (FIFO, a waiter that
// leaves, close()).

import { afterEach, describe, expect, it } from 'vitest';
import { createNodeEngine } from '../../src/api/node.ts';
import { QueueFullError, ShuttingDownError, ClientGoneError } from '../../src/serve/errors.ts';
import { GenerationQueue } from '../../src/serve/queue.ts';
import { WebMoeServer } from '../../src/serve/server.ts';
import { DEFAULT_MODEL, postJson } from './serve-process.ts';

const REQ = { messages: [{ role: 'user', content: 'Once' }], temperature: 0, max_tokens: 4 };

let server: WebMoeServer | null = null;
afterEach(async () => {
  await server?.shutdown();
  server = null;
});

describe('WebMoeServer lifecycle', () => {
  it('503 with Retry-After while the model loads, 200 once ready', async () => {
    const engine = createNodeEngine({ backend: 'cpu' });
    server = new WebMoeServer(engine, { port: 0 });
    const url = await server.listen();
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const health = await fetch(`${url}/health`);
    expect(health.status).toBe(503);
    expect(health.headers.get('retry-after')).toBe('2');
    expect((await health.json()).error.code).toBe('model_loading');
    const chat = await postJson(`${url}/v1/chat/completions`, REQ);
    expect(chat.status).toBe(503);
    expect((await chat.json()).error).toMatchObject({ type: 'server_error', code: 'model_loading' });

    await engine.reload(DEFAULT_MODEL);
    server.setReady();
    expect((await fetch(`${url}/health`)).status).toBe(200);
    const ok = await postJson(`${url}/v1/chat/completions`, REQ);
    expect(ok.status).toBe(200);
    expect((await ok.json()).usage.completion_tokens).toBe(4);
    await engine.unload();
  });

  it('a failed load: 503 with the reason, no Retry-After', async () => {
    server = new WebMoeServer(createNodeEngine({ backend: 'cpu' }), { port: 0 });
    const url = await server.listen();
    server.setFailed('manifest.json: not found.');
    const res = await fetch(`${url}/v1/models`);
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBeNull();
    expect((await res.json()).error).toMatchObject({ code: 'model_load_failed' });
  });
});

describe('GenerationQueue', () => {
  it('first in, first out; a waiter that leaves gives up its place; full -> QueueFullError', async () => {
    const q = new GenerationQueue(2);
    const order: string[] = [];
    const r1 = await q.acquire();
    const gone = new AbortController();
    const p2 = q.acquire(gone.signal);
    const p3 = q.acquire().then((rel) => (order.push('third'), rel));
    await expect(q.acquire()).rejects.toBeInstanceOf(QueueFullError);
    gone.abort();
    await expect(p2).rejects.toBeInstanceOf(ClientGoneError);
    expect(q.waiting).toBe(1);
    const p4 = q.acquire().then((rel) => (order.push('fourth'), rel));
    r1();
    (await p3)();
    (await p4)();
    expect(order).toEqual(['third', 'fourth']);
    expect(q.active).toBe(false);
    expect(q.stats().refused).toBe(1);
  });

  it('close() refuses the waiters and later requests; idle() waits for the one holding the slot', async () => {
    const q = new GenerationQueue(4);
    const r1 = await q.acquire();
    const w = q.acquire();
    q.close();
    await expect(w).rejects.toBeInstanceOf(ShuttingDownError);
    await expect(q.acquire()).rejects.toBeInstanceOf(ShuttingDownError);
    let idle = false;
    const done = q.idle().then(() => (idle = true));
    await new Promise((r) => setTimeout(r, 10));
    expect(idle).toBe(false);
    r1();
    await done;
    expect(idle).toBe(true);
  });
});
