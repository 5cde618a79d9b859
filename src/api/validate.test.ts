import { describe, expect, it } from 'vitest';
import { resolveMaxTokens } from '../generate/loop.ts';
import { ContextLengthExceededError, InvalidRequestError, ModelNotLoadedError, TemplateError, toOpenAIError } from './errors.ts';
import { validateChatRequest } from './validate.ts';

const user = [{ role: 'user', content: 'Hi' }];

/** The InvalidRequestError a request raises. */
function errorOf(req: unknown, opts = {}): InvalidRequestError {
  try {
    validateChatRequest(req, opts);
  } catch (e) {
    if (e instanceof InvalidRequestError) return e;
    throw e;
  }
  throw new Error(`accepted: ${JSON.stringify(req)}`);
}

describe('validateChatRequest', () => {
  it('fills OpenAI defaults (or the model defaults) for a minimal request', () => {
    const v = validateChatRequest({ messages: user });
    expect(v.sampling).toEqual({ temperature: 1, top_p: 1, top_k: 0, min_p: 0, repetition_penalty: 1, frequency_penalty: 0, presence_penalty: 0 });
    expect(v).toMatchObject({ stream: false, includeUsage: false, maxTokens: null, stop: [], tools: [], toolChoice: 'none', seed: undefined, model: null });
    const m2 = validateChatRequest({ messages: user, top_p: 0.5 }, { defaults: { temperature: 1, top_p: 0.95, top_k: 40 } });
    expect(m2.sampling).toMatchObject({ temperature: 1, top_p: 0.5, top_k: 40 });
  });

  it('passes through a full valid request', () => {
    const v = validateChatRequest(
      {
        model: 'm',
        messages: [
          { role: 'developer', content: 'sys' },
          { role: 'user', content: [{ type: 'text', text: 'q' }] },
          { role: 'assistant', content: null, reasoning_content: 'r', tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '{"a":1}' } }] },
          { role: 'tool', tool_call_id: 'c', content: 'ok' },
        ],
        stream: true,
        stream_options: { include_usage: true },
        temperature: 0,
        top_p: 1,
        top_k: -1,
        max_tokens: 16,
        stop: 'END',
        seed: 7,
        logit_bias: { '5': -100, '6': 2.5 },
        frequency_penalty: -2,
        presence_penalty: 2,
        tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object', properties: {} } } }],
        tool_choice: 'auto',
        extra_body: { enable_thinking: false, chat_template_kwargs: { x: 1 } },
      },
      { vocabSize: 10 },
    );
    expect(v.messages[0].role).toBe('system');
    expect(v).toMatchObject({ stream: true, includeUsage: true, maxTokens: 16, stop: ['END'], seed: 7, toolChoice: 'auto', templateKwargs: { x: 1, enable_thinking: false } });
    expect(v.sampling).toMatchObject({ temperature: 0, top_k: 0, logit_bias: { 5: -100, 6: 2.5 }, frequency_penalty: -2, presence_penalty: 2 });
  });

  it.each([
    [{ messages: user, temperature: -0.1 }, 'temperature', /expected a value in \[0, 2\], but got -0.1/],
    [{ messages: user, temperature: 2.5 }, 'temperature', /\[0, 2\]/],
    [{ messages: user, temperature: '1' }, 'temperature', /expected a number/],
    [{ messages: user, top_p: 0 }, 'top_p', /\(0, 1\]/],
    [{ messages: user, top_p: 1.1 }, 'top_p', /\(0, 1\]/],
    [{ messages: user, max_tokens: 0 }, 'max_tokens', />= 1/],
    [{ messages: user, max_tokens: 2.5 }, 'max_tokens', /integer/],
    [{ messages: user, max_tokens: 4, max_completion_tokens: 5 }, 'max_completion_tokens', /disagree/],
    [{ messages: user, n: 2 }, 'n', /one choice/],
    [{ messages: [] }, 'messages', /empty/],
    [{}, 'messages', /Missing required parameter/],
    [{ messages: 'hi' }, 'messages', /expected an array/],
    [{ messages: [{ role: 'bot', content: 'x' }] }, 'messages[0].role', /Supported values/],
    [{ messages: [{ role: 'user' }] }, 'messages[0].content', /Missing required/],
    [{ messages: [{ role: 'assistant', content: null }] }, 'messages[0].content', /'content' or 'tool_calls'/],
    [{ messages: [{ role: 'tool', content: 'x' }] }, 'messages[0].tool_call_id', /tool_call_id/],
    [{ messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'x' } }] }] }, 'messages[0].content[0].type', /text only/],
    [{ messages: [{ role: 'assistant', tool_calls: [{ id: 'c', type: 'function', function: { name: 'f', arguments: '{x' } }] }] }, 'messages[0].tool_calls[0].function.arguments', /not valid JSON/],
    [{ messages: user, stop: ['a', 'b', 'c', 'd', 'e'] }, 'stop', /maximum length 4/],
    [{ messages: user, stop: [''] }, 'stop[0]', /empty/],
    [{ messages: user, stop: 3 }, 'stop', /string or an array/],
    [{ messages: user, logit_bias: { abc: 1 } }, 'logit_bias', /token ids/],
    [{ messages: user, logit_bias: { '3': 101 } }, 'logit_bias.3', /\[-100, 100\]/],
    [{ messages: user, logit_bias: { '99': 1 } }, 'logit_bias', /outside the vocabulary \[0, 10\)/],
    [{ messages: user, frequency_penalty: 2.1 }, 'frequency_penalty', /\[-2, 2\]/],
    [{ messages: user, presence_penalty: -3 }, 'presence_penalty', /\[-2, 2\]/],
    [{ messages: user, seed: 1.5 }, 'seed', /integer/],
    [{ messages: user, stream_options: { include_usage: true } }, 'stream_options', /only allowed when 'stream' is enabled/],
    [{ messages: user, tool_choice: 'auto' }, 'tool_choice', /only allowed when 'tools'/],
    [{ messages: user, tools: [{ type: 'function', function: { name: 'bad name' } }] }, 'tools[0].function.name', /1-64 characters/],
    [{ messages: user, tools: [{ type: 'function', function: { name: 'f' } }, { type: 'function', function: { name: 'f' } }] }, 'tools[1].function.name', /twice/],
    [{ messages: user, tools: [{ type: 'retrieval' }] }, 'tools[0].type', /"function"/],
    [{ messages: user, tools: [{ type: 'function', function: { name: 'f' } }], tool_choice: 'required' }, 'tool_choice', /not supported/],
    [{ messages: user, response_format: { type: 'json_object' } }, 'response_format.type', /not supported/],
    [{ messages: user, logprobs: true }, 'logprobs', /not supported/],
    [{ messages: user, top_logprobs: 2 }, 'top_logprobs', /needs 'logprobs'/],
    [{ messages: user, frobnicate: 1 }, 'frobnicate', /Unrecognized request argument/],
    [{ messages: user, extra_body: { nope: 1 } }, 'extra_body.nope', /Unrecognized/],
    [{ messages: user, repetition_penalty: 0 }, 'repetition_penalty', /> 0/],
  ])('rejects %j naming %s', (req, param, message) => {
    const e = errorOf(req, { vocabSize: 10 });
    expect(e.param).toBe(param);
    expect(e.message).toMatch(message);
  });

  it('null means "use the default", as in the OpenAI API', () => {
    const v = validateChatRequest({ messages: user, temperature: null, stop: null, max_tokens: null, seed: null });
    expect(v.sampling.temperature).toBe(1);
    expect(v.maxTokens).toBeNull();
  });
});

describe('resolveMaxTokens', () => {
  it('fills the rest of the context window, or refuses a prompt/budget that does not fit', () => {
    expect(resolveMaxTokens(100, null, 4096)).toBe(3996);
    expect(resolveMaxTokens(100, 50, 4096)).toBe(50);
    expect(() => resolveMaxTokens(4096, null, 4096)).toThrow(/prompt is 4096 tokens long but the model's context window is 4096/);
    const e = (() => {
      try {
        resolveMaxTokens(4000, 200, 4096);
      } catch (x) {
        return x as ContextLengthExceededError;
      }
    })()!;
    expect(e).toBeInstanceOf(ContextLengthExceededError);
    expect(e.message).toMatch(/4000 tokens\) plus max_tokens \(200\) is 4200 tokens, more than the model's context window of 4096 tokens. Lower max_tokens to at most 96/);
  });
});

describe('toOpenAIError', () => {
  it('maps errors to OpenAI bodies and HTTP statuses', () => {
    expect(toOpenAIError(errorOf({ messages: user, temperature: 3 }))).toEqual({
      status: 400,
      body: { error: { message: "Invalid 'temperature': expected a value in [0, 2], but got 3 instead.", type: 'invalid_request_error', param: 'temperature', code: 'invalid_value' } },
    });
    const ctx = toOpenAIError(new ContextLengthExceededError(10, 5, 12));
    expect(ctx.status).toBe(400);
    expect(ctx.body.error).toMatchObject({ type: 'invalid_request_error', param: 'messages', code: 'context_length_exceeded' });
    expect(toOpenAIError(new TemplateError('roles must alternate')).body.error.code).toBe('template_error');
    const nl = toOpenAIError(new ModelNotLoadedError());
    expect(nl.status).toBe(503);
    expect(nl.body.error.message).toMatch(/call engine.reload/);
    expect(toOpenAIError(new Error('boom'))).toEqual({ status: 500, body: { error: { message: 'Internal error: boom', type: 'server_error', param: null, code: 'internal_error' } } });
  });

  it('error classes are WebMoeErrors with their class name', () => {
    const e = new ModelNotLoadedError();
    expect(e.name).toBe('ModelNotLoadedError');
    expect(e.code).toBe('model_not_loaded');
  });
});
