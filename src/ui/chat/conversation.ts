// The conversation as the UI keeps it (and stores in IndexedDB): user and assistant turns, each
// assistant turn with its reasoning apart from its answer, and how it ended. Pure helpers only.

import type { ChatCompletionMessageParam } from '../../api/types.ts';

export type TurnState = 'streaming' | 'done' | 'stopped' | 'error';

export interface TurnUsage {
  promptTokens: number;
  completionTokens: number;
  ttftMs: number | null;
  prefillTokensPerSecond: number | null;
  decodeTokensPerSecond: number | null;
}

export interface UiMessage {
  id: string;
  role: 'user' | 'assistant';
  content: string;
  /** the model's reasoning (assistant turns of reasoning models) */
  reasoning: string;
  state: TurnState;
  error?: string;
  finishReason?: string | null;
  model?: string;
  usage?: TurnUsage;
  /** tool calls the model made, as "name(arguments)" lines */
  toolCalls?: string[];
}

export interface Conversation {
  id: string;
  createdAt: number;
  updatedAt: number;
  messages: UiMessage[];
}

export function newId(prefix: string): string {
  const b = new Uint8Array(8);
  crypto.getRandomValues(b);
  return `${prefix}-${[...b].map((x) => x.toString(16).padStart(2, '0')).join('')}`;
}

export function newConversation(): Conversation {
  const now = Date.now();
  return { id: newId('chat'), createdAt: now, updatedAt: now, messages: [] };
}

/** A stored conversation as it is shown after a reload: a reply cut off by the reload is "stopped". */
export function restoreConversation(raw: unknown): Conversation | null {
  const c = raw as Conversation | null | undefined;
  if (!c || typeof c.id !== 'string' || !Array.isArray(c.messages)) return null;
  const messages = c.messages
    .filter((m) => m && (m.role === 'user' || m.role === 'assistant') && typeof m.content === 'string')
    .map((m) => ({ ...m, reasoning: typeof m.reasoning === 'string' ? m.reasoning : '', state: m.state === 'streaming' ? ('stopped' as const) : m.state }));
  return { ...c, messages };
}

/** The request messages for the next reply: system prompt, then every finished turn. */
export function requestMessages(messages: UiMessage[], systemPrompt: string): ChatCompletionMessageParam[] {
  const out: ChatCompletionMessageParam[] = [];
  if (systemPrompt.trim()) out.push({ role: 'system', content: systemPrompt });
  for (const m of messages) {
    if (m.role === 'user') out.push({ role: 'user', content: m.content });
    else if (m.state !== 'error' && m.state !== 'streaming' && (m.content || m.reasoning))
      out.push({ role: 'assistant', content: m.content, ...(m.reasoning ? { reasoning_content: m.reasoning } : {}) });
  }
  return out;
}
