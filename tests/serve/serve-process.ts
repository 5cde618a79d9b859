// A real `webmoe serve` process for the tests (and e2e/remote.spec.ts): spawned through
// bin/webmoe.mjs on a free port; ready once it prints its {"url", ...} line on stdout.

import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

const ROOT = join(import.meta.dirname, '..', '..');
export const BIN = join(ROOT, 'bin', 'webmoe.mjs');
export const DEFAULT_MODEL = join(ROOT, 'public', 'models', 'stories-moe-10m');

export interface ServeProcess {
  /** http://127.0.0.1:PORT */
  url: string;
  /** url + /v1 */
  baseUrl: string;
  model: string;
  proc: ChildProcess;
  /** everything the server wrote on stderr so far */
  stderr(): string;
  /** resolves with the exit code (null: killed by a signal) */
  exited: Promise<number | null>;
  /** SIGTERM and wait for the exit */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

export async function startServe(args: string[], opts: { env?: Record<string, string>; timeoutMs?: number } = {}): Promise<ServeProcess> {
  const proc = spawn(process.execPath, [BIN, 'serve', '--port', '0', '--backend', 'cpu', ...args], {
    cwd: ROOT,
    env: { ...process.env, ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  let out = '';
  proc.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<number | null>((r) => proc.once('exit', (code) => r(code)));
  const ready = await new Promise<{ url: string; baseUrl: string; model: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`webmoe serve did not get ready in time; stderr:\n${err}`)), opts.timeoutMs ?? 60_000);
    proc.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const nl = out.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        resolve(JSON.parse(out.slice(0, nl)));
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`webmoe serve exited with ${code} before it was ready; stderr:\n${err}`));
    });
  });
  return {
    ...ready,
    proc,
    stderr: () => err,
    exited,
    stop: async (signal = 'SIGTERM') => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
      return exited;
    },
  };
}

/** POST JSON to the server. */
export function postJson(url: string, body: unknown, headers: Record<string, string> = {}, signal?: AbortSignal): Promise<Response> {
  return fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body), signal });
}

/** The `data:` payloads of an SSE body, in order ([DONE] included). */
export async function sseData(res: Response): Promise<string[]> {
  const text = await res.text();
  return text
    .split('\n\n')
    .filter((e) => e.trim() !== '')
    .map((e) => {
      if (!e.startsWith('data: ')) throw new Error(`not an SSE data event: ${JSON.stringify(e)}`);
      return e.slice('data: '.length);
    });
}

/** A chunk or completion without what differs between two runs of the same request (id, created, timings). */
export function stable<T extends { id?: string; created?: number; usage?: unknown }>(x: T): Omit<T, 'id' | 'created'> {
  const { id: _id, created: _created, ...rest } = x;
  if (rest.usage && typeof rest.usage === 'object') {
    const { extra: _extra, ...u } = rest.usage as Record<string, unknown>;
    (rest as { usage: unknown }).usage = u;
  }
  return rest;
}
