// Remote endpoints as models of the picker: an OpenAI-compatible server (vLLM, SGLang,
// `webmoe serve`) and the model name it serves, for models that outgrow the tab.
//
// Endpoints the user adds are kept in this origin's IndexedDB (persist.ts, key
// "remote-endpoints"), with the optional API key. The key is handed only to a RemoteEngine for
// that same base URL, which sends it only in requests to that URL. A page URL (?endpoint=...) or
// the widget's data-endpoint names an endpoint without a key; a key the user saved for exactly
// that base URL is used for it, so a host page cannot point a saved key at another server.

import { RemoteEngine, normalizeBaseUrl } from '../../api/remote.ts';
import type { WebMoeInitProgressReport } from '../../api/progress.ts';
import { load, save } from '../persist.ts';
import type { CatalogEntry } from './catalog.ts';

export interface RemoteEndpoint {
  baseUrl: string;
  model: string;
  /** sent as a bearer token to baseUrl only */
  apiKey?: string;
}

const KEY = 'remote-endpoints';

/** The picker id of an endpoint's model: "MODEL @ host:port" (plus the path when it is not /v1). */
export function remoteId(r: Pick<RemoteEndpoint, 'baseUrl' | 'model'>): string {
  const u = new URL(r.baseUrl);
  return `${r.model} @ ${u.host}${u.pathname === '/v1' ? '' : u.pathname}`;
}

export function remoteEntry(r: RemoteEndpoint): CatalogEntry {
  return { id: remoteId(r), url: null, title: remoteId(r), embedded: false, added: false, status: null, remote: { baseUrl: r.baseUrl, model: r.model } };
}

/** Check and normalize what the user typed; throws RangeError with what to fix. */
export function parseEndpoint(baseUrl: string, model: string, apiKey?: string): RemoteEndpoint {
  if (!baseUrl.trim()) throw new RangeError('Enter the endpoint URL, e.g. http://localhost:8000/v1.');
  let url: string;
  try {
    url = normalizeBaseUrl(baseUrl);
  } catch {
    throw new RangeError(`"${baseUrl}" is not an http(s) URL. Enter the OpenAI base URL, e.g. http://localhost:8000/v1.`);
  }
  if (!model.trim()) throw new RangeError('Enter the model name the endpoint serves (GET <url>/models lists them).');
  return { baseUrl: url, model: model.trim(), ...(apiKey?.trim() ? { apiKey: apiKey.trim() } : {}) };
}

export async function loadRemotes(): Promise<RemoteEndpoint[]> {
  const v = await load<RemoteEndpoint[]>(KEY);
  return Array.isArray(v) ? v.filter((r) => typeof r?.baseUrl === 'string' && typeof r?.model === 'string') : [];
}

export async function rememberRemote(r: RemoteEndpoint): Promise<void> {
  const list = (await loadRemotes()).filter((x) => remoteId(x) !== remoteId(r));
  await save(KEY, [...list, r]);
}

export async function forgetRemote(id: string): Promise<boolean> {
  const list = await loadRemotes();
  const kept = list.filter((x) => remoteId(x) !== id);
  if (kept.length === list.length) return false;
  await save(KEY, kept);
  return true;
}

/** The saved key for exactly this base URL (and model, if one is saved for it), if any. */
async function savedKey(baseUrl: string, model: string): Promise<string | undefined> {
  const list = (await loadRemotes()).filter((x) => x.baseUrl === baseUrl && x.apiKey);
  return (list.find((x) => x.model === model) ?? list[0])?.apiKey;
}

/** An entry for ?endpoint=URL&model=NAME (the widget's data-endpoint / data-model). */
export function entryForEndpoint(endpoint: string, model: string | null): CatalogEntry {
  if (!model?.trim()) throw new RangeError(`The endpoint ${endpoint} needs a model name too (data-model on the widget, &model= in the page URL).`);
  return remoteEntry(parseEndpoint(endpoint, model));
}

/** Connect to a remote entry: a RemoteEngine for it, checked against the endpoint's /models. */
export async function connectRemote(entry: CatalogEntry, onProgress: (r: WebMoeInitProgressReport) => void): Promise<RemoteEngine> {
  const r = entry.remote!;
  const engine = new RemoteEngine({
    baseUrl: r.baseUrl,
    model: r.model,
    apiKey: await savedKey(r.baseUrl, r.model),
    // whole tool calls, as the in-tab engine streams them (the chat shows one line per call)
    wholeToolCalls: true,
  });
  await engine.reload(r.model, { initProgressCallback: onProgress });
  return engine;
}
