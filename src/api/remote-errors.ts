// Errors of RemoteEngine (src/api/remote.ts): what went wrong between this page (or process) and
// an OpenAI-compatible endpoint, each with a message that says what to do. A 400 from the
// endpoint becomes the engine's own InvalidRequestError (with the endpoint's `param`), so code
// that handles the in-tab engine's errors handles the remote one's too.

import { InvalidRequestError, WebMoeError } from './errors.ts';

/** Something between us and the endpoint failed; `status` is the HTTP status when one came back. */
export class RemoteEndpointError extends WebMoeError {
  constructor(
    code: string,
    message: string,
    readonly url: string,
    readonly status: number | null = null,
    /** the endpoint's own error code, when its body had one */
    readonly serverCode: string | null = null,
  ) {
    super(code, message);
  }
}

/** No response at all: the server is down, the address is wrong, or the page may not call it (mixed content). */
export class RemoteNetworkError extends RemoteEndpointError {
  constructor(url: string, detail: string) {
    super('remote_unreachable', `Could not reach ${url} (${detail}). Check that the server is running and the URL is right: an OpenAI base URL usually ends in /v1, e.g. http://localhost:8000/v1.`, url);
  }
}

/** An https page may not call a plain-http endpoint on another machine (the browser blocks it before sending). */
export class RemoteMixedContentError extends RemoteEndpointError {
  constructor(url: string, pageOrigin: string) {
    super(
      'remote_mixed_content',
      `This page (${pageOrigin}) is served over https, so the browser blocks requests to the plain-http endpoint ${url}. Serve the endpoint over https (e.g. behind a reverse proxy with a certificate), or open the app over http.`,
      url,
    );
  }
}

/** The endpoint answered, but its CORS headers do not let this page's origin read the answer. */
export class RemoteCorsError extends RemoteEndpointError {
  constructor(
    url: string,
    readonly pageOrigin: string,
  ) {
    super(
      'remote_cors',
      `${url} is reachable, but it does not allow requests from this page's origin (${pageOrigin}) (CORS). Allow the origin on the server: ` +
        `\`webmoe serve --cors ${pageOrigin}\`, or for vLLM \`--allowed-origins '["${pageOrigin}"]'\`; or serve the app and the endpoint from one origin through a reverse proxy.`,
      url,
    );
  }
}

/** 401/403: no API key, or the wrong one. */
export class RemoteAuthError extends RemoteEndpointError {
  constructor(url: string, status: number, hadKey: boolean, serverMessage: string, serverCode: string | null) {
    super(
      'remote_unauthorized',
      hadKey
        ? `The endpoint ${url} rejected the API key (HTTP ${status}: ${serverMessage}). Enter the key the server was started with (for webmoe serve: --api-key or WEBMOE_API_KEY; for vLLM: --api-key).`
        : `The endpoint ${url} needs an API key (HTTP ${status}: ${serverMessage}). Enter the key in the endpoint's settings (it is kept in this browser and sent only to this endpoint).`,
      url,
      status,
      serverCode,
    );
  }
}

/** 404: a wrong base URL (no such route), or a model the endpoint does not serve. */
export class RemoteNotFoundError extends RemoteEndpointError {
  constructor(url: string, serverMessage: string, serverCode: string | null) {
    super(
      'remote_not_found',
      `${url} answered 404 (${serverMessage}). Check the base URL (it usually ends in /v1, e.g. http://localhost:8000/v1) and the model name (GET <base>/models lists them).`,
      url,
      404,
      serverCode,
    );
  }
}

/** The endpoint does not serve the model asked for. */
export class RemoteModelNotFoundError extends RemoteEndpointError {
  constructor(
    url: string,
    readonly model: string | null,
    readonly available: readonly string[],
  ) {
    super(
      'model_not_found',
      model
        ? `The endpoint ${url} does not serve "${model}". It serves: ${available.length ? available.map((m) => `"${m}"`).join(', ') : 'no models'}. Use one of those names (vLLM: the --served-model-name, or the Hugging Face id it was started with).`
        : `The endpoint ${url} serves ${available.length} models (${available.map((m) => `"${m}"`).join(', ')}): name the one to use.`,
      url,
      404,
      'model_not_found',
    );
  }
}

/** 429: the endpoint's queue is full or a rate limit was hit. */
export class RemoteRateLimitError extends RemoteEndpointError {
  constructor(
    url: string,
    serverMessage: string,
    serverCode: string | null,
    readonly retryAfterSeconds: number | null,
  ) {
    super(
      'remote_rate_limited',
      `The endpoint ${url} is busy (HTTP 429: ${serverMessage}). ${retryAfterSeconds !== null ? `Try again in ${retryAfterSeconds} s.` : 'Try again shortly.'}`,
      url,
      429,
      serverCode,
    );
  }
}

/** 5xx: the server failed, is loading, or is shutting down; also an error event inside a stream. */
export class RemoteServerError extends RemoteEndpointError {
  constructor(
    url: string,
    status: number | null,
    serverMessage: string,
    serverCode: string | null,
    readonly retryAfterSeconds: number | null = null,
  ) {
    super(
      'remote_server_error',
      status === 503
        ? `The endpoint ${url} is not ready (HTTP 503: ${serverMessage}). It may be loading the model or shutting down: try again in ${retryAfterSeconds ?? 'a few'} s.`
        : `The endpoint ${url} failed${status ? ` (HTTP ${status})` : ''}: ${serverMessage}. Check the server's log.`,
      url,
      status,
      serverCode,
    );
  }
}

/** The endpoint answered with something that is not the OpenAI API (an HTML page, broken JSON, another API). */
export class RemoteProtocolError extends RemoteEndpointError {
  constructor(url: string, detail: string, status: number | null = null) {
    super('remote_protocol', `${url} did not answer like an OpenAI-compatible API (${detail}). Check that the URL points at the API (usually ending in /v1), not at a web page.`, url, status);
  }
}

interface ErrorFields {
  message: string;
  code: string | null;
  param: string | null;
}

/** The error fields of an endpoint's body: OpenAI's {error: {...}}, vLLM's older {object: "error", message}, FastAPI's {detail}. */
export function errorFields(body: unknown, fallback: string): ErrorFields {
  const b = body as Record<string, unknown> | null;
  const e = (b && typeof b.error === 'object' && b.error !== null ? b.error : b) as Record<string, unknown> | null;
  const str = (v: unknown) => (typeof v === 'string' && v ? v : null);
  const detail = b && Array.isArray(b.detail) ? JSON.stringify(b.detail) : str(b?.detail);
  return {
    message: str(e?.message) ?? str(b?.error) ?? detail ?? fallback,
    code: str(e?.code) ?? (typeof e?.code === 'number' ? String(e.code) : null),
    param: str(e?.param),
  };
}

/** The typed error for an HTTP error status from the endpoint. */
export function httpStatusError(url: string, status: number, body: unknown, text: string, hadKey: boolean, retryAfter: string | null): Error {
  const f = errorFields(body, text.trim().slice(0, 200) || `HTTP ${status}`);
  const retry = retryAfter !== null && /^\d+$/.test(retryAfter.trim()) ? Number(retryAfter) : null;
  if (status === 400 || status === 422) return new InvalidRequestError(f.param, `The endpoint rejected the request: ${f.message}`, f.code ?? 'invalid_value');
  if (status === 401 || status === 403) return new RemoteAuthError(url, status, hadKey, f.message, f.code);
  if (status === 404) return new RemoteNotFoundError(url, f.message, f.code);
  if (status === 413) return new InvalidRequestError('messages', `The endpoint refused the request as too large: ${f.message}`, f.code ?? 'request_too_large');
  if (status === 429) return new RemoteRateLimitError(url, f.message, f.code, retry);
  if (status >= 500) return new RemoteServerError(url, status, f.message, f.code, retry);
  return new RemoteEndpointError('remote_http_error', `The endpoint ${url} answered HTTP ${status}: ${f.message}`, url, status, f.code);
}
