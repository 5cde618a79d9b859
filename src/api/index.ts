// WebMoE's public API (browser-safe: nothing here imports node: modules; Node code adds
// src/api/node.ts for local directories).
//
//   import { createEngine } from 'webmoe';                    // in-page (or in your own worker)
//   import { createWorkerEngine } from 'webmoe';              // an engine in a Web Worker
//   import 'webmoe/worker' / exposeEngine()                   // the worker side

export { createEngine, WebMoeEngine, type EngineOptions, type ReloadConfig, type WebLlmCompatibleEngine } from './engine.ts';
export { createWorkerEngine, WorkerEngine } from './client.ts';
export { exposeEngine, EngineHost } from './host.ts';
export { RemoteEngine, createRemoteEngine, normalizeBaseUrl, RemoteEndpointError, RemoteNetworkError, RemoteMixedContentError, RemoteCorsError, RemoteAuthError, RemoteNotFoundError, RemoteModelNotFoundError, RemoteRateLimitError, RemoteServerError, RemoteProtocolError, type RemoteEngineOptions } from './remote.ts';
export { registerGpuRunner, defaultRunnerFactory, cpuRunner, type BackendChoice, type GpuRunnerFactory, type GpuFactoryOptions, type RunnerFactory, type RunnerRequest, type RunnerChoice } from './backends.ts';
export type { AppConfig, AppConfigModel, LocalOpener, ModelFiles } from './models.ts';
export type { InitPhase, WebMoeInitProgressCallback, WebMoeInitProgressReport } from './progress.ts';
export { statsText, type EngineStats, type LastRequestStats } from './stats.ts';
export { validateChatRequest, type ValidatedRequest } from './validate.ts';
export {
  WebMoeError,
  InvalidRequestError,
  ModelNotLoadedError,
  ModelNotFoundError,
  GenerationInterruptedError,
  EngineBusyError,
  ContextLengthExceededError,
  TemplateError,
  toOpenAIError,
  type OpenAIErrorBody,
} from './errors.ts';
export { ModelSourceError, ModelFilesError, BackendUnavailableError } from './load-errors.ts';
export { IntegrityError } from '../format/errors.ts';
export { QuotaError, StorageFullError, ModelIncompleteError, DownloadHttpError, DownloadNetworkError } from '../store/errors.ts';
export type { ShardStore } from '../store/types.ts';
export { IdbShardStore } from '../store/idb.ts';
export type * from './types.ts';
