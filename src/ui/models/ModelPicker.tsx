// Model picker: the embedded default, models in the cache, and a package added by URL.

import { useState, type FormEvent } from 'react';
import { modelIdFromUrl } from '../../store/download.ts';
import { formatBytes } from '../format.ts';
import { normalizePackageUrl, type CatalogEntry } from './catalog.ts';

function label(e: CatalogEntry): string {
  if (e.remote) return `${e.title} — remote endpoint`;
  const s = e.status;
  const size = s?.complete ? formatBytes(s.bytesStored) : e.bytes ? formatBytes(e.bytes) : null;
  const state = s?.complete ? 'cached' : s && s.filesStored > 0 ? 'partial' : e.url ? 'download' : 'missing';
  return `${e.title} — ${state}${size ? `, ${size}` : ''}`;
}

const GROUPS: [string, (e: CatalogEntry) => boolean][] = [
  ['Built in', (e) => e.embedded],
  ['Added by URL', (e) => !e.embedded && e.added],
  ['On this device', (e) => !e.embedded && !e.added && !e.remote],
  ['Remote endpoints', (e) => !!e.remote],
];

interface Props {
  catalog: CatalogEntry[];
  selectedId: string | null;
  busy: boolean;
  onSelect(e: CatalogEntry): void;
  onAddUrl(url: string, id: string): void;
}

export function ModelPicker({ catalog, selectedId, busy, onSelect, onAddUrl }: Props) {
  const [url, setUrl] = useState('');
  const [urlError, setUrlError] = useState<string | null>(null);

  const add = (ev: FormEvent) => {
    ev.preventDefault();
    try {
      const u = normalizePackageUrl(url);
      setUrlError(null);
      setUrl('');
      onAddUrl(u, modelIdFromUrl(u));
    } catch (e) {
      setUrlError(e instanceof Error ? e.message : String(e));
    }
  };

  return (
    <section className="panel-section" aria-labelledby="model-title">
      <h2 id="model-title">Model</h2>
      <label htmlFor="model-select">Model</label>
      <select
        id="model-select"
        data-testid="model-select"
        value={selectedId ?? ''}
        disabled={busy}
        onChange={(e) => {
          const entry = catalog.find((x) => x.id === e.target.value);
          if (entry) onSelect(entry);
        }}
      >
        {selectedId === null ? <option value="">Choose a model…</option> : null}
        {selectedId !== null && !catalog.some((e) => e.id === selectedId) ? <option value={selectedId}>{selectedId}</option> : null}
        {GROUPS.map(([name, pick]) => {
          const entries = catalog.filter(pick);
          return entries.length ? (
            <optgroup key={name} label={name}>
              {entries.map((e) => (
                <option key={e.id} value={e.id}>
                  {label(e)}
                </option>
              ))}
            </optgroup>
          ) : null;
        })}
      </select>
      <form className="add-url" onSubmit={add}>
        <label htmlFor="model-url">Add a model package by URL</label>
        <div className="row">
          <input
            id="model-url"
            data-testid="model-url"
            type="url"
            inputMode="url"
            placeholder="https://example.com/models/my-model/"
            value={url}
            onChange={(e) => setUrl(e.target.value)}
            aria-invalid={urlError ? true : undefined}
            aria-describedby={urlError ? 'model-url-error' : undefined}
          />
          <button type="submit" className="btn" disabled={busy || !url.trim()} data-testid="model-url-add">
            Load
          </button>
        </div>
        {urlError ? (
          <p id="model-url-error" className="field-error" role="alert">
            {urlError}
          </p>
        ) : null}
      </form>
    </section>
  );
}
