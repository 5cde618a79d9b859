// The conversation pane: messages (kept scrolled to the newest unless the reader scrolled up),
// the reply actions (regenerate, new chat) and the composer.

import { useEffect, useRef } from 'react';
import { Composer } from './Composer.tsx';
import { Message } from './Message.tsx';
import type { Chat } from './useChat.ts';

interface Props {
  chat: Chat;
  canSend: boolean;
  placeholder: string;
  expandReasoning: boolean;
  /** shown when the conversation is empty */
  empty: React.ReactNode;
}

export function ChatView({ chat, canSend, placeholder, expandReasoning, empty }: Props) {
  const list = useRef<HTMLDivElement>(null);
  const stick = useRef(true);
  const msgs = chat.conversation.messages;
  const last = msgs[msgs.length - 1];

  useEffect(() => {
    const el = list.current;
    if (el && stick.current) el.scrollTop = el.scrollHeight;
  }, [msgs, last?.content, last?.reasoning]);

  const canRegenerate = !chat.streaming && canSend && msgs.some((m) => m.role === 'user');

  return (
    <section className="chat" aria-label="Conversation">
      <div
        className="messages"
        ref={list}
        role="log"
        aria-live="polite"
        aria-relevant="additions"
        onScroll={(e) => {
          const el = e.currentTarget;
          stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 40;
        }}
      >
        {msgs.length === 0 && chat.restored ? <div className="empty">{empty}</div> : null}
        {msgs.map((m) => (
          <Message key={m.id} m={m} expandReasoning={expandReasoning} />
        ))}
      </div>
      <div className="chat-actions">
        <button type="button" className="btn small" onClick={chat.regenerate} disabled={!canRegenerate} data-testid="regenerate-button">
          Regenerate
        </button>
        <button type="button" className="btn small" onClick={chat.newChat} disabled={msgs.length === 0 && !chat.streaming} data-testid="new-chat-button">
          New chat
        </button>
      </div>
      <Composer canSend={canSend} streaming={chat.streaming} placeholder={placeholder} onSend={chat.send} onStop={chat.stop} />
    </section>
  );
}
