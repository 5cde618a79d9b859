// Errors of `webmoe serve` (the HTTP layer), and the one mapping from any thrown value to an HTTP
// status, headers and an OpenAI error body: {"error": {"message", "type", "param", "code"}}.
// Engine errors keep the mapping of src/api/errors.ts (toOpenAIError); the classes here add what
// only a server has: routes, methods, bearer tokens, body limits, the queue, loading, shutdown.

import { WebMoeError, toOpenAIError, type OpenAIErrorBody } from '../api/errors.ts';

/** No such route (the path is not one of the server's). */
export class RouteNotFoundError extends WebMoeError {
  constructor(method: string, path: string) {
    super('route_not_found', `There is no route ${method} ${path}. This server answers GET /v1/models, POST /v1/chat/completions, GET /health and GET /stats.`);
  }
}

/** The route exists, not with this method. */
export class MethodNotAllowedError extends WebMoeError {
  constructor(
    method: string,
    path: string,
    readonly allow: readonly string[],
  ) {
    super('method_not_allowed', `${path} does not accept ${method}: use ${allow.join(' or ')}.`);
  }
}

/** --api-key is set and the request has no bearer token, or the wrong one. */
export class UnauthorizedError extends WebMoeError {
  constructor(readonly given: boolean) {
    super(
      'invalid_api_key',
      given
        ? 'Incorrect API key provided. Send the key the server was started with (--api-key or WEBMOE_API_KEY) as "Authorization: Bearer KEY".'
        : 'This server needs an API key: send "Authorization: Bearer KEY" with the key it was started with (--api-key or WEBMOE_API_KEY).',
    );
  }
}

/** The request body is larger than --max-body. */
export class PayloadTooLargeError extends WebMoeError {
  constructor(readonly limitBytes: number) {
    super('request_too_large', `The request body is larger than this server's limit of ${limitBytes} bytes. Send fewer or shorter messages, or start the server with a larger --max-body.`);
  }
}

/** The body is not JSON (or not an object). */
export class InvalidJsonError extends WebMoeError {
  constructor(detail: string) {
    super('invalid_json', `The request body is not valid JSON (${detail}). Send a JSON object with Content-Type: application/json.`);
  }
}

/** --max-queue requests already wait for the model. */
export class QueueFullError extends WebMoeError {
  constructor(
    readonly waiting: number,
    readonly retryAfterSeconds: number,
  ) {
    super(
      'queue_full',
      `The server is busy: one reply is being generated and ${waiting} request${waiting === 1 ? '' : 's'} already wait${waiting === 1 ? 's' : ''} (the --max-queue limit). Retry after ${retryAfterSeconds} s.`,
    );
  }
}

/** The model is still loading (or failed to load). */
export class ModelLoadingError extends WebMoeError {
  constructor(
    readonly failure: string | null = null,
    readonly retryAfterSeconds = 2,
  ) {
    super(
      failure ? 'model_load_failed' : 'model_loading',
      failure ? `The model failed to load: ${failure} Fix the model directory and restart the server.` : `The model is still loading. Retry after ${retryAfterSeconds} s, or poll GET /health until it answers 200.`,
    );
  }
}

/** The server got SIGINT/SIGTERM: it finishes what runs and takes nothing new. */
export class ShuttingDownError extends WebMoeError {
  constructor() {
    super('server_shutting_down', 'The server is shutting down and takes no new requests. Retry against another instance, or once it has restarted.');
  }
}

/** The client went away while its request waited in the queue (nothing is sent back). */
export class ClientGoneError extends WebMoeError {
  constructor() {
    super('client_disconnected', 'The client disconnected before its request was served.');
  }
}

export interface HttpError {
  status: number;
  headers: Record<string, string>;
  body: OpenAIErrorBody;
}

function err(status: number, e: WebMoeError, type: string, param: string | null = null, headers: Record<string, string> = {}): HttpError {
  return { status, headers, body: { error: { message: e.message, type, param, code: e.code } } };
}

/** Status, headers and OpenAI body for anything the server or the engine threw. */
export function httpErrorOf(e: unknown): HttpError {
  if (e instanceof RouteNotFoundError) return err(404, e, 'invalid_request_error');
  if (e instanceof MethodNotAllowedError) return err(405, e, 'invalid_request_error', null, { Allow: e.allow.join(', ') });
  if (e instanceof UnauthorizedError) return err(401, e, 'invalid_request_error', null, { 'WWW-Authenticate': 'Bearer' });
  if (e instanceof PayloadTooLargeError) return err(413, e, 'invalid_request_error', null, { Connection: 'close' });
  if (e instanceof InvalidJsonError) return err(400, e, 'invalid_request_error');
  if (e instanceof QueueFullError) return err(429, e, 'server_error', null, { 'Retry-After': String(e.retryAfterSeconds) });
  if (e instanceof ModelLoadingError) return err(503, e, 'server_error', null, e.failure ? {} : { 'Retry-After': String(e.retryAfterSeconds) });
  if (e instanceof ShuttingDownError) return err(503, e, 'server_error', null, { Connection: 'close' });
  const { status, body } = toOpenAIError(e);
  // the engine's own busy error cannot happen behind the queue; if it does, it is a 429 as well
  return { status, headers: status === 429 ? { 'Retry-After': '1' } : {}, body };
}
