// One turn of the conversation. Assistant turns: collapsible reasoning (a <details>, open while
// the model is still reasoning when the setting says so), the answer as markdown, tool calls, and
// how the turn ended. `assistant-message` marks each assistant turn for tests.

import { memo } from 'react';
import type { UiMessage } from './conversation.ts';
import { CopyButton, Markdown } from './Markdown.tsx';

function endNote(m: UiMessage): string | null {
  if (m.state === 'stopped') return 'Stopped.';
  if (m.state === 'error') return null;
  if (m.state === 'done' && m.finishReason === 'length') return 'Reached the max tokens limit.';
  return null;
}

function Reasoning({ m, expand }: { m: UiMessage; expand: boolean }) {
  const thinking = m.state === 'streaming' && !m.content;
  return (
    <details className="reasoning" open={thinking && expand ? true : undefined} data-testid="reasoning">
      <summary>{thinking ? 'Thinking…' : 'Reasoning'}</summary>
      <div className="reasoning-body">{m.reasoning}</div>
    </details>
  );
}

export const Message = memo(function Message({ m, expandReasoning }: { m: UiMessage; expandReasoning: boolean }) {
  if (m.role === 'user') {
    return (
      <article className="msg user" aria-label="You" data-testid="user-message">
        <div className="bubble">{m.content}</div>
      </article>
    );
  }
  const note = endNote(m);
  const waiting = m.state === 'streaming' && !m.content && !m.reasoning;
  return (
    <article className="msg assistant" aria-label="Assistant" aria-busy={m.state === 'streaming'} data-testid="assistant-message" data-state={m.state}>
      {m.reasoning ? <Reasoning m={m} expand={expandReasoning} /> : null}
      <div className="content" data-testid="assistant-content">
        {waiting ? <span className="typing" aria-label="Generating">…</span> : <Markdown text={m.content} />}
      </div>
      {m.toolCalls?.length ? (
        <ul className="tool-calls" aria-label="Tool calls">
          {m.toolCalls.map((t, i) => (
            <li key={i}>
              <code>{t}</code>
            </li>
          ))}
        </ul>
      ) : null}
      {m.state === 'error' ? (
        <p className="msg-error" role="alert">
          {m.error}
        </p>
      ) : null}
      {note ? <p className="msg-note">{note}</p> : null}
      {m.state !== 'streaming' && m.content ? (
        <div className="msg-actions">
          <CopyButton text={() => m.content} label="Copy reply" />
        </div>
      ) : null}
    </article>
  );
});
