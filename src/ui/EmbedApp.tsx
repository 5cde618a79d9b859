// The chat in the widget's frame (index.html?embed=1&title=...&model=...[&endpoint=...]): the same chat, status
// and progress as the app, without the side panel. Settings are the app's stored ones (same
// origin), but the conversation and the chosen model are kept apart from the app's.

import { useEffect } from 'react';
import { Banners } from './Banners.tsx';
import { ChatView } from './chat/ChatView.tsx';
import { useChat } from './chat/useChat.ts';
import { acceptCommand, postToShell } from './embed-messages.ts';
import { useModelSession } from './engine/useModelSession.ts';
import { ProgressBar } from './models/ProgressBar.tsx';
import type { AppProps } from './App.tsx';
import { useSettings } from './settings/useSettings.ts';
import { composerHint, statusText } from './status.ts';

export function EmbedApp({ query, ready }: AppProps) {
  const { settings, loaded } = useSettings('settings', query);
  if (!loaded) return null;
  return <EmbedChat query={query} ready={ready} settings={settings} />;
}

function EmbedChat({ query, ready, settings }: AppProps & { settings: ReturnType<typeof useSettings>['settings'] }) {
  const session = useModelSession({ settings, requestedModel: query.get('model'), requestedEndpoint: query.get('endpoint'), ready, scope: 'widget' });
  const chat = useChat(session, settings, 'conversation:widget');
  const status = statusText(session);
  const title = query.get('title') || 'Chat';

  useEffect(() => postToShell({ type: 'status', text: status }), [status]);

  const newChat = chat.newChat;
  useEffect(() => {
    const onMessage = (e: MessageEvent) => {
      const cmd = acceptCommand(e, location.origin);
      if (cmd?.type === 'new-chat') newChat();
    };
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape') postToShell({ type: 'close' });
    };
    window.addEventListener('message', onMessage);
    window.addEventListener('keydown', onKey);
    return () => {
      window.removeEventListener('message', onMessage);
      window.removeEventListener('keydown', onKey);
    };
  }, [newChat]);

  return (
    <div className="app embed">
      <header className="topbar compact">
        <h1 className="visually-hidden">{title}</h1>
        <span className={`model-status ${session.status}`} data-testid="model-status" role="status" aria-live="polite">
          {status}
        </span>
      </header>
      <Banners session={session} />
      {session.progress ? <ProgressBar progress={session.progress} /> : null}
      <ChatView chat={chat} canSend={session.status === 'ready'} placeholder={composerHint(session)} expandReasoning={settings.expandReasoning} empty={<p className="muted">Ask anything. The model runs on your device.</p>} />
    </div>
  );
}
