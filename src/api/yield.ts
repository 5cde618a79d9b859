// One turn of the event loop (a macrotask), so messages queued for this realm get handled while a
// long computation runs: the CPU runner's forward passes resolve as microtasks only, and a worker
// that never yields would see interruptGenerate() only after the reply is done.

type Scheduler = { yield?: () => Promise<void> };

let channel: MessageChannel | null = null;
const waiting: (() => void)[] = [];

function viaMessageChannel(): Promise<void> {
  if (!channel) {
    channel = new MessageChannel();
    channel.port1.onmessage = () => waiting.shift()?.();
    // Node: an open port keeps the process alive; unref it where that exists
    (channel.port1 as unknown as { unref?: () => void }).unref?.();
  }
  const c = channel;
  return new Promise((resolve) => {
    waiting.push(resolve);
    c.port2.postMessage(null);
  });
}

export function yieldToEventLoop(): Promise<void> {
  const s = (globalThis as { scheduler?: Scheduler }).scheduler;
  if (typeof s?.yield === 'function') return s.yield();
  if (typeof setImmediate === 'function') return new Promise((r) => setImmediate(r));
  return viaMessageChannel();
}
