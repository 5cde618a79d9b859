// Which models the picker offers:
//   embedded  public/models/index.json: packages shipped with the app (its "default" is preselected)
//   added     package URLs the user entered (kept in IndexedDB)
//   cached    every model in the model store (IndexedDB), with its size and completeness
//   remote    OpenAI-compatible endpoints the user added (remote-endpoints.ts)
// An entry is identified by its store id; a URL (when known) lets a missing or partial model be
// downloaded (again).
//
// index.json: {"default": "<id>", "models": [{"id", "url" (relative to index.json), "title"?,
//              "description"?, "bytes"?}]}

import { modelIdFromUrl } from '../../store/download.ts';
import { listModels, type ModelStatus } from '../../store/registry.ts';
import type { ShardStore } from '../../store/types.ts';
import { load, save } from '../persist.ts';
import { loadRemotes, remoteEntry, remoteId } from './remote-endpoints.ts';

export interface CatalogEntry {
  id: string;
  url: string | null;
  title: string;
  description?: string;
  /** size announced by index.json (before download) */
  bytes?: number;
  embedded: boolean;
  added: boolean;
  /** store state; null when nothing of it is stored */
  status: ModelStatus | null;
  /** a model served by an OpenAI-compatible endpoint (remote-endpoints.ts), not downloaded */
  remote?: { baseUrl: string; model: string };
}

interface IndexModel {
  id?: string;
  url: string;
  title?: string;
  description?: string;
  bytes?: number;
}

export interface EmbeddedIndex {
  default: string | null;
  models: CatalogEntry[];
}

const ADDED_KEY = 'added-models';

export function indexUrl(): string {
  return new URL(`${import.meta.env.BASE_URL}models/index.json`, location.href).href;
}

/** public/models/index.json; an empty list when there is none (or it cannot be read). */
export async function fetchEmbedded(url = indexUrl()): Promise<EmbeddedIndex> {
  let raw: { default?: string; models?: IndexModel[] };
  try {
    const r = await fetch(url);
    if (!r.ok) return { default: null, models: [] };
    raw = (await r.json()) as typeof raw;
  } catch {
    return { default: null, models: [] };
  }
  const models = (Array.isArray(raw.models) ? raw.models : [])
    .filter((m) => m && typeof m.url === 'string')
    .map((m): CatalogEntry => {
      const abs = new URL(m.url, url).href;
      const id = m.id ?? modelIdFromUrl(abs);
      return { id, url: abs, title: m.title ?? id, description: m.description, bytes: m.bytes, embedded: true, added: false, status: null };
    });
  const def = typeof raw.default === 'string' && models.some((m) => m.id === raw.default) ? raw.default : (models[0]?.id ?? null);
  return { default: def, models };
}

export async function loadAdded(): Promise<{ id: string; url: string }[]> {
  const v = await load<{ id: string; url: string }[]>(ADDED_KEY);
  return Array.isArray(v) ? v.filter((x) => typeof x?.id === 'string' && typeof x?.url === 'string') : [];
}

export async function rememberAdded(id: string, url: string): Promise<void> {
  const list = (await loadAdded()).filter((x) => x.id !== id);
  await save(ADDED_KEY, [...list, { id, url }]);
}

export async function forgetAdded(id: string): Promise<void> {
  await save(
    ADDED_KEY,
    (await loadAdded()).filter((x) => x.id !== id),
  );
}

/** A package URL typed by the user: absolute, with a trailing slash (the folder of manifest.json). */
export function normalizePackageUrl(input: string): string {
  let s = input.trim();
  if (!s) throw new RangeError('Enter the URL of a WebMoE package (the folder that holds manifest.json).');
  s = s.replace(/manifest\.json(\?.*)?$/, '');
  const u = new URL(s, location.href);
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new RangeError(`"${input}" is not an http(s) URL.`);
  if (!u.pathname.endsWith('/')) u.pathname += '/';
  return u.href;
}

/** Everything the picker shows, embedded first, then added, then other cached models. */
export async function buildCatalog(store: ShardStore | null, embedded: EmbeddedIndex): Promise<CatalogEntry[]> {
  const [added, statuses] = await Promise.all([loadAdded(), store ? listModels(store).catch(() => []) : Promise.resolve([])]);
  const byId = new Map(statuses.map((s) => [s.modelId, s]));
  const out: CatalogEntry[] = embedded.models.map((m) => ({ ...m, status: byId.get(m.id) ?? null }));
  for (const a of added) {
    if (out.some((e) => e.id === a.id)) continue;
    out.push({ id: a.id, url: a.url, title: a.id, embedded: false, added: true, status: byId.get(a.id) ?? null });
  }
  for (const s of statuses) {
    if (out.some((e) => e.id === s.modelId)) continue;
    out.push({ id: s.modelId, url: s.source ?? null, title: s.modelId, embedded: false, added: false, status: s });
  }
  for (const r of await loadRemotes()) if (!out.some((e) => e.id === remoteId(r))) out.push(remoteEntry(r));
  return out;
}

/** An entry for a model named in the page URL (?model=...): a package URL or a store id. */
export function entryForQuery(model: string, catalog: CatalogEntry[]): CatalogEntry {
  const known = catalog.find((e) => e.id === model || e.url === model);
  if (known) return known;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(model) || model.startsWith('/') || model.startsWith('./')) {
    const url = normalizePackageUrl(model);
    const id = modelIdFromUrl(url);
    return catalog.find((e) => e.id === id) ?? { id, url, title: id, embedded: false, added: true, status: null };
  }
  return { id: model, url: null, title: model, embedded: false, added: false, status: null };
}
