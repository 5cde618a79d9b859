// The conversation: send, stream the reply in, stop, regenerate, new chat; kept in IndexedDB so a
// reload shows it again. A lost GPU device during a reply reloads the model once and restarts the
// reply (the engine keeps no state the UI cannot resend: the request carries the whole history).

import { useCallback, useEffect, useRef, useState } from 'react';
import type { ChatCompletionChunk, ChatCompletionRequestStreaming } from '../../api/types.ts';
import type { ModelSession } from '../engine/useModelSession.ts';
import { errorText } from '../format.ts';
import { throttledSaver, tryLoad } from '../persist.ts';
import type { Settings } from '../settings/settings.ts';
import { newConversation, newId, requestMessages, restoreConversation, type Conversation, type UiMessage } from './conversation.ts';

export interface Chat {
  conversation: Conversation;
  /** the stored conversation has been read (messages shown are the real ones) */
  restored: boolean;
  streaming: boolean;
  send(text: string): void;
  stop(): void;
  regenerate(): void;
  newChat(): void;
}

function isDeviceLost(e: unknown): boolean {
  const x = e as { name?: string; code?: string } | null;
  return x?.name === 'GpuDeviceLostError' || x?.code === 'gpu_device_lost';
}

type Patch = Partial<UiMessage> | ((m: UiMessage) => Partial<UiMessage>);

export function useChat(session: ModelSession, settings: Settings, storageKey: string): Chat {
  const [conversation, setConversation] = useState<Conversation>(newConversation);
  const [restored, setRestored] = useState(false);
  const [streaming, setStreaming] = useState(false);
  const saver = useRef(throttledSaver<Conversation>(storageKey, 300));
  const streamingRef = useRef(false);
  const stopRequested = useRef(false);
  const sessionRef = useRef(session);
  sessionRef.current = session;
  const settingsRef = useRef(settings);
  settingsRef.current = settings;
  const convRef = useRef(conversation);
  convRef.current = conversation;

  // a stored conversation that could not be read must not be overwritten by an empty one
  const readFailed = useRef(false);

  useEffect(() => {
    let live = true;
    void tryLoad<unknown>(storageKey).then((r) => {
      if (!live) return;
      if (r.ok) {
        const c = restoreConversation(r.value);
        if (c) setConversation(c);
      } else {
        readFailed.current = true;
        console.warn('WebMoE: the stored conversation could not be read; it is kept until you send a message.', r.error);
      }
      setRestored(true);
    });
    const flush = () => void saver.current.flush();
    window.addEventListener('pagehide', flush);
    return () => {
      live = false;
      window.removeEventListener('pagehide', flush);
    };
  }, [storageKey]);

  useEffect(() => {
    if (!restored) return;
    if (readFailed.current && conversation.messages.length === 0) return;
    saver.current.push(conversation);
    // while a reply streams, one write per 300 ms; a finished turn is written at once (a reload
    // right after it must find it: writes started during unload may be dropped)
    if (!conversation.messages.some((m) => m.state === 'streaming')) void saver.current.flush();
  }, [conversation, restored]);

  const patch = useCallback((id: string, p: Patch) => {
    setConversation((c) => ({
      ...c,
      updatedAt: Date.now(),
      messages: c.messages.map((m) => (m.id === id ? { ...m, ...(typeof p === 'function' ? p(m) : p) } : m)),
    }));
  }, []);

  const generate = useCallback(
    async (history: UiMessage[]) => {
      const s = sessionRef.current;
      const engine = s.engine;
      if (!engine || s.status !== 'ready' || streamingRef.current) return;
      const id = newId('msg');
      setConversation((c) => ({ ...c, updatedAt: Date.now(), messages: [...history, { id, role: 'assistant', content: '', reasoning: '', state: 'streaming', model: s.modelId ?? undefined }] }));
      streamingRef.current = true;
      stopRequested.current = false;
      setStreaming(true);
      const st = settingsRef.current;
      const request: ChatCompletionRequestStreaming = {
        messages: requestMessages(history, st.systemPrompt),
        stream: true,
        stream_options: { include_usage: true },
        temperature: st.temperature,
        top_p: st.topP,
        max_tokens: st.maxTokens,
      };
      let recovered = false;
      for (;;) {
        try {
          const stream = await engine.chat.completions.create(request);
          let finish: string | null = null;
          for await (const chunk of stream as AsyncIterable<ChatCompletionChunk>) {
            const choice = chunk.choices[0];
            if (choice) {
              const d = choice.delta;
              if (d.content || d.reasoning_content || d.tool_calls?.length)
                patch(id, (m) => ({
                  content: m.content + (d.content ?? ''),
                  reasoning: m.reasoning + (d.reasoning_content ?? ''),
                  ...(d.tool_calls?.length ? { toolCalls: [...(m.toolCalls ?? []), ...d.tool_calls.map((t) => `${t.function?.name ?? '?'}(${t.function?.arguments ?? ''})`)] } : {}),
                }));
              if (choice.finish_reason) finish = choice.finish_reason;
            }
            if (chunk.usage) {
              const u = chunk.usage;
              const x = u.extra;
              patch(id, {
                usage: {
                  promptTokens: u.prompt_tokens,
                  completionTokens: u.completion_tokens,
                  ttftMs: x?.time_to_first_token_s !== undefined ? x.time_to_first_token_s * 1000 : null,
                  prefillTokensPerSecond: x?.prefill_tokens_per_s ?? null,
                  decodeTokensPerSecond: x?.decode_tokens_per_s ?? null,
                },
              });
            }
          }
          patch(id, { state: finish === 'abort' || stopRequested.current ? 'stopped' : 'done', finishReason: finish });
          break;
        } catch (e) {
          if (isDeviceLost(e) && !recovered && !stopRequested.current) {
            recovered = true;
            patch(id, { content: '', reasoning: '', toolCalls: undefined });
            const ok = await sessionRef.current.reloadCurrent('The GPU device was lost. The model was reloaded and the reply restarted.');
            if (ok) continue;
          }
          patch(id, { state: 'error', error: errorText(e) });
          break;
        }
      }
      streamingRef.current = false;
      setStreaming(false);
    },
    [patch],
  );

  const send = useCallback(
    (text: string) => {
      if (!text.trim() || streamingRef.current) return;
      const user: UiMessage = { id: newId('msg'), role: 'user', content: text, reasoning: '', state: 'done' };
      void generate([...convRef.current.messages, user]);
    },
    [generate],
  );

  const stop = useCallback(() => {
    if (!streamingRef.current) return;
    stopRequested.current = true;
    void sessionRef.current.engine?.interruptGenerate();
  }, []);

  const regenerate = useCallback(() => {
    if (streamingRef.current) return;
    const msgs = convRef.current.messages;
    let end = msgs.length;
    while (end > 0 && msgs[end - 1].role === 'assistant') end--;
    if (end === 0) return;
    void generate(msgs.slice(0, end));
  }, [generate]);

  const newChat = useCallback(() => {
    if (streamingRef.current) {
      stopRequested.current = true;
      void sessionRef.current.engine?.interruptGenerate();
    }
    void sessionRef.current.engine?.resetChat().catch(() => {});
    setConversation(newConversation());
  }, []);

  return { conversation, restored, streaming, send, stop, regenerate, newChat };
}
