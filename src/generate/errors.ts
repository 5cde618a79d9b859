// Errors of the generation stage (template rendering, prompt length). The engine API re-exports
// them with its own (src/api/errors.ts), which also maps every error to an OpenAI error body.

import { WebMoeError } from '../format/errors.ts';

/** The chat template could not render the messages (it called raise_exception, or is broken). */
export class TemplateError extends WebMoeError {
  constructor(message: string, readonly templateName = 'chat template') {
    super('template_error', `${templateName}: ${message}`);
  }
}

/** The prompt plus the requested completion does not fit the model's context window. */
export class ContextLengthExceededError extends WebMoeError {
  constructor(
    readonly promptTokens: number,
    readonly maxTokens: number,
    readonly contextLength: number,
  ) {
    super(
      'context_length_exceeded',
      promptTokens >= contextLength
        ? `The prompt is ${promptTokens} tokens long but the model's context window is ${contextLength} tokens. ` +
            `Shorten the messages (drop old turns) to leave room for the answer.`
        : `The prompt (${promptTokens} tokens) plus max_tokens (${maxTokens}) is ${promptTokens + maxTokens} tokens, ` +
            `more than the model's context window of ${contextLength} tokens. Lower max_tokens to at most ` +
            `${contextLength - promptTokens} or shorten the messages.`,
    );
  }
}
