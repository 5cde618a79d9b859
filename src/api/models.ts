// Where reload() finds a model, and what a loaded model is made of.
//
//   reload(x): x is, in this order of lookup,
//     1. a model_id of the app config (WebLLM's appConfig.model_list: {model_id, model_url})
//     2. a local directory (Node only, through the `openLocal` hook: a package or an HF checkpoint)
//     3. a package URL (http(s)://..., /path/, ./path/): downloaded into the ShardStore unless
//        already complete there, then opened from the store
//     4. the id of a model already complete in the ShardStore (IndexedDB in the browser)
//
// Opening gives ModelFiles: a DirSource for the tokenizer, template and generation_config, the
// canonical weights (CPU reference) and the packed form (GPU runner). chatModelOf() then reads the
// tokenizer, the chat template, stop ids and the model's sampling defaults.

import { loadChatTemplate, type ChatTemplate } from '../generate/chat-template.ts';
import type { ChatModel } from '../generate/chat.ts';
import type { SamplingParams } from '../generate/sampler.ts';
import { loadTokenizer, stopTokenIds, type TextTokenizer } from '../generate/tokenizer.ts';
import { openPackage } from '../format/package.ts';
import type { PackedModel } from '../format/quant-layout.ts';
import type { DirSource } from '../format/source.ts';
import type { WeightSource } from '../format/weights.ts';
import type { ModelRunner } from '../model/runner.ts';
import { downloadModel, modelIdFromUrl, type DownloadProgress } from '../store/download.ts';
import { storeDir } from '../store/dir.ts';
import { assertComplete, modelStatus } from '../store/registry.ts';
import type { ShardStore } from '../store/types.ts';
import { ModelFilesError, ModelSourceError } from './load-errors.ts';

/** One entry of an app config: WebLLM names the URL `model`; `model_url` is accepted too. */
export interface AppConfigModel {
  model_id: string;
  model_url?: string;
  model?: string;
}

export interface AppConfig {
  model_list: AppConfigModel[];
}

/** A model opened for reading, before any runner exists. */
export interface ModelFiles {
  /** the id stats, chunks and the cache use */
  id: string;
  /** tokenizer.json, tokenizer_config.json, chat_template.jinja, generation_config.json */
  dir: DirSource;
  weights: WeightSource;
  packed: () => Promise<PackedModel>;
  /** the store the model lives in, when it does */
  store?: ShardStore;
  origin: 'download' | 'cache' | 'local';
}

/** Node: open a local directory (package or HF checkpoint); null when `path` is not one. */
export type LocalOpener = (path: string) => Promise<Omit<ModelFiles, 'origin'> | null>;

export interface ResolveOptions {
  store?: ShardStore;
  appConfig?: AppConfig;
  openLocal?: LocalOpener;
  /** id for a URL's model in the store (default: the URL's last path segment) */
  modelId?: string;
  /** sha256 of every tensor and blob read (default true) */
  verify?: boolean;
  fetch?: typeof fetch;
  signal?: AbortSignal;
  /** called when a download is needed, before it starts */
  onDownloadStart?: () => void;
  /** called before a model in the store is checked and opened */
  onVerify?: (id: string) => void;
  onDownload?: (p: DownloadProgress) => void;
}

export function isUrlLike(s: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(s) || s.startsWith('/') || s.startsWith('./') || s.startsWith('../');
}

function appConfigUrl(appConfig: AppConfig | undefined, id: string): string | null {
  const m = appConfig?.model_list.find((r) => r.model_id === id);
  if (!m) return null;
  const url = m.model_url ?? m.model;
  if (!url) throw new ModelSourceError(id, 'its app config entry has neither model_url nor model; give the package URL (the folder that holds manifest.json).');
  return url;
}

/** A package in a store as ModelFiles (the store must hold it completely). */
export async function openFromStore(store: ShardStore, id: string, verify: boolean, origin: ModelFiles['origin']): Promise<ModelFiles> {
  await assertComplete(store, id);
  const dir = storeDir(store, id);
  const pkg = await openPackage(dir, { verify });
  return { id, dir, weights: pkg.weights(), packed: async () => pkg, store, origin };
}

/** Find and open `model` (see the lookup order at the top of this file). */
export async function resolveModel(model: string, opts: ResolveOptions): Promise<ModelFiles> {
  const verify = opts.verify ?? true;
  const configured = appConfigUrl(opts.appConfig, model);
  const url = configured ?? (isUrlLike(model) ? model : null);
  const id = configured ? model : opts.modelId;

  if (!configured && opts.openLocal) {
    const local = await opts.openLocal(model);
    if (local) return { ...local, origin: 'local' };
  }
  if (url !== null) {
    if (!opts.store) {
      if (opts.openLocal) throw new ModelSourceError(model, 'no such package directory or checkpoint directory, and downloading needs a store (createNodeEngine({ cacheDir })).');
      throw new ModelSourceError(model, 'downloading a package needs a model store, and IndexedDB is not available here. Pass { store } to createEngine().');
    }
    const storeId = id ?? modelIdFromUrl(url);
    if ((await modelStatus(opts.store, storeId)).complete) {
      opts.onVerify?.(storeId);
      return openFromStore(opts.store, storeId, verify, 'cache');
    }
    opts.onDownloadStart?.();
    await downloadModel(opts.store, url, { modelId: storeId, fetch: opts.fetch, signal: opts.signal, onProgress: opts.onDownload });
    opts.onVerify?.(storeId);
    return openFromStore(opts.store, storeId, verify, 'download');
  }
  if (opts.store && (await opts.store.models()).includes(model)) {
    opts.onVerify?.(model);
    return openFromStore(opts.store, model, verify, 'cache');
  }
  const known = opts.appConfig?.model_list.map((m) => m.model_id) ?? [];
  throw new ModelSourceError(
    model,
    `it is not a package URL, not a model in the cache${opts.store ? ` (${opts.store.name})` : ''}` +
      (opts.openLocal ? ', not a local package or checkpoint directory' : '') +
      (known.length ? `, and not one of the app config's models (${known.join(', ')})` : ', and no app config lists it') +
      '. Pass the URL of the folder that holds manifest.json.',
  );
}

/** Model-side sampling defaults and extra stop ids from generation_config.json. */
export interface GenerationDefaults {
  sampling: Partial<SamplingParams>;
  eosTokenIds: number[];
}

export async function readGenerationConfig(dir: DirSource): Promise<GenerationDefaults> {
  const text = await dir.readText('generation_config.json');
  if (text === null) return { sampling: {}, eosTokenIds: [] };
  let g: Record<string, unknown>;
  try {
    g = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return { sampling: {}, eosTokenIds: [] };
  }
  const sampling: Partial<SamplingParams> = {};
  const num = (k: keyof SamplingParams & string) => {
    if (typeof g[k] === 'number' && Number.isFinite(g[k])) (sampling as Record<string, number>)[k] = g[k] as number;
  };
  for (const k of ['temperature', 'top_p', 'top_k', 'min_p', 'repetition_penalty'] as const) num(k);
  if (g.do_sample === false) sampling.temperature = 0;
  const eos = g.eos_token_id;
  const eosTokenIds = (Array.isArray(eos) ? eos : [eos]).filter((x): x is number => Number.isInteger(x));
  return { sampling, eosTokenIds };
}

/** What a chat needs besides the runner: read before the weights, so a missing file fails fast. */
export interface ChatParts {
  tokenizer: TextTokenizer;
  template: ChatTemplate;
  defaults: GenerationDefaults;
}

export async function loadChatParts(files: ModelFiles): Promise<ChatParts> {
  const tokenizer = await loadTokenizer(files.dir);
  if (!tokenizer) throw new ModelFilesError(files.id, 'tokenizer.json', 'Convert the model from a checkpoint folder that has tokenizer.json (webmoe convert copies it into the package).');
  const template = await loadChatTemplate(files.dir);
  if (!template)
    throw new ModelFilesError(files.id, 'chat template', 'Add chat_template.jinja, or a "chat_template" in tokenizer_config.json, to the checkpoint and convert it again.');
  return { tokenizer, template, defaults: await readGenerationConfig(files.dir) };
}

export interface LoadedChatModel extends ChatModel {
  defaults: GenerationDefaults;
}

/** The chat parts over a runner: stop ids are the model's EOS ids, generation_config's and the tokenizer's. */
export function chatModelOf(parts: ChatParts, runner: ModelRunner): LoadedChatModel {
  const eos = [...runner.spec.eos_token_id, ...parts.defaults.eosTokenIds];
  return { runner, tokenizer: parts.tokenizer, template: parts.template, stopTokenIds: stopTokenIds(parts.tokenizer, eos), defaults: parts.defaults };
}
