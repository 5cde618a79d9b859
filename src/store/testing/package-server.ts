// A real HTTP server (Node) serving test packages from memory, for downloader tests in Node and in
// Chromium: counts every request, and injects the network faults the downloader must survive —
// a stall mid-body, a connection cut mid-body, a short body, an HTTP error status, throttling.
// CORS is open so a page of another origin (the Vite dev server) can fetch from it.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Fault =
  /** send `after` bytes of the body, then hold the connection open until the client leaves */
  | { kind: 'stall'; after: number }
  /** announce the full length, send `after` bytes, then destroy the socket */
  | { kind: 'cut'; after: number; times?: number }
  /** a clean response with only the first `bytes` bytes (and a matching Content-Length) */
  | { kind: 'short'; bytes: number; times?: number }
  | { kind: 'status'; status: number; times?: number };

export class PackageServer {
  /** `http://127.0.0.1:<port>` */
  url = '';
  /** request paths in arrival order, e.g. `/tiny/experts/L0-E1.bin` */
  readonly requests: string[] = [];
  /** paths whose body was sent completely */
  readonly completed: string[] = [];
  /** faults by request path (`/<package>/<file>`) */
  readonly faults = new Map<string, Fault>();
  /** body bytes per second per response; 0 = as fast as possible */
  throttle = 0;
  private readonly packages = new Map<string, Map<string, Uint8Array>>();
  private readonly server: Server;
  private readonly open = new Set<ServerResponse>();

  constructor() {
    this.server = createServer((req, res) => void this.handle(req, res));
  }

  async start(): Promise<this> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  /** Serve `files` under `/<name>/`; returns the package base URL. */
  add(name: string, files: Map<string, Uint8Array>): string {
    this.packages.set(name, files);
    return `${this.url}/${name}/`;
  }

  count(path: string): number {
    return this.requests.filter((p) => p === path).length;
  }

  reset(): void {
    this.requests.length = 0;
    this.completed.length = 0;
    this.faults.clear();
    this.throttle = 0;
  }

  async close(): Promise<void> {
    for (const r of this.open) r.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    res.setHeader('Access-Control-Allow-Origin', '*');
    res.setHeader('Cache-Control', 'no-store');
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    if (req.method === 'OPTIONS') return void res.writeHead(204).end();
    this.requests.push(path);
    const [, name, ...rest] = path.split('/');
    const body = this.packages.get(name)?.get(rest.join('/'));
    if (!body) return void res.writeHead(404).end('not found');

    const fault = this.faults.get(path);
    if (fault && 'times' in fault && fault.times !== undefined && --fault.times <= 0) this.faults.delete(path);
    if (fault?.kind === 'status') return void res.writeHead(fault.status).end('injected failure');

    let send = body;
    if (fault?.kind === 'short') send = body.subarray(0, fault.bytes);
    res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': String(send.byteLength) });
    this.open.add(res);
    let gone = false;
    res.on('close', () => {
      gone = true;
      this.open.delete(res);
    });
    const stopAt = fault?.kind === 'stall' || fault?.kind === 'cut' ? Math.min(fault.after, send.byteLength) : send.byteLength;
    const chunk = 16 * 1024;
    for (let at = 0; at < stopAt && !gone; at += chunk) {
      const piece = send.subarray(at, Math.min(stopAt, at + chunk));
      if (!res.write(piece)) await new Promise((r) => res.once('drain', r));
      if (this.throttle > 0) await new Promise((r) => setTimeout(r, (piece.byteLength / this.throttle) * 1000));
    }
    if (gone) return;
    if (fault?.kind === 'stall') return; // held until the client goes away (or close())
    if (fault?.kind === 'cut') return void res.socket?.destroy();
    res.end();
    this.completed.push(path);
  }
}
