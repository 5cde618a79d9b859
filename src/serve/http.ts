// HTTP plumbing of `webmoe serve` on Node's http module: CORS, bearer tokens, bounded JSON
// bodies, JSON and error responses, and a Server-Sent Events writer that respects backpressure
// and notices a client that went away.

import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { InvalidJsonError, PayloadTooLargeError, UnauthorizedError, httpErrorOf } from './errors.ts';

// ---- CORS --------------------------------------------------------------------------------------

/** Which browser origins may call the server: none (same-origin and non-browser clients only), any, or a list. */
export type CorsPolicy = { kind: 'none' } | { kind: 'any' } | { kind: 'list'; origins: ReadonlySet<string> };

/** `--cors` value: "*" or a comma-separated list of origins (scheme://host[:port]). */
export function parseCors(value: string | undefined): CorsPolicy {
  if (value === undefined || value.trim() === '') return { kind: 'none' };
  if (value.trim() === '*') return { kind: 'any' };
  const origins = value.split(',').map((s) => s.trim()).filter(Boolean);
  for (const o of origins) {
    let u: URL;
    try {
      u = new URL(o);
    } catch {
      throw new RangeError(`--cors: "${o}" is not an origin; give "*" or origins like http://localhost:5173 (comma-separated)`);
    }
    if (u.origin !== o.replace(/\/$/, '')) throw new RangeError(`--cors: "${o}" is not an origin (no path); did you mean ${u.origin}?`);
  }
  return { kind: 'list', origins: new Set(origins.map((o) => o.replace(/\/$/, ''))) };
}

/** Set the CORS response headers for this request's Origin; true when the origin is allowed. */
export function applyCors(req: IncomingMessage, res: ServerResponse, policy: CorsPolicy): boolean {
  const origin = req.headers.origin;
  if (!origin || policy.kind === 'none') return false;
  if (policy.kind === 'list' && !policy.origins.has(origin)) return false;
  res.setHeader('Access-Control-Allow-Origin', policy.kind === 'any' ? '*' : origin);
  if (policy.kind === 'list') res.setHeader('Vary', 'Origin');
  res.setHeader('Access-Control-Expose-Headers', 'Retry-After');
  return true;
}

/** Answer a CORS preflight (OPTIONS). */
export function preflight(req: IncomingMessage, res: ServerResponse, allowed: boolean): void {
  if (allowed) {
    res.setHeader('Access-Control-Allow-Methods', 'GET, POST, OPTIONS');
    // the OpenAI SDK sends x-stainless-* headers: allow what the browser asks for
    res.setHeader('Access-Control-Allow-Headers', req.headers['access-control-request-headers'] ?? 'Authorization, Content-Type');
    res.setHeader('Access-Control-Max-Age', '600');
    // Chromium's Private Network Access: a public page calling a server on loopback or the LAN
    if (req.headers['access-control-request-private-network'] === 'true') res.setHeader('Access-Control-Allow-Private-Network', 'true');
  }
  res.writeHead(204).end();
}

// ---- auth --------------------------------------------------------------------------------------

/** Throws UnauthorizedError unless the request carries `Authorization: Bearer <key>`. */
export function checkBearer(req: IncomingMessage, key: string): void {
  const h = req.headers.authorization;
  const m = h ? /^Bearer\s+(.+)$/i.exec(h.trim()) : null;
  if (!m) throw new UnauthorizedError(!!h);
  // compare digests: equal length, constant time
  const digest = (s: string) => createHash('sha256').update(s).digest();
  if (!timingSafeEqual(digest(m[1].trim()), digest(key))) throw new UnauthorizedError(true);
}

// ---- bodies ------------------------------------------------------------------------------------

/** The request body parsed as JSON, at most `limit` bytes (413 before reading when Content-Length says more). */
export async function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) throw new PayloadTooLargeError(limit);
  const parts: Buffer[] = [];
  let size = 0;
  for await (const part of req as AsyncIterable<Buffer>) {
    size += part.length;
    if (size > limit) throw new PayloadTooLargeError(limit);
    parts.push(part);
  }
  const text = Buffer.concat(parts).toString('utf8');
  if (text.trim() === '') throw new InvalidJsonError('the body is empty');
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new InvalidJsonError((e as Error).message);
  }
}

// ---- responses ---------------------------------------------------------------------------------

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) return void res.end();
  const text = JSON.stringify(body);
  res.writeHead(status, { ...headers, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

/** The OpenAI error body for `e` with its status (and Retry-After, Allow, ... where they apply). */
export function sendError(res: ServerResponse, e: unknown): number {
  const h = httpErrorOf(e);
  sendJson(res, h.status, h.body, h.headers);
  return h.status;
}

/** Has the client closed the connection before the response was complete? */
export function clientGone(res: ServerResponse): boolean {
  return res.destroyed && !res.writableFinished;
}

/** Server-Sent Events in OpenAI's framing: `data: <json>\n\n` ... `data: [DONE]\n\n`. */
export class SseWriter {
  constructor(private readonly res: ServerResponse) {}

  open(): void {
    this.res.writeHead(200, {
      'Content-Type': 'text/event-stream; charset=utf-8',
      'Cache-Control': 'no-cache, no-transform',
      Connection: 'keep-alive',
      // reverse proxies (nginx) must not buffer the stream
      'X-Accel-Buffering': 'no',
    });
    this.res.flushHeaders();
  }

  /** Write one event; waits while the socket's buffer is full. False when the client is gone. */
  async data(payload: unknown): Promise<boolean> {
    return this.write(`data: ${typeof payload === 'string' ? payload : JSON.stringify(payload)}\n\n`);
  }

  async done(): Promise<void> {
    await this.write('data: [DONE]\n\n');
    this.res.end();
  }

  private write(text: string): Promise<boolean> {
    const res = this.res;
    if (res.destroyed || res.writableEnded) return Promise.resolve(false);
    if (res.write(text)) return Promise.resolve(true);
    return new Promise<boolean>((resolve) => {
      const onDrain = () => (cleanup(), resolve(true));
      const onClose = () => (cleanup(), resolve(false));
      const cleanup = () => {
        res.off('drain', onDrain);
        res.off('close', onClose);
      };
      res.on('drain', onDrain);
      res.on('close', onClose);
    });
  }
}
