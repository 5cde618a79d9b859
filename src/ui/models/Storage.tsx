// Storage used per model, with delete; the browser's quota when it tells.

import { useEffect, useState } from 'react';
import { formatBytes } from '../format.ts';
import type { CatalogEntry } from './catalog.ts';

function useQuota(deps: unknown): { usage: number; quota: number } | null {
  const [q, setQ] = useState<{ usage: number; quota: number } | null>(null);
  useEffect(() => {
    void navigator.storage
      ?.estimate?.()
      .then((e) => setQ(e.quota ? { usage: e.usage ?? 0, quota: e.quota } : null))
      .catch(() => setQ(null));
  }, [deps]);
  return q;
}

export function Storage({ catalog, loadedId, onDelete }: { catalog: CatalogEntry[]; loadedId: string | null; onDelete(id: string): void }) {
  const stored = catalog.filter((e) => e.status && e.status.filesStored > 0);
  const quota = useQuota(catalog);
  const [confirm, setConfirm] = useState<string | null>(null);
  return (
    <section className="panel-section" aria-labelledby="storage-title">
      <h2 id="storage-title">Storage</h2>
      {stored.length === 0 ? <p className="muted">No models downloaded yet.</p> : null}
      <ul className="storage-list" data-testid="storage-list">
        {stored.map((e) => {
          const s = e.status!;
          return (
            <li key={e.id} data-testid="storage-item" data-model={e.id}>
              <span className="storage-name">{e.title}</span>
              <span className="storage-size">
                {formatBytes(s.bytesStored)}
                {s.complete ? '' : s.bytesTotal ? ` of ${formatBytes(s.bytesTotal)} (partial)` : ' (partial)'}
                {e.id === loadedId ? ' · loaded' : ''}
              </span>
              {confirm === e.id ? (
                <span className="row">
                  <button type="button" className="btn danger small" onClick={() => (setConfirm(null), onDelete(e.id))} data-testid="storage-delete-confirm">
                    Delete
                  </button>
                  <button type="button" className="btn small" onClick={() => setConfirm(null)}>
                    Keep
                  </button>
                </span>
              ) : (
                <button type="button" className="btn small" aria-label={`Delete ${e.title} from this device`} onClick={() => setConfirm(e.id)} data-testid="storage-delete">
                  Delete
                </button>
              )}
            </li>
          );
        })}
      </ul>
      {quota ? (
        <p className="muted small">
          This site uses {formatBytes(quota.usage)} of {formatBytes(quota.quota)} available to it.
        </p>
      ) : null}
    </section>
  );
}
