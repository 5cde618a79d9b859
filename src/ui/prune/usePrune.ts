// "Prune to fit" state on the page: the selected model's manifest (from the IndexedDB store), the
// offer for the expert budget setting, and a pruning job in its own worker (prune-host.ts) with
// progress, result, error and cancel. After a run the catalog is refreshed so the pruned model
// shows in the picker ("On this device"); load() hands it to the model session.

import * as Comlink from 'comlink';
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { fromWireError } from '../../api/wire.ts';
import { MANIFEST_FILE, parseManifest, type Manifest } from '../../format/manifest.ts';
import type { PruneMethod } from '../../prune/saliency.ts';
import { IdbShardStore } from '../../store/idb.ts';
import { deleteModel } from '../../store/registry.ts';
import type { ShardStore } from '../../store/types.ts';
import type { ModelSession } from '../engine/useModelSession.ts';
import { errorText } from '../format.ts';
import type { CatalogEntry } from '../models/catalog.ts';
import { expertBudgetBytes } from '../settings/settings.ts';
import { START_PROGRESS, progressView, prunedModelId, pruneOfferFor, type PruneOffer, type PruneProgressView } from './offer.ts';
import type { PruneHost, PruneResult } from './prune-host.ts';

export type PruneJob =
  | { state: 'running'; sourceId: string; targetId: string; progress: PruneProgressView }
  | { state: 'done'; sourceId: string; targetId: string; result: PruneResult }
  | { state: 'error'; sourceId: string; targetId: string; message: string };

export interface PruneState {
  /** the offer for the selected model and the budget setting, or null */
  offer: PruneOffer | null;
  /** the job to show (running: always; done or failed: while its source model is selected) */
  job: PruneJob | null;
  method: PruneMethod;
  setMethod(m: PruneMethod): void;
  /** id the pruned model would get with the current method */
  targetId: string | null;
  /** the catalog entry of targetId when it is already complete in the store */
  existing: CatalogEntry | null;
  start(): void;
  cancel(): void;
  /** hide the offer for this model and budget (until either changes) */
  dismiss(): void;
  load(id: string): void;
}

async function readManifest(store: ShardStore, id: string): Promise<Manifest | null> {
  const bytes = await store.get(id, MANIFEST_FILE);
  if (!bytes) return null;
  try {
    return parseManifest(new TextDecoder().decode(bytes), `${store.name}/${id}/${MANIFEST_FILE}`);
  } catch {
    return null; // the loader reports a broken manifest; no offer for it
  }
}

interface Running {
  worker: Worker;
  targetId: string;
}

export function usePrune(session: ModelSession, expertBudgetMiB: number): PruneState {
  const store = useMemo<ShardStore | null>(() => (typeof indexedDB !== 'undefined' ? new IdbShardStore() : null), []);
  const [manifest, setManifest] = useState<{ id: string; manifest: Manifest } | null>(null);
  const [job, setJob] = useState<PruneJob | null>(null);
  const [method, setMethod] = useState<PruneMethod>('reap');
  const [dismissed, setDismissed] = useState<string | null>(null);
  const running = useRef<Running | null>(null);

  const modelId = session.modelId;
  const entry = session.catalog.find((e) => e.id === modelId) ?? null;
  const complete = !!entry && !entry.remote && !!entry.status?.complete;

  // the selected model's manifest, once the store holds the model completely
  useEffect(() => {
    if (!store || !modelId || !complete) return void setManifest(null);
    let live = true;
    void readManifest(store, modelId).then((m) => live && setManifest(m ? { id: modelId, manifest: m } : null));
    return () => {
      live = false;
    };
  }, [store, modelId, complete]);

  const budgetBytes = expertBudgetBytes(expertBudgetMiB);
  const offer = useMemo(
    () => (manifest && manifest.id === modelId ? pruneOfferFor(manifest.id, manifest.manifest, budgetBytes) : null),
    [manifest, modelId, budgetBytes],
  );
  const targetId = offer?.ratio ? prunedModelId(offer.modelId, offer.ratio, method) : null;
  const existingEntry = targetId ? session.catalog.find((e) => e.id === targetId && e.status?.complete) : undefined;
  const existing = existingEntry && job?.state !== 'running' ? existingEntry : null;

  const stop = useCallback(() => {
    running.current?.worker.terminate();
    running.current = null;
  }, []);
  useEffect(() => stop, [stop]);

  const { refreshCatalog, select } = session;

  const start = useCallback(() => {
    if (!offer?.ratio || !targetId || running.current) return;
    const sourceId = offer.modelId;
    const ratio = offer.ratio;
    const worker = new Worker(new URL('../../../workers/prune.worker.ts', import.meta.url), { type: 'module', name: 'webmoe-prune' });
    const me: Running = { worker, targetId };
    running.current = me;
    const live = () => running.current === me;
    setJob({ state: 'running', sourceId, targetId, progress: START_PROGRESS });
    const failed = new Promise<never>((_, reject) =>
      worker.addEventListener('error', (e) => reject(new Error(`The pruning worker failed: ${e.message || 'its script could not be loaded'}. Reload the page and try again.`))),
    );
    const host = Comlink.wrap<PruneHost>(worker);
    const onProgress = Comlink.proxy((p: Parameters<typeof progressView>[0]) => {
      if (live()) setJob({ state: 'running', sourceId, targetId, progress: progressView(p) });
    });
    void (async () => {
      try {
        const env = await Promise.race([host.prune({ sourceId, targetId, ratio, method }, onProgress), failed]);
        if (!live()) return;
        if (!env.ok) throw fromWireError(env.error);
        setJob({ state: 'done', sourceId, targetId, result: env.value });
      } catch (e) {
        if (!live()) return;
        setJob({ state: 'error', sourceId, targetId, message: errorText(e) });
        if (store) await deleteModel(store, targetId).catch(() => {});
      } finally {
        if (live()) stop();
        await refreshCatalog();
      }
    })();
  }, [offer, targetId, method, store, stop, refreshCatalog]);

  const cancel = useCallback(() => {
    const r = running.current;
    if (!r) return;
    stop(); // the worker dies mid-write; its lock on the target is released with it
    setJob((j) => (j && j.state === 'running' ? { state: 'error', sourceId: j.sourceId, targetId: j.targetId, message: 'Pruning was cancelled; nothing was kept.' } : j));
    void (async () => {
      if (store) await deleteModel(store, r.targetId).catch(() => {});
      await refreshCatalog();
    })();
  }, [stop, store, refreshCatalog]);

  const dismissKey = offer ? `${offer.modelId}@${offer.budgetBytes}` : null;
  const dismiss = useCallback(() => setDismissed(dismissKey), [dismissKey]);

  const load = useCallback(
    (id: string) => {
      const e = session.catalog.find((x) => x.id === id) ?? { id, url: null, title: id, embedded: false, added: false, status: null };
      void select(e);
    },
    [session.catalog, select],
  );

  const shownJob = job && (job.state === 'running' || job.sourceId === modelId) ? job : null;
  return {
    offer: dismissKey !== null && dismissKey === dismissed && !shownJob ? null : offer,
    job: shownJob,
    method,
    setMethod,
    targetId,
    existing,
    start,
    cancel,
    dismiss,
    load,
  };
}
