// Errors of the engine API. Each is a WebMoeError whose message says what to do, and each maps to
// an OpenAI error body with an HTTP status, so `webmoe serve` and RemoteEngine speak the same
// errors as the OpenAI API: {"error": {"message", "type", "param", "code"}}.

import { WebMoeError } from '../format/errors.ts';
import { ContextLengthExceededError, TemplateError } from '../generate/errors.ts';

export { WebMoeError, ContextLengthExceededError, TemplateError };

/** A request field is missing, of the wrong type, out of range, or not supported. */
export class InvalidRequestError extends WebMoeError {
  /**
   * @param param the offending field as a path (`temperature`, `messages[2].role`), or null
   * @param code OpenAI-style code: invalid_value, invalid_type, missing_required_parameter,
   *   unknown_parameter, unsupported_parameter, unsupported_value
   */
  constructor(
    readonly param: string | null,
    message: string,
    code = 'invalid_value',
  ) {
    super(code, message);
  }
}

/** chat.completions.create (or anything that needs weights) was called before reload(). */
export class ModelNotLoadedError extends WebMoeError {
  constructor(what = 'chat.completions.create') {
    super('model_not_loaded', `${what} needs a model, but none is loaded: call engine.reload(modelId) first and wait for it to resolve.`);
  }
}

/** The request names a model other than the loaded one, or an unknown model id. */
export class ModelNotFoundError extends WebMoeError {
  constructor(
    readonly model: string,
    available: readonly string[] = [],
  ) {
    super(
      'model_not_found',
      `The model "${model}" is not ${available.length ? 'loaded' : 'known'}.` +
        (available.length ? ` Loaded: ${available.map((m) => `"${m}"`).join(', ')}. Call engine.reload("${model}") to switch, or omit "model".` : ' Check the model id or URL.'),
    );
  }
}

/** A generation in flight was cut off by unload() or reload() (interruptGenerate ends with finish_reason "abort" instead). */
export class GenerationInterruptedError extends WebMoeError {
  constructor(reason = 'the model was unloaded') {
    super('generation_interrupted', `Generation stopped because ${reason}. Send the request again once the model is loaded.`);
  }
}

/** A second request arrived while one is generating (the engine runs one at a time). */
export class EngineBusyError extends WebMoeError {
  constructor() {
    super('engine_busy', 'The engine is already generating a reply. Wait for it to finish or call engine.interruptGenerate() first.');
  }
}

export interface OpenAIErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

/** HTTP status and OpenAI error body for any thrown value. */
export function toOpenAIError(e: unknown): { status: number; body: OpenAIErrorBody } {
  const body = (message: string, type: string, param: string | null, code: string | null): OpenAIErrorBody => ({ error: { message, type, param, code } });
  if (e instanceof InvalidRequestError) return { status: 400, body: body(e.message, 'invalid_request_error', e.param, e.code) };
  if (e instanceof ContextLengthExceededError) return { status: 400, body: body(e.message, 'invalid_request_error', 'messages', e.code) };
  if (e instanceof TemplateError) return { status: 400, body: body(e.message, 'invalid_request_error', 'messages', e.code) };
  if (e instanceof ModelNotFoundError) return { status: 404, body: body(e.message, 'invalid_request_error', 'model', e.code) };
  if (e instanceof ModelNotLoadedError) return { status: 503, body: body(e.message, 'server_error', null, e.code) };
  if (e instanceof EngineBusyError) return { status: 429, body: body(e.message, 'server_error', null, e.code) };
  if (e instanceof GenerationInterruptedError) return { status: 503, body: body(e.message, 'server_error', null, e.code) };
  if (e instanceof WebMoeError) return { status: 500, body: body(e.message, 'server_error', null, e.code) };
  const message = e instanceof Error ? e.message : String(e);
  return { status: 500, body: body(`Internal error: ${message}`, 'server_error', null, 'internal_error') };
}
