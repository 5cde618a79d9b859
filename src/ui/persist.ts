// What the app keeps in IndexedDB besides models (those are in src/store's database): the
// conversation, the settings, and package URLs the user added. One idb-keyval store of its own
// ("webmoe-ui" / "state"), so clearing it never touches downloaded weights.

import { createStore, del, get, set, type UseStore } from 'idb-keyval';

let db: UseStore | null = null;

function store(): UseStore {
  db ??= createStore('webmoe-ui', 'state');
  return db;
}

export async function load<T>(key: string): Promise<T | undefined> {
  const r = await tryLoad<T>(key);
  return r.ok ? r.value : undefined; // IndexedDB blocked (private mode, storage off): start fresh
}

/** A read that tells "nothing stored" from "could not read" (retried a few times). */
export async function tryLoad<T>(key: string, attempts = 3): Promise<{ ok: true; value: T | undefined } | { ok: false; error: unknown }> {
  let error: unknown = null;
  for (let i = 0; i < attempts; i++) {
    try {
      return { ok: true, value: (await get(key, store())) as T | undefined };
    } catch (e) {
      error = e;
      db = null; // reopen: the connection may have been closed under us
      await new Promise((r) => setTimeout(r, 100 * (i + 1)));
    }
  }
  return { ok: false, error };
}

export async function save<T>(key: string, value: T): Promise<void> {
  try {
    await set(key, value, store());
  } catch {
    // storage full or blocked: the app keeps working without persistence
  }
}

export async function remove(key: string): Promise<void> {
  try {
    await del(key, store());
  } catch {
    // as above
  }
}

/** Coalesce frequent saves (a streaming reply) into at most one write per `ms`. */
export function throttledSaver<T>(key: string, ms: number): { push(value: T): void; flush(): Promise<void> } {
  let pending: T | undefined;
  let timer: ReturnType<typeof setTimeout> | null = null;
  let writing: Promise<void> = Promise.resolve();
  const write = () => {
    timer = null;
    if (pending === undefined) return writing;
    const v = pending;
    pending = undefined;
    writing = writing.then(() => save(key, v));
    return writing;
  };
  return {
    push(value: T) {
      pending = value;
      timer ??= setTimeout(write, ms);
    },
    flush() {
      if (timer) clearTimeout(timer);
      return write();
    },
  };
}
