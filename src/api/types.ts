// Types of the engine API: WebLLM's OpenAI-shaped types where they fit (so a WebLLM app can switch
// engines by changing one import), extended where WebMoE returns more: `reasoning_content` on
// messages and deltas (as vLLM and DeepSeek do), `top_k` / `min_p` sampling fields (as vLLM
// accepts), and generation stats. Type-only imports: nothing of WebLLM ships in our bundle.

import type {
  ChatCompletionAssistantMessageParam as WebLlmAssistantMessageParam,
  ChatCompletionChunk as WebLlmChunk,
  ChatCompletion as WebLlmCompletion,
  ChatCompletionMessage as WebLlmMessage,
  ChatCompletionRequestBase as WebLlmRequestBase,
  ChatCompletionSystemMessageParam,
  ChatCompletionToolMessageParam,
  ChatCompletionUserMessageParam,
} from '@mlc-ai/web-llm';

export type {
  ChatCompletionContentPart,
  ChatCompletionContentPartText,
  ChatCompletionFinishReason,
  ChatCompletionMessageToolCall,
  ChatCompletionNamedToolChoice,
  ChatCompletionRole,
  ChatCompletionSystemMessageParam,
  ChatCompletionTool,
  ChatCompletionToolChoiceOption,
  ChatCompletionToolMessageParam,
  ChatCompletionUserMessageParam,
  CompletionUsage,
  FunctionDefinition,
  InitProgressCallback,
  InitProgressReport,
} from '@mlc-ai/web-llm';

/** An assistant turn in history; `reasoning_content` is handed back to the chat template. */
export interface ChatCompletionAssistantMessageParam extends WebLlmAssistantMessageParam {
  reasoning_content?: string | null;
}

export type ChatCompletionMessageParam =
  | ChatCompletionSystemMessageParam
  | ChatCompletionUserMessageParam
  | ChatCompletionAssistantMessageParam
  | ChatCompletionToolMessageParam;

export interface ChatCompletionRequestBase extends Omit<WebLlmRequestBase, 'messages' | 'tool_choice' | 'extra_body'> {
  messages: ChatCompletionMessageParam[];
  /** OpenAI's newer name for max_tokens */
  max_completion_tokens?: number | null;
  /** vLLM extension: keep the k most likely tokens (0 or -1: off) */
  top_k?: number | null;
  /** vLLM extension: drop tokens below min_p x the top probability */
  min_p?: number | null;
  tool_choice?: 'none' | 'auto' | 'required' | { type: 'function'; function: { name: string } };
  extra_body?: WebLlmRequestBase['extra_body'] & {
    /** variables for the chat template (transformers' chat_template_kwargs) */
    chat_template_kwargs?: Record<string, unknown> | null;
  };
}

export interface ChatCompletionRequestNonStreaming extends ChatCompletionRequestBase {
  stream?: false | null;
}

export interface ChatCompletionRequestStreaming extends ChatCompletionRequestBase {
  stream: true;
}

export type ChatCompletionRequest = ChatCompletionRequestNonStreaming | ChatCompletionRequestStreaming;

/** The reply message, with the model's reasoning apart from its answer. */
export interface ChatCompletionMessage extends WebLlmMessage {
  reasoning_content?: string | null;
}

export interface ChatCompletion extends Omit<WebLlmCompletion, 'choices'> {
  choices: (Omit<WebLlmCompletion.Choice, 'message'> & { message: ChatCompletionMessage })[];
}

export interface ChatCompletionChunkDelta extends WebLlmChunk.Choice.Delta {
  reasoning_content?: string | null;
}

export interface ChatCompletionChunk extends Omit<WebLlmChunk, 'choices'> {
  choices: (Omit<WebLlmChunk.Choice, 'delta'> & { delta: ChatCompletionChunkDelta })[];
}

export interface ChatCompletionStreamOptions {
  include_usage?: boolean;
}

/** Counters behind runtimeStatsText() and usage.extra. */
export interface RuntimeStats {
  prefillTokensPerSecond: number;
  decodeTokensPerSecond: number;
  timeToFirstTokenMs: number;
  expertCacheHitRate?: number;
  gpuMemoryBytes?: number;
}
