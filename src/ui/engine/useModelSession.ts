// The model side of the app: the engine connection, the catalog, which model is loaded, load
// progress, errors, and the backend notice (CPU fallback when WebGPU is missing). The chat side
// (useChat) asks this for the engine and for recovery after a lost GPU device.

import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { IdbShardStore } from '../../store/idb.ts';
import { deleteModel } from '../../store/registry.ts';
import type { ShardStore } from '../../store/types.ts';
import { errorText } from '../format.ts';
import { buildCatalog, entryForQuery, fetchEmbedded, forgetAdded, rememberAdded, type CatalogEntry, type EmbeddedIndex } from '../models/catalog.ts';
import { connectRemote, entryForEndpoint, forgetRemote, rememberRemote, remoteEntry, type RemoteEndpoint } from '../models/remote-endpoints.ts';
import { load, save } from '../persist.ts';
import { expertBudgetBytes, type Settings } from '../settings/settings.ts';
import { connectEngine, probeWebGpu, type EngineConnection, type GpuProbe } from './connect.ts';
import { loadModel, type LoadProgress } from './loader.ts';
import type { ChatEngine } from './types.ts';

export type SessionStatus = 'starting' | 'idle' | 'loading' | 'ready' | 'error';

export interface ModelSession {
  status: SessionStatus;
  /** the model loaded, or being loaded */
  modelId: string | null;
  progress: LoadProgress | null;
  error: string | null;
  backend: string | null;
  backendNote: string | null;
  gpu: GpuProbe | null;
  catalog: CatalogEntry[];
  /** e.g. "GPU device lost: recovered" */
  notice: string | null;
  engine: ChatEngine | null;
  /** load options the current model was loaded with */
  loadedWith: { backend: Settings['backend']; expertBudgetMiB: number } | null;
  select(entry: CatalogEntry): Promise<void>;
  addUrl(url: string, id: string): Promise<void>;
  /** remember an OpenAI-compatible endpoint (and its key) and connect to it */
  addRemote(r: RemoteEndpoint): Promise<void>;
  remove(id: string): Promise<void>;
  refreshCatalog(): Promise<void>;
  /** reload the current model (settings changed, or after a lost device) */
  reloadCurrent(reason?: string): Promise<boolean>;
  cancel(): void;
  setNotice(text: string | null): void;
}

const LAST_MODEL_KEY = 'last-model';

export interface SessionOptions {
  settings: Settings;
  /** ?model=... of the page URL (or the widget's data-model) */
  requestedModel: string | null;
  /** ?endpoint=... (the widget's data-endpoint): requestedModel is then the model the endpoint serves */
  requestedEndpoint?: string | null;
  /** wait for this before starting the worker (the service worker taking control, first visit) */
  ready?: Promise<void>;
  /** key the last model is remembered under (the widget keeps its own) */
  scope: string;
}

export function useModelSession({ settings, requestedModel, requestedEndpoint, ready, scope }: SessionOptions): ModelSession {
  const [status, setStatus] = useState<SessionStatus>('starting');
  const [modelId, setModelId] = useState<string | null>(null);
  const [progress, setProgress] = useState<LoadProgress | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [backend, setBackend] = useState<{ name: string | null; note: string | null }>({ name: null, note: null });
  const [gpu, setGpu] = useState<GpuProbe | null>(null);
  const [catalog, setCatalog] = useState<CatalogEntry[]>([]);
  const [notice, setNotice] = useState<string | null>(null);
  const [engine, setEngine] = useState<ChatEngine | null>(null);
  const [loadedWith, setLoadedWith] = useState<ModelSession['loadedWith']>(null);

  const conn = useRef<EngineConnection | null>(null);
  /** the engine chats go to: the worker's, or a RemoteEngine while a remote entry is loaded */
  const active = useRef<ChatEngine | null>(null);
  const switchEngine = useCallback((e: ChatEngine) => {
    if (active.current !== e && active.current !== conn.current?.engine) void active.current?.unload().catch(() => {});
    active.current = e;
    setEngine(e);
  }, []);
  const store = useMemo<ShardStore | null>(() => (typeof indexedDB !== 'undefined' ? new IdbShardStore() : null), []);
  const embedded = useRef<EmbeddedIndex>({ default: null, models: [] });
  const current = useRef<CatalogEntry | null>(null);
  const abort = useRef<AbortController | null>(null);
  const settingsRef = useRef(settings);
  settingsRef.current = settings;
  const loadSeq = useRef(0);

  const refreshCatalog = useCallback(async () => {
    setCatalog(await buildCatalog(store, embedded.current));
  }, [store]);

  const doLoad = useCallback(
    async (entry: CatalogEntry): Promise<boolean> => {
      const c = conn.current;
      if (!c) return false;
      const seq = ++loadSeq.current;
      abort.current?.abort();
      const ac = new AbortController();
      abort.current = ac;
      current.current = entry;
      setModelId(entry.id);
      setStatus('loading');
      setError(null);
      setProgress({ phase: 'verify', fraction: 0, text: `Preparing ${entry.title}` });
      const s = settingsRef.current;
      // a remote entry: a RemoteEngine checked against the endpoint; the tab's model is unloaded
      const viaRemote = async () => {
        const remote = await connectRemote(entry, (p) => seq === loadSeq.current && setProgress({ phase: p.phase, fraction: p.progress, text: p.text }));
        if (seq !== loadSeq.current) return void remote.unload();
        void c.engine.unload().catch(() => {});
        switchEngine(remote);
        const st = await remote.getStats();
        return { backend: st.backend, backendNote: st.backendNote, downloaded: false };
      };
      try {
        if (!entry.remote) switchEngine(c.engine);
        const r = entry.remote ? await viaRemote() : await Promise.race([
          loadModel(c.engine, store, entry, {
            backend: s.backend,
            expertBudgetBytes: expertBudgetBytes(s.expertBudgetMiB),
            signal: ac.signal,
            onProgress: (p) => seq === loadSeq.current && setProgress(p),
          }),
          c.failed,
        ]);
        if (seq !== loadSeq.current || !r) return false;
        setBackend({ name: r.backend, note: r.backendNote });
        setLoadedWith({ backend: s.backend, expertBudgetMiB: s.expertBudgetMiB });
        setStatus('ready');
        setProgress(null);
        void save(`${LAST_MODEL_KEY}:${scope}`, { id: entry.id, url: entry.url });
        void refreshCatalog();
        return true;
      } catch (e) {
        if (seq !== loadSeq.current) return false;
        setStatus('error');
        setError(ac.signal.aborted ? 'Loading was cancelled.' : errorText(e));
        setProgress(null);
        void refreshCatalog();
        return false;
      }
    },
    [store, scope, refreshCatalog, switchEngine],
  );

  // start: service worker first (first visit), then the worker, the catalog and the default model
  useEffect(() => {
    let cancelled = false;
    void (async () => {
      await ready;
      if (cancelled) return;
      const c = connectEngine();
      conn.current = c;
      switchEngine(c.engine);
      void probeWebGpu().then((p) => !cancelled && setGpu(p));
      embedded.current = await fetchEmbedded();
      const cat = await buildCatalog(store, embedded.current);
      if (cancelled) return;
      setCatalog(cat);
      const last = await load<{ id: string; url: string | null }>(`${LAST_MODEL_KEY}:${scope}`);
      let pick: CatalogEntry | null = null;
      try {
        if (requestedEndpoint) pick = entryForEndpoint(requestedEndpoint, requestedModel);
        else if (requestedModel) pick = entryForQuery(requestedModel, cat);
      } catch (e) {
        setError(errorText(e));
        // an endpoint was asked for: do not load another model in its place
        if (requestedEndpoint) return void setStatus('error');
      }
      pick ??= (last && cat.find((e) => e.id === last.id)) ?? null;
      pick ??= cat.find((e) => e.id === embedded.current.default) ?? null;
      if (!pick) {
        setStatus('idle');
        return;
      }
      await doLoad(pick);
    })();
    return () => {
      cancelled = true;
      abort.current?.abort();
      conn.current?.close();
      conn.current = null;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  const select = useCallback(async (entry: CatalogEntry) => void (await doLoad(entry)), [doLoad]);

  const addUrl = useCallback(
    async (url: string, id: string) => {
      await rememberAdded(id, url);
      await doLoad({ id, url, title: id, embedded: false, added: true, status: null });
    },
    [doLoad],
  );

  const addRemote = useCallback(
    async (r: RemoteEndpoint) => {
      await rememberRemote(r);
      await doLoad(remoteEntry(r));
    },
    [doLoad],
  );

  const remove = useCallback(
    async (id: string) => {
      const c = conn.current;
      if (current.current?.id === id) {
        abort.current?.abort();
        loadSeq.current++;
        current.current = null;
        setModelId(null);
        setStatus('idle');
        setBackend({ name: null, note: null });
        await active.current?.unload().catch(() => {});
        await c?.engine.unload().catch(() => {});
      }
      if (!(await forgetRemote(id))) {
        if (store) await deleteModel(store, id);
        await forgetAdded(id);
      }
      await refreshCatalog();
    },
    [store, refreshCatalog],
  );

  const reloadCurrent = useCallback(
    async (reason?: string) => {
      const entry = current.current;
      if (!entry) return false;
      if (reason) setNotice(reason);
      return doLoad(entry);
    },
    [doLoad],
  );

  const cancel = useCallback(() => {
    abort.current?.abort();
    loadSeq.current++;
    current.current = null;
    setModelId(null);
    setStatus('idle');
    setProgress(null);
    setError('Loading was cancelled.');
    void conn.current?.engine.unload().catch(() => {});
  }, []);

  return {
    status,
    modelId,
    progress,
    error,
    backend: backend.name,
    backendNote: backend.note,
    gpu,
    catalog,
    notice,
    engine,
    loadedWith,
    select,
    addUrl,
    addRemote,
    remove,
    refreshCatalog,
    reloadCurrent,
    cancel,
    setNotice,
  };
}
