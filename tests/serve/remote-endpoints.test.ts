// The UI's remote endpoints (src/ui/models/remote-endpoints.ts) in Node, over fake-indexeddb:
// ids, input checks, and that a saved API key is used for exactly its base URL (a real keyed
// `webmoe serve`: reached as 127.0.0.1 the saved key works; reached as localhost — another base
// URL — no key is sent and the server answers 401).

import 'fake-indexeddb/auto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RemoteAuthError } from '../../src/api/remote.ts';
import { connectRemote, entryForEndpoint, forgetRemote, loadRemotes, parseEndpoint, rememberRemote, remoteEntry, remoteId } from '../../src/ui/models/remote-endpoints.ts';
import { DEFAULT_MODEL, startServe, type ServeProcess } from './serve-process.ts';

let srv: ServeProcess;
beforeAll(async () => {
  srv = await startServe(['--model', DEFAULT_MODEL, '--api-key', 'ui-key', '--quiet']);
});
afterAll(() => srv?.stop());

describe('remote endpoints of the UI', () => {
  it('ids, normalized URLs and input errors', () => {
    expect(remoteId({ baseUrl: 'http://gpu:8000/v1', model: 'MiniMaxAI/MiniMax-M2' })).toBe('MiniMaxAI/MiniMax-M2 @ gpu:8000');
    expect(remoteId({ baseUrl: 'https://x.example/api/v1', model: 'm' })).toBe('m @ x.example/api/v1');
    expect(parseEndpoint(' http://gpu:8000/ ', ' m ', '  ')).toEqual({ baseUrl: 'http://gpu:8000/v1', model: 'm' });
    expect(parseEndpoint('http://gpu:8000/v1/', 'm', ' k ')).toEqual({ baseUrl: 'http://gpu:8000/v1', model: 'm', apiKey: 'k' });
    expect(() => parseEndpoint('', 'm')).toThrow('Enter the endpoint URL');
    expect(() => parseEndpoint('gpu:8000', 'm')).toThrow('is not an http(s) URL');
    expect(() => parseEndpoint('http://gpu:8000/v1', ' ')).toThrow('Enter the model name');
    expect(() => entryForEndpoint('http://gpu:8000/v1', null)).toThrow('needs a model name too');
    expect(entryForEndpoint('http://gpu:8000/v1', 'm')).toMatchObject({ id: 'm @ gpu:8000', remote: { baseUrl: 'http://gpu:8000/v1', model: 'm' }, url: null });
  });

  it('a saved key is used for its base URL only', async () => {
    const r = parseEndpoint(srv.baseUrl, 'stories-moe-10m', 'ui-key');
    await rememberRemote(r);
    expect(await loadRemotes()).toEqual([r]);
    const engine = await connectRemote(remoteEntry(r), () => {});
    expect(engine.modelId).toBe('stories-moe-10m');
    expect((await engine.chat.completions.create({ messages: [{ role: 'user', content: 'Once' }], max_tokens: 2 })).usage!.completion_tokens).toBe(2);

    const sameServerOtherUrl = srv.baseUrl.replace('127.0.0.1', 'localhost');
    const e = await connectRemote(entryForEndpoint(sameServerOtherUrl, 'stories-moe-10m'), () => {}).catch((x: Error) => x);
    expect(e).toBeInstanceOf(RemoteAuthError);
    expect((e as Error).message).toContain('needs an API key');

    expect(await forgetRemote(remoteId(r))).toBe(true);
    expect(await forgetRemote(remoteId(r))).toBe(false);
    expect(await loadRemotes()).toEqual([]);
  });
});
