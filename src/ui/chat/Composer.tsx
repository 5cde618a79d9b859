// The message box: Enter sends, Shift+Enter starts a new line (IME composition is left alone);
// Send turns into Stop while a reply streams.

import { useEffect, useRef, useState, type KeyboardEvent } from 'react';

interface Props {
  canSend: boolean;
  streaming: boolean;
  /** why sending is not possible right now (shown as the placeholder) */
  placeholder: string;
  onSend(text: string): void;
  onStop(): void;
}

export function Composer({ canSend, streaming, placeholder, onSend, onStop }: Props) {
  const [text, setText] = useState('');
  const ref = useRef<HTMLTextAreaElement>(null);

  // grow with the text, up to a limit (CSS max-height)
  useEffect(() => {
    const ta = ref.current;
    if (!ta) return;
    ta.style.height = 'auto';
    ta.style.height = `${ta.scrollHeight}px`;
  }, [text]);

  const send = () => {
    if (!canSend || streaming || !text.trim()) return;
    onSend(text);
    setText('');
  };

  const onKeyDown = (e: KeyboardEvent<HTMLTextAreaElement>) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.nativeEvent.isComposing) {
      e.preventDefault();
      send();
    }
  };

  return (
    <form
      className="composer"
      onSubmit={(e) => {
        e.preventDefault();
        send();
      }}
    >
      <label htmlFor="chat-input" className="visually-hidden">
        Message
      </label>
      <textarea
        id="chat-input"
        ref={ref}
        data-testid="chat-input"
        rows={1}
        value={text}
        placeholder={placeholder}
        aria-describedby="composer-help"
        onChange={(e) => setText(e.target.value)}
        onKeyDown={onKeyDown}
      />
      <span id="composer-help" className="visually-hidden">
        Enter sends, Shift+Enter adds a new line.
      </span>
      {streaming ? (
        <button type="button" className="btn stop" data-testid="stop-button" onClick={onStop} aria-label="Stop generating">
          Stop
        </button>
      ) : (
        <button type="submit" className="btn primary" data-testid="send-button" disabled={!canSend || !text.trim()} aria-label="Send message">
          Send
        </button>
      )}
    </form>
  );
}
