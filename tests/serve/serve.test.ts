// `webmoe serve` as a real process over HTTP, on the embedded default model (stories-moe-10m, CPU):
// the same greedy request answers the same as the in-process engine (JSON and SSE), bad requests
// get OpenAI error bodies with the right status, a client that disconnects stops its generation,
// the queue holds or refuses with 429, the bearer token is checked, CORS, SIGTERM.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createNodeEngine } from '../../src/api/node.ts';
import type { WebMoeEngine } from '../../src/api/engine.ts';
import type { ChatCompletion, ChatCompletionChunk } from '../../src/api/types.ts';
import { DEFAULT_MODEL, postJson, sseData, stable, startServe, type ServeProcess } from './serve-process.ts';

const MESSAGES = [{ role: 'user' as const, content: 'Once upon a time' }];
const GREEDY = { messages: MESSAGES, temperature: 0, max_tokens: 20 };
/** long enough to be cut off: ~2-5 s of CPU decoding */
const LONG = { messages: MESSAGES, temperature: 0, max_tokens: 480, ignore_eos: true };

let engine: WebMoeEngine;
let srv: ServeProcess;

beforeAll(async () => {
  engine = createNodeEngine({ backend: 'cpu' });
  await engine.reload(DEFAULT_MODEL);
  srv = await startServe(['--model', DEFAULT_MODEL, '--max-body', '4096', '--cors', 'http://app.example']);
});
afterAll(async () => {
  await srv?.stop();
  await engine?.unload();
});

async function stats(s: ServeProcess = srv, headers: Record<string, string> = {}) {
  return (await (await fetch(`${s.url}/stats`, { headers })).json()) as {
    server: { clientAborts: number; completions: number; queue: { refused: number; active: boolean; waiting: number } };
    engine: { last: { finishReason: string; completionTokens: number } | null; requests: number; completionTokens: number };
  };
}

describe('webmoe serve: OpenAI API', () => {
  it('GET /v1/models, /v1/models/{id}, /health', async () => {
    const list = await (await fetch(`${srv.baseUrl}/models`)).json();
    expect(list).toMatchObject({ object: 'list', data: [{ id: 'stories-moe-10m', object: 'model', owned_by: 'webmoe' }] });
    expect(srv.model).toBe('stories-moe-10m');
    expect((await fetch(`${srv.baseUrl}/models/stories-moe-10m`)).status).toBe(200);
    const missing = await fetch(`${srv.baseUrl}/models/gpt-4`);
    expect(missing.status).toBe(404);
    expect((await missing.json()).error).toMatchObject({ param: 'model', code: 'model_not_found' });
    expect(await (await fetch(`${srv.url}/health`)).json()).toEqual({ status: 'ok', model: 'stories-moe-10m' });
  });

  it('JSON reply equals the in-process engine for the same greedy request, with usage', async () => {
    const want = await engine.chat.completions.create({ ...GREEDY, stream: false });
    const res = await postJson(`${srv.baseUrl}/chat/completions`, GREEDY);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    const got = (await res.json()) as ChatCompletion;
    expect(got.object).toBe('chat.completion');
    expect(got.id).toMatch(/^chatcmpl-/);
    expect(stable(got)).toEqual(stable(want));
    expect(got.usage).toMatchObject({ prompt_tokens: 5, completion_tokens: 20, total_tokens: 25 });
    expect(got.choices[0].message.content).toBe(want.choices[0].message.content);
    expect(got.choices[0].message.content!.length).toBeGreaterThan(20);
  });

  it('SSE stream equals the in-process stream chunk for chunk, usage with include_usage, ends with [DONE]', async () => {
    const want: ChatCompletionChunk[] = [];
    for await (const c of await engine.chat.completions.create({ ...GREEDY, stream: true, stream_options: { include_usage: true } })) want.push(c);
    const res = await postJson(`${srv.baseUrl}/chat/completions`, { ...GREEDY, stream: true, stream_options: { include_usage: true } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events = await sseData(res);
    expect(events.at(-1)).toBe('[DONE]');
    const got = events.slice(0, -1).map((e) => JSON.parse(e) as ChatCompletionChunk);
    expect(got.map(stable)).toEqual(want.map(stable));
    expect(new Set(got.map((c) => c.id)).size).toBe(1);
    expect(got.at(-1)!.usage).toMatchObject({ completion_tokens: 20 });
    expect(got.at(-2)!.choices[0].finish_reason).toBe('length');

    // without include_usage: no usage chunk
    const plain = (await sseData(await postJson(`${srv.baseUrl}/chat/completions`, { ...GREEDY, stream: true }))).slice(0, -1).map((e) => JSON.parse(e) as ChatCompletionChunk);
    expect(plain.map(stable)).toEqual(want.slice(0, -1).map(stable));
  });

  it('invalid requests: 400 with an OpenAI error body naming the param; 404 route and model; 405; 413', async () => {
    const bad = async (body: unknown, status: number) => {
      const res = await postJson(`${srv.baseUrl}/chat/completions`, body);
      expect(res.status).toBe(status);
      expect(res.headers.get('content-type')).toBe('application/json');
      const j = (await res.json()) as { error: { message: string; type: string; param: string | null; code: string | null } };
      expect(Object.keys(j.error).sort()).toEqual(['code', 'message', 'param', 'type']);
      return j.error;
    };
    expect(await bad({ ...GREEDY, temperature: 5 }, 400)).toMatchObject({ type: 'invalid_request_error', param: 'temperature', code: 'invalid_value' });
    expect(await bad({ temperature: 0 }, 400)).toMatchObject({ param: 'messages', code: 'missing_required_parameter' });
    expect(await bad({ messages: [{ role: 'wizard', content: 'x' }] }, 400)).toMatchObject({ param: 'messages[0].role' });
    expect(await bad({ ...GREEDY, frobnicate: 1 }, 400)).toMatchObject({ param: 'frobnicate', code: 'unknown_parameter' });
    expect(await bad('{"messages": [', 400)).toMatchObject({ code: 'invalid_json', param: null });
    expect(await bad({ ...GREEDY, max_tokens: 100_000 }, 400)).toMatchObject({ code: 'context_length_exceeded', param: 'messages' });
    expect((await bad({ ...GREEDY, model: 'gpt-4' }, 404)).message).toContain('stories-moe-10m');
    const big = await bad({ messages: [{ role: 'user', content: 'x'.repeat(5000) }] }, 413);
    expect(big.message).toContain('4096 bytes');

    const route = await fetch(`${srv.baseUrl}/completions`, { method: 'POST', body: '{}' });
    expect(route.status).toBe(404);
    expect((await route.json()).error.code).toBe('route_not_found');
    const method = await fetch(`${srv.baseUrl}/chat/completions`);
    expect(method.status).toBe(405);
    expect(method.headers.get('allow')).toBe('POST');
    // the server still serves after all that
    expect((await postJson(`${srv.baseUrl}/chat/completions`, GREEDY)).status).toBe(200);
  });

  it('CORS: the allowed origin gets headers and a preflight answer, another origin none', async () => {
    const pre = await fetch(`${srv.baseUrl}/chat/completions`, {
      method: 'OPTIONS',
      headers: { Origin: 'http://app.example', 'Access-Control-Request-Method': 'POST', 'Access-Control-Request-Headers': 'authorization, content-type' },
    });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe('http://app.example');
    expect(pre.headers.get('access-control-allow-headers')).toBe('authorization, content-type');
    expect(pre.headers.get('access-control-allow-methods')).toContain('POST');
    const other = await fetch(`${srv.baseUrl}/models`, { headers: { Origin: 'http://evil.example' } });
    expect(other.status).toBe(200);
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
    const err = await postJson(`${srv.baseUrl}/chat/completions`, { temperature: 9 }, { Origin: 'http://app.example' });
    expect(err.status).toBe(400);
    expect(err.headers.get('access-control-allow-origin')).toBe('http://app.example');
  });
});

describe('webmoe serve: disconnects and the queue', () => {
  it('a client that leaves a stream stops its generation; the next request is served at once', async () => {
    const before = await stats();
    const ac = new AbortController();
    const res = await postJson(`${srv.baseUrl}/chat/completions`, { ...LONG, stream: true }, {}, ac.signal);
    const reader = res.body!.getReader();
    let seen = 0;
    while (seen < 5) seen += (await reader.read()).value?.length ? 1 : 0;
    ac.abort();
    const t0 = performance.now();
    const next = await postJson(`${srv.baseUrl}/chat/completions`, { ...GREEDY, max_tokens: 3 });
    const ms = performance.now() - t0;
    expect(next.status).toBe(200);
    expect(((await next.json()) as ChatCompletion).usage!.completion_tokens).toBe(3);
    const after = await stats();
    expect(after.server.clientAborts).toBe(before.server.clientAborts + 1);
    expect(after.engine.requests).toBe(before.engine.requests + 2);
    expect(after.engine.last).toMatchObject({ finishReason: 'length', completionTokens: 3 });
    // the left stream stopped far short of its 480 tokens
    const abortedTokens = after.engine.completionTokens - before.engine.completionTokens - 3;
    expect(abortedTokens).toBeGreaterThanOrEqual(4);
    expect(abortedTokens).toBeLessThan(480);
    console.log(`next request after a disconnect served in ${ms.toFixed(0)} ms`);
  });

  it('a client that leaves a JSON request stops its generation (finish "abort" in the stats)', async () => {
    const before = await stats();
    const ac = new AbortController();
    const pending = postJson(`${srv.baseUrl}/chat/completions`, LONG, {}, ac.signal).catch((e: Error) => e);
    await new Promise((r) => setTimeout(r, 400));
    ac.abort();
    expect(await pending).toBeInstanceOf(Error);
    // wait for the server to wind down that reply
    for (let i = 0; i < 50 && (await stats()).engine.requests === before.engine.requests; i++) await new Promise((r) => setTimeout(r, 100));
    const after = await stats();
    expect(after.server.clientAborts).toBe(before.server.clientAborts + 1);
    expect(after.engine.last!.finishReason).toBe('abort');
    expect(after.engine.last!.completionTokens).toBeLessThan(480);
    expect(after.server.completions).toBe(before.server.completions);
  });

  it('--max-queue 1: one generates, one waits (FIFO), the third gets 429 with Retry-After', async () => {
    const q = await startServe(['--model', DEFAULT_MODEL, '--max-queue', '1', '--quiet']);
    try {
      const req = { ...LONG, max_tokens: 60 };
      const order: string[] = [];
      // the queue's state, not wall-clock waits, orders the requests (a fast host finished a
      // 60-token first reply inside fixed 150 ms waits): the first generates 480 tokens
      const until = async (what: string, ok: (q: { active: boolean; waiting: number }) => boolean) => {
        for (let i = 0; i < 500 && !ok((await stats(q)).server.queue); i++) await new Promise((r) => setTimeout(r, 10));
        if (!ok((await stats(q)).server.queue)) throw new Error(`the queue never got to: ${what}`);
      };
      const first = postJson(`${q.baseUrl}/chat/completions`, LONG).then(async (r) => (order.push('first'), await r.json(), r.status));
      await until('one generating', (s) => s.active);
      const second = postJson(`${q.baseUrl}/chat/completions`, req).then(async (r) => (order.push('second'), await r.json(), r.status));
      await until('one waiting', (s) => s.waiting === 1);
      const third = await postJson(`${q.baseUrl}/chat/completions`, req);
      expect(third.status).toBe(429);
      expect(Number(third.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect((await third.json()).error).toMatchObject({ code: 'queue_full', type: 'server_error' });
      expect(await first).toBe(200);
      expect(await second).toBe(200);
      expect(order).toEqual(['first', 'second']);
      const s = await stats(q);
      expect(s.server.queue.refused).toBe(1);
      expect(s.server.completions).toBe(2);
    } finally {
      await q.stop();
    }
  });
});

describe('webmoe serve: auth and shutdown', () => {
  it('--api-key (here from WEBMOE_API_KEY): 401 without or with a wrong bearer token, 200 with it; /health is open', async () => {
    const a = await startServe(['--model', DEFAULT_MODEL, '--quiet'], { env: { WEBMOE_API_KEY: 'sekrit-123' } });
    try {
      const none = await postJson(`${a.baseUrl}/chat/completions`, GREEDY);
      expect(none.status).toBe(401);
      expect(none.headers.get('www-authenticate')).toBe('Bearer');
      expect((await none.json()).error).toMatchObject({ code: 'invalid_api_key', type: 'invalid_request_error' });
      const wrong = await fetch(`${a.baseUrl}/models`, { headers: { Authorization: 'Bearer nope' } });
      expect(wrong.status).toBe(401);
      expect((await wrong.json()).error.message).toContain('Incorrect API key');
      expect((await fetch(`${a.url}/stats`)).status).toBe(401);
      const ok = await postJson(`${a.baseUrl}/chat/completions`, GREEDY, { Authorization: 'Bearer sekrit-123' });
      expect(ok.status).toBe(200);
      expect((await fetch(`${a.url}/health`)).status).toBe(200);
    } finally {
      await a.stop();
    }
  });

  it('SIGTERM: the stream in flight ends (interrupted after --shutdown-grace) with [DONE], new requests are refused, exit 0', async () => {
    const s = await startServe(['--model', DEFAULT_MODEL, '--shutdown-grace', '0.3', '--quiet']);
    const res = await postJson(`${s.baseUrl}/chat/completions`, { ...LONG, stream: true });
    const reader = res.body!.getReader();
    await reader.read();
    const t0 = performance.now();
    s.proc.kill('SIGTERM');
    let text = '';
    const dec = new TextDecoder();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      text += dec.decode(value, { stream: true });
    }
    const events = text.split('\n\n').filter(Boolean);
    expect(events.at(-1)).toBe('data: [DONE]');
    const finish = JSON.parse(events.at(-2)!.slice(6)) as ChatCompletionChunk;
    expect(finish.choices[0].finish_reason).toBe('abort');
    expect(await s.exited).toBe(0);
    expect(performance.now() - t0).toBeLessThan(10_000);
    expect(s.stderr()).toContain('SIGTERM: shutting down');
    await expect(fetch(`${s.url}/health`)).rejects.toThrow();
  });
});
