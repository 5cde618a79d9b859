// Pure pieces of the chat app: settings from storage and the URL, the request built from the
// conversation, a conversation restored after a reload, frame message checks, formatting.

import { describe, expect, it } from 'vitest';
import { requestMessages, restoreConversation, type UiMessage } from './chat/conversation.ts';
import { acceptCommand } from './embed-messages.ts';
import { formatEta, formatPercent } from './format.ts';
import { DEFAULT_SETTINGS, expertBudgetBytes, sanitizeSettings, settingsFromQuery } from './settings/settings.ts';
import { summarize } from './stats/ExpertHeatmap.tsx';

const msg = (role: UiMessage['role'], content: string, extra: Partial<UiMessage> = {}): UiMessage => ({ id: `${role}-${content}`, role, content, reasoning: '', state: 'done', ...extra });

describe('settings', () => {
  it('clamps numbers, drops unknown values, keeps valid ones', () => {
    const s = sanitizeSettings({ temperature: 9, topP: -1, maxTokens: 12.6, backend: 'quantum', theme: 'dark', systemPrompt: 'Be brief.', expertBudgetMiB: 0.004 });
    expect(s).toEqual({ ...DEFAULT_SETTINGS, temperature: 2, topP: 0.05, maxTokens: 13, theme: 'dark', systemPrompt: 'Be brief.', expertBudgetMiB: 0.004 });
  });

  it('URL parameters override stored settings', () => {
    const stored = sanitizeSettings({ temperature: 1.2, maxTokens: 100 });
    const s = sanitizeSettings(settingsFromQuery(new URLSearchParams('temperature=0&max_tokens=16&backend=cpu&top_p=abc')), stored);
    expect(s.temperature).toBe(0);
    expect(s.maxTokens).toBe(16);
    expect(s.backend).toBe('cpu');
    expect(s.topP).toBe(stored.topP);
  });

  it('the expert budget in bytes: 0 is no budget, a tiny one is at least a byte', () => {
    expect(expertBudgetBytes(0)).toBe(0);
    expect(expertBudgetBytes(0.004)).toBe(4194);
    expect(expertBudgetBytes(1e-9)).toBe(1);
  });
});

describe('conversation', () => {
  it('builds the request: system prompt first, errored and streaming turns left out, reasoning handed back', () => {
    const turns = [
      msg('user', 'a'),
      msg('assistant', 'b', { reasoning: 'r' }),
      msg('user', 'c'),
      msg('assistant', '', { state: 'error', error: 'x' }),
      msg('user', 'd'),
      msg('assistant', 'partial', { state: 'streaming' }),
    ];
    expect(requestMessages(turns, '  ')).toEqual([
      { role: 'user', content: 'a' },
      { role: 'assistant', content: 'b', reasoning_content: 'r' },
      { role: 'user', content: 'c' },
      { role: 'user', content: 'd' },
    ]);
    expect(requestMessages([msg('user', 'a')], 'Sys')[0]).toEqual({ role: 'system', content: 'Sys' });
  });

  it('a reply cut off by a reload is restored as stopped; junk is rejected', () => {
    const c = restoreConversation({ id: 'c', createdAt: 1, updatedAt: 2, messages: [msg('user', 'a'), msg('assistant', 'b', { state: 'streaming' }), { role: 'tool', content: 1 }] });
    expect(c?.messages.map((m) => [m.role, m.state])).toEqual([
      ['user', 'done'],
      ['assistant', 'stopped'],
    ]);
    expect(restoreConversation(null)).toBeNull();
    expect(restoreConversation({ id: 3 })).toBeNull();
  });
});

describe('frame messages', () => {
  const own = 'http://127.0.0.1:5173';
  const ev = (origin: string, data: unknown) => new MessageEvent('message', { origin, data });
  it('accepts a known command from its own origin only', () => {
    expect(acceptCommand(ev(own, { source: 'webmoe-widget', type: 'new-chat' }), own)).toEqual({ source: 'webmoe-widget', type: 'new-chat' });
    expect(acceptCommand(ev('http://127.0.0.1:9999', { source: 'webmoe-widget', type: 'new-chat' }), own)).toBeNull();
    expect(acceptCommand(ev(own, { source: 'webmoe-widget', type: 'send', text: 'x' }), own)).toBeNull();
    expect(acceptCommand(ev(own, 'new-chat'), own)).toBeNull();
  });
});

describe('formatting and heatmap numbers', () => {
  it('formats ETA and percentages', () => {
    expect(formatEta(null)).toBe('—');
    expect(formatEta(4.2)).toBe('5 s');
    expect(formatEta(125)).toBe('2 min 5 s');
    expect(formatEta(3725)).toBe('1 h 2 min');
    expect(formatPercent(0.526)).toBe('52.6%');
  });

  it('counts resident experts and the last token hits and misses', () => {
    const s = summarize({ layers: 2, experts: 4, resident: [[0, 1], [2, 3]], lastToken: [{ layer: 0, expert: 0, hit: true }, { layer: 1, expert: 1, hit: false }] });
    expect(s).toEqual({ resident: 4, total: 8, hits: 1, misses: 1 });
  });
});
