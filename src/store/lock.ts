// One download (or delete) of a model at a time, across tabs: a Web Lock named after the model.
// Where navigator.locks is missing (Node, old browsers) an in-process lock gives the same
// guarantee inside one process.

import { DownloadAbortedError, DownloadLockedError } from './errors.ts';

export type IfLocked = 'wait' | 'fail';

export function lockName(modelId: string): string {
  return `webmoe:model:${modelId}`;
}

const local = new Map<string, Promise<unknown>>();

/** Run `fn` holding the model's lock; `ifLocked: 'fail'` throws DownloadLockedError instead of waiting. */
export async function withModelLock<T>(modelId: string, fn: () => Promise<T>, ifLocked: IfLocked = 'wait', signal?: AbortSignal): Promise<T> {
  const locks = (globalThis as { navigator?: Navigator }).navigator?.locks;
  const name = lockName(modelId);
  if (locks) {
    const run = async (lock: Lock | null) => {
      if (!lock) throw new DownloadLockedError(modelId);
      return fn();
    };
    try {
      return await (ifLocked === 'fail'
        ? locks.request(name, { ifAvailable: true }, run)
        : locks.request(name, signal ? { signal } : {}, run));
    } catch (e) {
      if ((e as Error)?.name === 'AbortError' && signal?.aborted) throw new DownloadAbortedError(modelId);
      throw e;
    }
  }
  const held = local.get(name);
  if (held && ifLocked === 'fail') throw new DownloadLockedError(modelId);
  const result = (held ?? Promise.resolve()).catch(() => {}).then(() => {
    if (signal?.aborted) throw new DownloadAbortedError(modelId);
    return fn();
  });
  local.set(name, result);
  try {
    return await result;
  } finally {
    if (local.get(name) === result) local.delete(name);
  }
}
