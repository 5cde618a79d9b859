// The generation queue of `webmoe serve`: one reply at a time per model (the engine generates
// one at a time), others wait first-in first-out, at most `maxWaiting` of them; one more is
// refused with QueueFullError (HTTP 429) carrying a Retry-After estimate from recent reply times.
//
//   const release = await queue.acquire(signal);   // waits its turn; signal: the client left
//   try { ...generate... } finally { release(); }   // the next waiter starts
//
// close() refuses the waiters and every later acquire() with ShuttingDownError; idle() resolves
// when nothing holds the slot (graceful shutdown waits on it).

import { ClientGoneError, QueueFullError, ShuttingDownError } from './errors.ts';

interface Waiter {
  grant: () => void;
  refuse: (e: Error) => void;
}

export interface QueueStats {
  active: boolean;
  waiting: number;
  maxWaiting: number;
  /** how many acquire() calls were refused because the queue was full */
  refused: number;
  /** mean hold time of recent slots, ms (exponential moving average); null before the first */
  meanHoldMs: number | null;
}

export class GenerationQueue {
  private held = false;
  private heldSince = 0;
  private readonly waiters: Waiter[] = [];
  private closed = false;
  private refused = 0;
  private meanHoldMs: number | null = null;
  private idleWaiters: (() => void)[] = [];

  constructor(readonly maxWaiting: number) {
    if (!Number.isInteger(maxWaiting) || maxWaiting < 0) throw new RangeError(`maxWaiting must be a non-negative integer, got ${maxWaiting}`);
  }

  get active(): boolean {
    return this.held;
  }

  get waiting(): number {
    return this.waiters.length;
  }

  stats(): QueueStats {
    return { active: this.held, waiting: this.waiters.length, maxWaiting: this.maxWaiting, refused: this.refused, meanHoldMs: this.meanHoldMs };
  }

  /** Seconds until a request arriving now would likely start: a hint for Retry-After (1..600). */
  retryAfterSeconds(): number {
    const mean = this.meanHoldMs ?? 1000;
    return Math.min(600, Math.max(1, Math.ceil((mean * (this.waiters.length + 1)) / 1000)));
  }

  /** Wait for the slot; resolves with its release function. */
  acquire(signal?: AbortSignal): Promise<() => void> {
    if (this.closed) return Promise.reject(new ShuttingDownError());
    if (signal?.aborted) return Promise.reject(new ClientGoneError());
    if (!this.held) return Promise.resolve(this.take());
    if (this.waiters.length >= this.maxWaiting) {
      this.refused++;
      return Promise.reject(new QueueFullError(this.waiters.length, this.retryAfterSeconds()));
    }
    return new Promise<() => void>((resolve, reject) => {
      const onAbort = () => {
        const i = this.waiters.indexOf(w);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(new ClientGoneError());
      };
      const w: Waiter = {
        grant: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve(this.take());
        },
        refuse: (e) => {
          signal?.removeEventListener('abort', onAbort);
          reject(e);
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(w);
    });
  }

  private take(): () => void {
    this.held = true;
    this.heldSince = performance.now();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const ms = performance.now() - this.heldSince;
      this.meanHoldMs = this.meanHoldMs === null ? ms : 0.7 * this.meanHoldMs + 0.3 * ms;
      this.held = false;
      const next = this.waiters.shift();
      if (next) next.grant();
      else {
        const idle = this.idleWaiters;
        this.idleWaiters = [];
        for (const f of idle) f();
      }
    };
  }

  /** Refuse the waiting requests and all later ones (the one holding the slot goes on). */
  close(): void {
    this.closed = true;
    for (const w of this.waiters.splice(0)) w.refuse(new ShuttingDownError());
  }

  /** Resolves once no request holds the slot. */
  idle(): Promise<void> {
    if (!this.held) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }
}
