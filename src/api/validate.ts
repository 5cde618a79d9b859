// Request validation for chat.completions.create, with OpenAI's rules and error shape: every
// problem is an InvalidRequestError whose `param` names the field (`temperature`,
// `messages[2].role`) and whose message says what is allowed. The result is a normalized request
// with defaults filled in, ready for the template and the generation loop.

import type { SamplingParams } from '../generate/sampler.ts';
import { InvalidRequestError } from './errors.ts';
import type { ChatCompletionMessageParam, ChatCompletionTool } from './types.ts';

export interface ValidateOptions {
  /** logit_bias ids must be below this (the tokenizer's vocabulary size) */
  vocabSize?: number;
  /** model defaults (generation_config.json) for fields the request leaves out */
  defaults?: Partial<SamplingParams>;
  /** logprobs are accepted only when the engine can return them */
  supportsLogprobs?: boolean;
}

export type ToolChoice = 'none' | 'auto';

export interface ValidatedRequest {
  model: string | null;
  /** messages as sent; `developer` turns become `system` */
  messages: ChatCompletionMessageParam[];
  stream: boolean;
  includeUsage: boolean;
  sampling: SamplingParams;
  /** undefined: a random seed */
  seed: number | undefined;
  /** null: as many as the context window leaves (see resolveMaxTokens) */
  maxTokens: number | null;
  stop: string[];
  tools: ChatCompletionTool[];
  toolChoice: ToolChoice;
  ignoreEos: boolean;
  /** template variables: extra_body.chat_template_kwargs plus enable_thinking */
  templateKwargs: Record<string, unknown>;
}

const KNOWN_FIELDS = new Set([
  'messages', 'model', 'stream', 'stream_options', 'n', 'frequency_penalty', 'presence_penalty', 'repetition_penalty',
  'max_tokens', 'max_completion_tokens', 'stop', 'temperature', 'top_p', 'top_k', 'min_p', 'logit_bias', 'logprobs',
  'top_logprobs', 'seed', 'tool_choice', 'tools', 'response_format', 'ignore_eos', 'extra_body', 'user', 'parallel_tool_calls',
]);
const EXTRA_BODY_FIELDS = new Set(['enable_thinking', 'enable_latency_breakdown', 'chat_template_kwargs', 'resumable']);
const TOOL_NAME = /^[a-zA-Z0-9_-]{1,64}$/;

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const present = (v: unknown) => v !== undefined && v !== null;
const show = (v: unknown) => (typeof v === 'string' ? JSON.stringify(v) : Array.isArray(v) ? 'an array' : isObj(v) ? 'an object' : String(v));

function fail(param: string | null, message: string, code = 'invalid_value'): never {
  throw new InvalidRequestError(param, message, code);
}

function typeError(param: string, want: string, got: unknown): never {
  fail(param, `Invalid type for '${param}': expected ${want}, but got ${show(got)}.`, 'invalid_type');
}

interface Range {
  min?: number;
  max?: number;
  /** min is excluded */
  minOpen?: boolean;
  integer?: boolean;
}

/** A number field: undefined when absent (or null), else checked against the range. */
function number(req: Obj, param: string, r: Range = {}, value: unknown = req[param]): number | undefined {
  if (!present(value)) return undefined;
  if (typeof value !== 'number' || !Number.isFinite(value)) typeError(param, r.integer ? 'an integer' : 'a number', value);
  if (r.integer && !Number.isSafeInteger(value)) typeError(param, 'an integer', value);
  const lo = r.min === undefined ? '' : `${r.minOpen ? '(' : '['}${r.min}`;
  const hi = r.max === undefined ? '' : `${r.max}]`;
  const range = lo && hi ? `in ${lo}, ${hi}` : lo ? `${r.minOpen ? '>' : '>='} ${r.min}` : `<= ${r.max}`;
  if ((r.min !== undefined && (r.minOpen ? value <= r.min : value < r.min)) || (r.max !== undefined && value > r.max))
    fail(param, `Invalid '${param}': expected a value ${range}, but got ${value} instead.`);
  return value;
}

function boolean(req: Obj, param: string, value: unknown = req[param]): boolean | undefined {
  if (!present(value)) return undefined;
  if (typeof value !== 'boolean') typeError(param, 'a boolean', value);
  return value;
}

/** Text content: a string, or an array of {type: "text", text} parts. */
function textContent(value: unknown, param: string, allowNull: boolean): void {
  if (value === null || value === undefined) {
    if (allowNull) return;
    fail(param, `Missing required parameter: '${param}'.`, 'missing_required_parameter');
  }
  if (typeof value === 'string') return;
  if (!Array.isArray(value)) typeError(param, 'a string or an array of content parts', value);
  value.forEach((part, k) => {
    const p = `${param}[${k}]`;
    if (!isObj(part)) typeError(p, 'an object', part);
    if (part.type === 'image_url' || part.type === 'input_audio')
      fail(`${p}.type`, `'${part.type}' content is not supported: WebMoE models read text only. Send the text as {type: "text", text: ...}.`, 'unsupported_value');
    if (part.type !== 'text') fail(`${p}.type`, `Invalid '${p}.type': expected "text", but got ${show(part.type)}.`);
    if (typeof part.text !== 'string') typeError(`${p}.text`, 'a string', part.text);
  });
}

function toolCalls(value: unknown, param: string): void {
  if (!Array.isArray(value)) typeError(param, 'an array', value);
  value.forEach((c, k) => {
    const p = `${param}[${k}]`;
    if (!isObj(c)) typeError(p, 'an object', c);
    if (typeof c.id !== 'string') typeError(`${p}.id`, 'a string', c.id);
    if (c.type !== 'function') fail(`${p}.type`, `Invalid '${p}.type': expected "function", but got ${show(c.type)}.`);
    if (!isObj(c.function)) typeError(`${p}.function`, 'an object', c.function);
    if (typeof c.function.name !== 'string') typeError(`${p}.function.name`, 'a string', c.function.name);
    const args = c.function.arguments;
    if (typeof args !== 'string') typeError(`${p}.function.arguments`, 'a JSON string', args);
    let parsed: unknown;
    try {
      parsed = args.trim() === '' ? {} : JSON.parse(args);
    } catch {
      fail(`${p}.function.arguments`, `Invalid '${p}.function.arguments': not valid JSON. Send back the arguments string the model produced.`);
    }
    if (!isObj(parsed)) fail(`${p}.function.arguments`, `Invalid '${p}.function.arguments': expected a JSON object.`);
  });
}

function messages(value: unknown): ChatCompletionMessageParam[] {
  if (!present(value)) fail('messages', "Missing required parameter: 'messages'.", 'missing_required_parameter');
  if (!Array.isArray(value)) typeError('messages', 'an array', value);
  if (value.length === 0) fail('messages', "Invalid 'messages': empty array. Expected an array with minimum length 1, but got an empty array instead.");
  return value.map((m, i) => {
    const p = `messages[${i}]`;
    if (!isObj(m)) typeError(p, 'an object', m);
    if (m.name !== undefined && typeof m.name !== 'string') typeError(`${p}.name`, 'a string', m.name);
    switch (m.role) {
      case 'system':
      case 'developer':
        textContent(m.content, `${p}.content`, false);
        return { ...m, role: 'system' } as ChatCompletionMessageParam;
      case 'user':
        textContent(m.content, `${p}.content`, false);
        break;
      case 'assistant':
        textContent(m.content, `${p}.content`, true);
        if (present(m.tool_calls)) toolCalls(m.tool_calls, `${p}.tool_calls`);
        if (!present(m.content) && !(Array.isArray(m.tool_calls) && m.tool_calls.length))
          fail(`${p}.content`, `Invalid '${p}': an assistant message needs 'content' or 'tool_calls'.`, 'missing_required_parameter');
        if (present(m.reasoning_content) && typeof m.reasoning_content !== 'string') typeError(`${p}.reasoning_content`, 'a string', m.reasoning_content);
        break;
      case 'tool':
        textContent(m.content, `${p}.content`, false);
        if (typeof m.tool_call_id !== 'string') fail(`${p}.tool_call_id`, `Missing required parameter: '${p}.tool_call_id'.`, 'missing_required_parameter');
        break;
      default:
        fail(`${p}.role`, `Invalid value for '${p}.role': ${show(m.role)}. Supported values are: 'system', 'developer', 'user', 'assistant' and 'tool'.`);
    }
    return m as unknown as ChatCompletionMessageParam;
  });
}

function tools(value: unknown): ChatCompletionTool[] {
  if (!present(value)) return [];
  if (!Array.isArray(value)) typeError('tools', 'an array', value);
  const names = new Set<string>();
  value.forEach((t, k) => {
    const p = `tools[${k}]`;
    if (!isObj(t)) typeError(p, 'an object', t);
    if (t.type !== 'function') fail(`${p}.type`, `Invalid '${p}.type': expected "function", but got ${show(t.type)}.`);
    if (!isObj(t.function)) typeError(`${p}.function`, 'an object', t.function);
    const name = t.function.name;
    if (typeof name !== 'string' || !TOOL_NAME.test(name))
      fail(`${p}.function.name`, `Invalid '${p}.function.name': ${show(name)} must be 1-64 characters of a-z, A-Z, 0-9, '_' or '-'.`);
    if (names.has(name)) fail(`${p}.function.name`, `Invalid '${p}.function.name': "${name}" is declared twice.`);
    names.add(name);
    if (present(t.function.description) && typeof t.function.description !== 'string') typeError(`${p}.function.description`, 'a string', t.function.description);
    if (present(t.function.parameters) && !isObj(t.function.parameters)) typeError(`${p}.function.parameters`, 'a JSON schema object', t.function.parameters);
  });
  return value as ChatCompletionTool[];
}

function toolChoice(value: unknown, hasTools: boolean): ToolChoice {
  if (!present(value)) return hasTools ? 'auto' : 'none';
  if (value !== 'none' && !hasTools) fail('tool_choice', "Invalid value for 'tool_choice': 'tool_choice' is only allowed when 'tools' are specified.");
  if (value === 'none' || value === 'auto') return value;
  if (value === 'required' || isObj(value))
    fail('tool_choice', `'tool_choice' ${show(value)} is not supported: WebMoE cannot force a tool call yet. Use "auto" and describe the tool to use in the prompt.`, 'unsupported_value');
  fail('tool_choice', `Invalid value for 'tool_choice': ${show(value)}. Supported values are: 'none' and 'auto'.`);
}

function stop(value: unknown): string[] {
  if (!present(value)) return [];
  const list = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(list)) typeError('stop', 'a string or an array of strings', value);
  if (list.length > 4) fail('stop', `Invalid 'stop': expected an array with maximum length 4, but got an array with length ${list.length} instead.`);
  list.forEach((s, k) => {
    if (typeof s !== 'string') typeError(`stop[${k}]`, 'a string', s);
    if (s === '') fail(`stop[${k}]`, `Invalid 'stop[${k}]': empty string. Stop strings must be at least 1 character.`);
  });
  return list as string[];
}

function logitBias(value: unknown, vocabSize: number | undefined): Record<number, number> | undefined {
  if (!present(value)) return undefined;
  if (!isObj(value)) typeError('logit_bias', 'an object mapping token ids to numbers', value);
  const out: Record<number, number> = {};
  for (const [k, v] of Object.entries(value)) {
    if (!/^\d+$/.test(k)) fail('logit_bias', `Invalid key in 'logit_bias': ${JSON.stringify(k)}. Keys must be token ids (non-negative integers).`);
    const id = Number(k);
    if (vocabSize !== undefined && id >= vocabSize) fail('logit_bias', `Invalid key in 'logit_bias': token id ${id} is outside the vocabulary [0, ${vocabSize}).`);
    out[id] = number(value, `logit_bias.${k}`, { min: -100, max: 100 }, v)!;
  }
  return out;
}

/** Check a chat.completions.create request; throws InvalidRequestError naming the field. */
export function validateChatRequest(request: unknown, opts: ValidateOptions = {}): ValidatedRequest {
  if (!isObj(request)) fail(null, 'The request must be an object with at least a "messages" array.', 'invalid_type');
  const req = request;
  for (const k of Object.keys(req))
    if (!KNOWN_FIELDS.has(k)) fail(k, `Unrecognized request argument supplied: ${k}`, 'unknown_parameter');
  if (present(req.model) && typeof req.model !== 'string') typeError('model', 'a string', req.model);
  const msgs = messages(req.messages);

  const stream = boolean(req, 'stream') ?? false;
  let includeUsage = false;
  if (present(req.stream_options)) {
    if (!stream) fail('stream_options', "The 'stream_options' parameter is only allowed when 'stream' is enabled.");
    if (!isObj(req.stream_options)) typeError('stream_options', 'an object', req.stream_options);
    includeUsage = boolean(req.stream_options, 'stream_options.include_usage', req.stream_options.include_usage) ?? false;
  }
  const n = number(req, 'n', { min: 1, max: 128, integer: true });
  if (n !== undefined && n !== 1) fail('n', `'n' = ${n} is not supported: WebMoE returns one choice per request. Send ${n} requests with different seeds instead.`, 'unsupported_value');

  const d = opts.defaults ?? {};
  const temperature = number(req, 'temperature', { min: 0, max: 2 }) ?? d.temperature ?? 1;
  const top_p = number(req, 'top_p', { min: 0, max: 1, minOpen: true }) ?? d.top_p ?? 1;
  const topK = number(req, 'top_k', { min: -1, integer: true });
  const top_k = topK === undefined ? (d.top_k ?? 0) : Math.max(0, topK);
  const min_p = number(req, 'min_p', { min: 0, max: 1 }) ?? d.min_p ?? 0;
  const repetition_penalty = number(req, 'repetition_penalty', { min: 0, minOpen: true }) ?? d.repetition_penalty ?? 1;
  const frequency_penalty = number(req, 'frequency_penalty', { min: -2, max: 2 }) ?? d.frequency_penalty ?? 0;
  const presence_penalty = number(req, 'presence_penalty', { min: -2, max: 2 }) ?? d.presence_penalty ?? 0;
  const logit_bias = logitBias(req.logit_bias, opts.vocabSize);
  const seed = number(req, 'seed', { integer: true });

  const maxTokens = number(req, 'max_tokens', { min: 1, integer: true });
  const maxCompletion = number(req, 'max_completion_tokens', { min: 1, integer: true });
  if (maxTokens !== undefined && maxCompletion !== undefined && maxTokens !== maxCompletion)
    fail('max_completion_tokens', "'max_tokens' and 'max_completion_tokens' disagree: send only one of them.");

  const logprobs = boolean(req, 'logprobs') ?? false;
  const topLogprobs = number(req, 'top_logprobs', { min: 0, max: 20, integer: true });
  if (topLogprobs !== undefined && !logprobs) fail('top_logprobs', "'top_logprobs' needs 'logprobs' set to true.");
  if (logprobs && !opts.supportsLogprobs) fail('logprobs', "'logprobs' is not supported by this engine yet: leave it out or set it to false.", 'unsupported_parameter');

  const toolList = tools(req.tools);
  const choice = toolChoice(req.tool_choice, toolList.length > 0);
  boolean(req, 'parallel_tool_calls');
  if (present(req.user) && typeof req.user !== 'string') typeError('user', 'a string', req.user);
  if (present(req.response_format)) {
    if (!isObj(req.response_format)) typeError('response_format', 'an object', req.response_format);
    const t = req.response_format.type;
    if (present(t) && t !== 'text')
      fail('response_format.type', `response_format ${show(t)} is not supported: WebMoE has no constrained decoding yet. Use "text" and ask for JSON in the prompt.`, 'unsupported_value');
  }
  const ignoreEos = boolean(req, 'ignore_eos') ?? false;

  const templateKwargs: Record<string, unknown> = {};
  if (present(req.extra_body)) {
    if (!isObj(req.extra_body)) typeError('extra_body', 'an object', req.extra_body);
    const eb = req.extra_body;
    for (const k of Object.keys(eb)) if (!EXTRA_BODY_FIELDS.has(k)) fail(`extra_body.${k}`, `Unrecognized request argument supplied: extra_body.${k}`, 'unknown_parameter');
    if (present(eb.resumable)) fail('extra_body.resumable', "'extra_body.resumable' is not supported by WebMoE.", 'unsupported_parameter');
    boolean(eb, 'extra_body.enable_latency_breakdown', eb.enable_latency_breakdown);
    if (present(eb.chat_template_kwargs)) {
      if (!isObj(eb.chat_template_kwargs)) typeError('extra_body.chat_template_kwargs', 'an object', eb.chat_template_kwargs);
      Object.assign(templateKwargs, eb.chat_template_kwargs);
    }
    const think = boolean(eb, 'extra_body.enable_thinking', eb.enable_thinking);
    if (think !== undefined) templateKwargs.enable_thinking = think;
  }

  return {
    model: (req.model as string | undefined) ?? null,
    messages: msgs,
    stream,
    includeUsage,
    sampling: {
      temperature,
      top_p,
      top_k,
      min_p,
      repetition_penalty,
      frequency_penalty,
      presence_penalty,
      ...(logit_bias ? { logit_bias } : {}),
    },
    seed,
    maxTokens: maxTokens ?? maxCompletion ?? null,
    stop: stop(req.stop),
    tools: toolList,
    toolChoice: choice,
    ignoreEos,
    templateKwargs,
  };
}
