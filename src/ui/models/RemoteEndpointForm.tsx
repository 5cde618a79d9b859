// Add a remote endpoint (an OpenAI-compatible server: vLLM, SGLang, `webmoe serve`) as a model:
// its base URL, the model name it serves, and an optional API key, kept in this browser and sent
// only to that endpoint. Saved endpoints are listed with a button to forget them (and their key).

import { useState, type FormEvent } from 'react';
import type { CatalogEntry } from './catalog.ts';
import { parseEndpoint, type RemoteEndpoint } from './remote-endpoints.ts';

interface Props {
  catalog: CatalogEntry[];
  busy: boolean;
  onAdd(r: RemoteEndpoint): void;
  onRemove(id: string): void;
}

export function RemoteEndpointForm({ catalog, busy, onAdd, onRemove }: Props) {
  const [url, setUrl] = useState('');
  const [model, setModel] = useState('');
  const [key, setKey] = useState('');
  const [error, setError] = useState<string | null>(null);
  const saved = catalog.filter((e) => e.remote);

  const add = (ev: FormEvent) => {
    ev.preventDefault();
    try {
      const r = parseEndpoint(url, model, key);
      setError(null);
      setKey('');
      onAdd(r);
    } catch (e) {
      setError(e instanceof Error ? e.message : String(e));
    }
  };

  return (
    <details className="panel-section remote-endpoints" data-testid="remote-endpoints">
      <summary>Remote endpoint (vLLM, SGLang, webmoe serve)</summary>
      <form className="add-url" onSubmit={add}>
        <div className="field">
          <label htmlFor="remote-url">OpenAI base URL</label>
          <input id="remote-url" data-testid="remote-url" type="url" inputMode="url" placeholder="http://localhost:8000/v1" value={url} onChange={(e) => setUrl(e.target.value)} />
        </div>
        <div className="field">
          <label htmlFor="remote-model">Model name</label>
          <input id="remote-model" data-testid="remote-model" type="text" placeholder="MiniMaxAI/MiniMax-M2" value={model} onChange={(e) => setModel(e.target.value)} />
        </div>
        <div className="field">
          <label htmlFor="remote-key">API key (optional; kept in this browser, sent only to this endpoint)</label>
          <input id="remote-key" data-testid="remote-key" type="password" autoComplete="off" value={key} onChange={(e) => setKey(e.target.value)} />
        </div>
        <button type="submit" className="btn" disabled={busy || !url.trim() || !model.trim()} data-testid="remote-add">
          Connect
        </button>
        {error ? (
          <p className="field-error" role="alert">
            {error}
          </p>
        ) : null}
      </form>
      {saved.length ? (
        <ul className="storage-list">
          {saved.map((e) => (
            <li key={e.id} data-testid="remote-item">
              <span className="storage-name">{e.title}</span>
              <button type="button" className="btn small" aria-label={`Forget ${e.title} and its key`} onClick={() => onRemove(e.id)}>
                Forget
              </button>
            </li>
          ))}
        </ul>
      ) : null}
    </details>
  );
}
