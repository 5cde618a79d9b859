// RemoteEngine against real `webmoe serve` processes: stream and whole replies equal the
// in-process engine's (the default model; the M2-format test model for reasoning and tool
// calls), interrupt and leaving a stream reach the server, and every failure is its typed error.

import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { WebMoeEngine } from '../../src/api/engine.ts';
import { GenerationInterruptedError, InvalidRequestError } from '../../src/api/errors.ts';
import { createNodeEngine } from '../../src/api/node.ts';
import { RemoteAuthError, RemoteEngine, RemoteModelNotFoundError, RemoteNetworkError, RemoteNotFoundError, RemoteRateLimitError, normalizeBaseUrl } from '../../src/api/remote.ts';
import { m2Package, WEATHER_TOOL } from '../../src/api/testing.ts';
import type { ChatCompletionChunk, ChatCompletionRequestStreaming } from '../../src/api/types.ts';
import { createNodeEngine as engineForServer } from '../../src/api/node.ts';
import { WebMoeServer } from '../../src/serve/server.ts';
import { DEFAULT_MODEL, postJson, stable, startServe, type ServeProcess } from './serve-process.ts';

const MESSAGES = [{ role: 'user' as const, content: 'Once upon a time' }];
const GREEDY = { messages: MESSAGES, temperature: 0, max_tokens: 20 };
const LONG = { messages: MESSAGES, temperature: 0, max_tokens: 480, ignore_eos: true };
const M2_REQ = { messages: [{ role: 'user' as const, content: 'Weather in Oslo?' }], tools: [WEATHER_TOOL], temperature: 0, max_tokens: 30 };

let local: WebMoeEngine;
let srv: ServeProcess;

beforeAll(async () => {
  local = createNodeEngine({ backend: 'cpu' });
  await local.reload(DEFAULT_MODEL);
  srv = await startServe(['--model', DEFAULT_MODEL, '--quiet']);
});
afterAll(async () => {
  await srv?.stop();
  await local?.unload();
});

async function collect(it: AsyncIterable<ChatCompletionChunk>): Promise<ChatCompletionChunk[]> {
  const out: ChatCompletionChunk[] = [];
  for await (const c of it) out.push(c);
  return out;
}

const withoutCallIds = (chunks: ChatCompletionChunk[]) =>
  chunks.map((c) => ({ ...stable(c), choices: c.choices.map((ch) => ({ ...ch, delta: { ...ch.delta, ...(ch.delta.tool_calls ? { tool_calls: ch.delta.tool_calls.map(({ id: _id, ...t }) => t) } : {}) } })) }));

async function serverStats(s: ServeProcess) {
  return (await (await fetch(`${s.url}/stats`)).json()) as { server: { clientAborts: number } };
}

describe('RemoteEngine on webmoe serve (default model)', () => {
  it('reload checks /models; stream and whole replies equal the in-process engine', async () => {
    const remote = new RemoteEngine({ baseUrl: srv.url }); // a bare origin means its /v1
    expect(remote.baseUrl).toBe(srv.baseUrl);
    const reports: string[] = [];
    await remote.reload(undefined, { initProgressCallback: (r) => reports.push(`${r.phase}: ${r.text}`) });
    expect(remote.modelId).toBe('stories-moe-10m');
    expect(reports.at(-1)).toBe(`ready: Connected to stories-moe-10m at ${srv.baseUrl}`);

    const req: ChatCompletionRequestStreaming = { ...GREEDY, stream: true, stream_options: { include_usage: true } };
    const want = await collect(await local.chat.completions.create(req));
    const got = await collect(await remote.chat.completions.create(req));
    expect(got.map(stable)).toEqual(want.map(stable));
    // without include_usage the usage chunk RemoteEngine asks for on its own is not handed out
    const plain = await collect(await remote.chat.completions.create({ ...GREEDY, stream: true }));
    expect(plain.map(stable)).toEqual(want.slice(0, -1).map(stable));

    const wantWhole = await local.chat.completions.create({ ...GREEDY, stream: false });
    const gotWhole = await remote.chat.completions.create({ ...GREEDY, stream: false });
    expect(stable(gotWhole)).toEqual(stable(wantWhole));
    expect(await remote.getMessage()).toBe(wantWhole.choices[0].message.content);
    expect(await remote.getConversation()).toEqual([...GREEDY.messages, { role: 'assistant', content: wantWhole.choices[0].message.content }]);

    const stats = await remote.getStats();
    expect(stats).toMatchObject({ model: 'stories-moe-10m', backend: 'remote', backendNote: srv.baseUrl, requests: 3, completionTokens: 60 });
    expect(await remote.runtimeStatsText()).toMatch(/^prefill: [\d.]+ tokens\/sec, decode: [\d.]+ tokens\/sec, time to first token: [\d.]+ ms, backend: remote/);
  });

  it('interruptGenerate: the stream ends with finish_reason "abort" and the server sees the client leave', async () => {
    const remote = new RemoteEngine({ baseUrl: srv.baseUrl, model: 'stories-moe-10m' });
    await remote.reload();
    const before = await serverStats(srv);
    const chunks: ChatCompletionChunk[] = [];
    for await (const c of await remote.chat.completions.create({ ...LONG, stream: true })) {
      chunks.push(c);
      if (chunks.length === 4) remote.interruptGenerate();
    }
    expect(chunks.at(-1)!.choices[0].finish_reason).toBe('abort');
    expect(chunks.length).toBeLessThan(100);
    expect((await remote.getStats()).last!.finishReason).toBe('abort');
    for (let i = 0; i < 50 && (await serverStats(srv)).server.clientAborts === before.server.clientAborts; i++) await new Promise((r) => setTimeout(r, 50));
    expect((await serverStats(srv)).server.clientAborts).toBe(before.server.clientAborts + 1);

    // leaving the for-await early does the same
    for await (const c of await remote.chat.completions.create({ ...LONG, stream: true })) if (c.choices[0]?.delta.content) break;
    for (let i = 0; i < 50 && (await serverStats(srv)).server.clientAborts === before.server.clientAborts + 1; i++) await new Promise((r) => setTimeout(r, 50));
    expect((await serverStats(srv)).server.clientAborts).toBe(before.server.clientAborts + 2);

    // and a whole reply interrupted comes back empty with finish "abort"
    const pending = remote.chat.completions.create({ ...LONG, stream: false });
    setTimeout(() => remote.interruptGenerate(), 200);
    expect((await pending).choices[0]).toMatchObject({ finish_reason: 'abort', message: { content: '' } });
  });

  it('unload() cuts a stream off with GenerationInterruptedError', async () => {
    const remote = new RemoteEngine({ baseUrl: srv.baseUrl });
    await remote.reload();
    const stream = await remote.chat.completions.create({ ...LONG, stream: true });
    const it = stream[Symbol.asyncIterator]();
    await it.next();
    await remote.unload();
    await expect((async () => {
      for (;;) if ((await it.next()).done) return;
    })()).rejects.toBeInstanceOf(GenerationInterruptedError);
    expect(remote.modelId).toBeNull();
  });

  it('typed errors: 400 InvalidRequestError with param, unknown model, wrong base path, closed port', async () => {
    const remote = new RemoteEngine({ baseUrl: srv.baseUrl });
    await remote.reload();
    const bad = await remote.chat.completions.create({ ...GREEDY, temperature: 7 }).catch((e: Error) => e);
    expect(bad).toBeInstanceOf(InvalidRequestError);
    expect(bad).toMatchObject({ param: 'temperature' });
    const stream400 = await remote.chat.completions.create({ ...GREEDY, stream: true, top_p: 0 }).catch((e: Error) => e);
    expect(stream400).toMatchObject({ param: 'top_p' });

    const wrongModel = await new RemoteEngine({ baseUrl: srv.baseUrl, model: 'MiniMaxAI/MiniMax-M2' }).reload().catch((e: Error) => e);
    expect(wrongModel).toBeInstanceOf(RemoteModelNotFoundError);
    expect((wrongModel as Error).message).toContain('It serves: "stories-moe-10m"');

    const wrongPath = await new RemoteEngine({ baseUrl: `${srv.url}/api` }).reload().catch((e: Error) => e);
    expect(wrongPath).toBeInstanceOf(RemoteNotFoundError);
    expect((wrongPath as Error).message).toContain('usually ends in /v1');

    const port = await freePort();
    const down = await new RemoteEngine({ baseUrl: `http://127.0.0.1:${port}/v1` }).reload().catch((e: Error) => e);
    expect(down).toBeInstanceOf(RemoteNetworkError);
    expect((down as Error).message).toMatch(/Could not reach http:\/\/127\.0\.0\.1:\d+\/v1 \(ECONNREFUSED\)/);
    expect(() => normalizeBaseUrl('ftp://x')).toThrow(RangeError);
  });
});

describe('RemoteEngine: auth, 429, a server still loading', () => {
  it('401 without or with a wrong key (RemoteAuthError); the key goes to the endpoint only', async () => {
    const a = await startServe(['--model', DEFAULT_MODEL, '--api-key', 'k-42', '--quiet']);
    try {
      const none = await new RemoteEngine({ baseUrl: a.baseUrl }).reload().catch((e: Error) => e);
      expect(none).toBeInstanceOf(RemoteAuthError);
      expect((none as Error).message).toContain('needs an API key');
      const wrong = await new RemoteEngine({ baseUrl: a.baseUrl, apiKey: 'nope' }).reload().catch((e: Error) => e);
      expect(wrong).toBeInstanceOf(RemoteAuthError);
      expect((wrong as RemoteAuthError).status).toBe(401);
      expect((wrong as Error).message).toContain('rejected the API key');

      const seen: { url: string; auth: string | null }[] = [];
      const remote = new RemoteEngine({
        baseUrl: a.baseUrl,
        apiKey: 'k-42',
        fetch: (input, init) => {
          seen.push({ url: String(input), auth: new Headers(init?.headers).get('authorization') });
          return fetch(input, init);
        },
      });
      await remote.reload();
      const r = await remote.chat.completions.create(GREEDY);
      expect(r.usage!.completion_tokens).toBe(20);
      expect(seen.length).toBe(2);
      for (const s of seen) {
        expect(s.url.startsWith(a.baseUrl + '/')).toBe(true);
        expect(s.auth).toBe('Bearer k-42');
      }
    } finally {
      await a.stop();
    }
  });

  it('429 with Retry-After when the queue is full (RemoteRateLimitError)', async () => {
    const q = await startServe(['--model', DEFAULT_MODEL, '--max-queue', '0', '--quiet']);
    try {
      const ac = new AbortController();
      const busy = await postJson(`${q.baseUrl}/chat/completions`, { ...LONG, stream: true }, {}, ac.signal);
      await busy.body!.getReader().read();
      const remote = new RemoteEngine({ baseUrl: q.baseUrl });
      await remote.reload();
      const e = await remote.chat.completions.create({ ...GREEDY, stream: true }).catch((x: Error) => x);
      expect(e).toBeInstanceOf(RemoteRateLimitError);
      expect((e as RemoteRateLimitError).retryAfterSeconds).toBeGreaterThanOrEqual(1);
      expect((e as Error).message).toMatch(/is busy \(HTTP 429: .*\)\. Try again in \d+ s\./);
      ac.abort();
    } finally {
      await q.stop();
    }
  });

  it('reload() waits while the server answers 503 (loading), then connects', async () => {
    const engine = engineForServer({ backend: 'cpu' });
    const server = new WebMoeServer(engine, { port: 0 });
    const url = await server.listen();
    try {
      const texts: string[] = [];
      const remote = new RemoteEngine({ baseUrl: `${url}/v1`, initProgressCallback: (r) => texts.push(r.text) });
      const reloading = remote.reload();
      await engine.reload(DEFAULT_MODEL);
      await new Promise((r) => setTimeout(r, 300));
      server.setReady();
      await reloading;
      expect(texts.some((t) => t.includes('is loading its model'))).toBe(true);
      expect(remote.modelId).toBe('stories-moe-10m');
    } finally {
      await server.shutdown();
      await engine.unload();
    }
  });
});

describe('RemoteEngine on webmoe serve (M2-format model: reasoning and tool calls)', () => {
  let m2: ServeProcess;
  let m2Local: WebMoeEngine;
  beforeAll(async () => {
    const dir = await m2Package(join(mkdtempSync(join(tmpdir(), 'webmoe-remote-')), 'm2'));
    m2 = await startServe(['--model', dir, '--quiet']);
    m2Local = createNodeEngine({ backend: 'cpu' });
    await m2Local.reload(dir);
  });
  afterAll(async () => {
    await m2?.stop();
    await m2Local?.unload();
  });

  it('reasoning_content and tool calls come through equal to the in-process engine (stream and whole)', async () => {
    const remote = new RemoteEngine({ baseUrl: m2.baseUrl });
    await remote.reload();
    const want = await collect(await m2Local.chat.completions.create({ ...M2_REQ, stream: true }));
    const got = await collect(await remote.chat.completions.create({ ...M2_REQ, stream: true }));
    expect(withoutCallIds(got)).toEqual(withoutCallIds(want));
    const reasoning = got.map((c) => c.choices[0]?.delta.reasoning_content ?? '').join('');
    const content = got.map((c) => c.choices[0]?.delta.content ?? '').join('');
    const calls = got.flatMap((c) => c.choices[0]?.delta.tool_calls ?? []);
    expect({ reasoning, content }).toEqual({ reasoning: 'Plan', content: 'Sure' });
    expect(calls).toMatchObject([{ index: 0, type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } }]);
    expect(got.at(-1)!.choices[0].finish_reason).toBe('tool_calls');
    // the conversation keeps the reply's reasoning and tool calls, as the in-process engine's does
    const streamedTurn = (await remote.getConversation()).at(-1);
    expect(streamedTurn).toMatchObject({ role: 'assistant', content: 'Sure', reasoning_content: 'Plan', tool_calls: [{ type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } }] });
    const noCallIds = (m: any) => ({ ...m, tool_calls: m.tool_calls.map(({ id: _, ...c }: any) => c) });
    expect(noCallIds(streamedTurn)).toEqual(noCallIds((await m2Local.getConversation()).at(-1)));

    const whole = await remote.chat.completions.create({ ...M2_REQ, stream: false });
    expect(whole.choices[0].message).toMatchObject({ role: 'assistant', content: 'Sure', reasoning_content: 'Plan', tool_calls: [{ type: 'function', function: { name: 'get_weather' } }] });
    expect(whole.choices[0].finish_reason).toBe('tool_calls');
    expect((await remote.getConversation()).at(-1)).toEqual(whole.choices[0].message);

    // wholeToolCalls: the same call, sent with the finish
    const merged = await collect(await new RemoteEngine({ baseUrl: m2.baseUrl, model: m2.model, wholeToolCalls: true }).chat.completions.create({ ...M2_REQ, stream: true }));
    const last = merged.at(-1)!.choices[0];
    expect(last.finish_reason).toBe('tool_calls');
    expect(last.delta.tool_calls).toMatchObject([{ index: 0, function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } }]);
  });
});

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}
