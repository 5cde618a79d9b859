// Errors of engine.reload(): where a model comes from, what it must ship, which backend runs it.
// The request-side errors (InvalidRequestError, ModelNotLoadedError, ...) are in errors.ts.

import { WebMoeError } from '../format/errors.ts';

/** reload() got something that is neither a package URL, a cached model id, an app-config id nor a local directory. */
export class ModelSourceError extends WebMoeError {
  constructor(
    readonly model: string,
    detail: string,
  ) {
    super('model_source', `Cannot load "${model}": ${detail}`);
  }
}

/** The model has weights but lacks a file a chat needs (tokenizer.json, a chat template). */
export class ModelFilesError extends WebMoeError {
  constructor(
    readonly model: string,
    readonly file: string,
    fix: string,
  ) {
    super('model_files', `Model "${model}" has no ${file}, which chat needs. ${fix}`);
  }
}

/** The backend asked for cannot run here (no WebGPU, or no GPU runner in this build). */
export class BackendUnavailableError extends WebMoeError {
  constructor(
    readonly backend: string,
    reason: string,
  ) {
    super('backend_unavailable', `The ${backend} backend is not available: ${reason} Use backend "cpu" (slow, any machine) or "auto".`);
  }
}
