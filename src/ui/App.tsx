// The chat app: header with the model status, banners, load progress, the conversation, and a
// side panel (model, storage, settings, stats). On a phone-width screen the side panel is a
// drawer opened from the header.

import { useEffect, useState } from 'react';
import { Banners } from './Banners.tsx';
import { ChatView } from './chat/ChatView.tsx';
import { useChat } from './chat/useChat.ts';
import { useModelSession } from './engine/useModelSession.ts';
import { ModelPicker } from './models/ModelPicker.tsx';
import { ProgressBar } from './models/ProgressBar.tsx';
import { PruneOfferPanel } from './prune/PruneOffer.tsx';
import { usePrune } from './prune/usePrune.ts';
import { RemoteEndpointForm } from './models/RemoteEndpointForm.tsx';
import { Storage } from './models/Storage.tsx';
import { SettingsPanel } from './settings/SettingsPanel.tsx';
import type { Settings } from './settings/settings.ts';
import { useSettings } from './settings/useSettings.ts';
import { StatsPanel } from './stats/StatsPanel.tsx';
import { useEngineStats } from './stats/useEngineStats.ts';
import { composerHint, statusText } from './status.ts';

export interface AppProps {
  query: URLSearchParams;
  /** resolves once the service worker controls the page (or it is not used) */
  ready: Promise<void>;
}

export function App({ query, ready }: AppProps) {
  const { settings, loaded, update } = useSettings('settings', query);
  if (!loaded) {
    return (
      <div className="app">
        <header className="topbar">
          <h1>WebMoE</h1>
          <span className="model-status" data-testid="model-status" role="status">
            Starting…
          </span>
        </header>
      </div>
    );
  }
  return <Main query={query} ready={ready} settings={settings} update={update} />;
}

function Main({ query, ready, settings, update }: AppProps & { settings: Settings; update(p: Partial<Settings>): void }) {
  const session = useModelSession({ settings, requestedModel: query.get('model'), requestedEndpoint: query.get('endpoint'), ready, scope: 'app' });
  const chat = useChat(session, settings, 'conversation');
  // polled while a reply streams, read again when it ends and when a model is ready
  const { stats, refresh } = useEngineStats(session.engine, chat.streaming);
  const prune = usePrune(session, settings.expertBudgetMiB);
  const [drawer, setDrawer] = useState(false);

  useEffect(() => {
    if (session.status === 'ready') refresh();
  }, [session.status, refresh]);

  const reloadNeeded = session.status === 'ready' && !!session.loadedWith && (session.loadedWith.backend !== settings.backend || session.loadedWith.expertBudgetMiB !== settings.expertBudgetMiB);
  const ready_ = session.status === 'ready';

  return (
    <div className="app">
      <header className="topbar">
        <h1>WebMoE</h1>
        <span className={`model-status ${session.status}`} data-testid="model-status" role="status" aria-live="polite">
          {statusText(session)}
        </span>
        <button type="button" className="btn small drawer-toggle" aria-expanded={drawer} aria-controls="side-panel" onClick={() => setDrawer((d) => !d)}>
          {drawer ? 'Close panel' : 'Model & settings'}
        </button>
      </header>
      <Banners session={session} />
      <PruneOfferPanel prune={prune} />
      {session.progress ? <ProgressBar progress={session.progress} onCancel={session.progress.phase === 'download' ? session.cancel : undefined} /> : null}
      <div className="layout">
        <ChatView
          chat={chat}
          canSend={ready_}
          placeholder={composerHint(session)}
          expandReasoning={settings.expandReasoning}
          empty={
            <>
              <p>
                <strong>Chat with a Mixture-of-Experts model running in this tab.</strong>
              </p>
              <p className="muted">Weights stay on this device; after the first load it works offline.</p>
            </>
          }
        />
        <aside id="side-panel" className={`side ${drawer ? 'open' : ''}`} aria-label="Model, storage, settings and stats">
          <ModelPicker catalog={session.catalog} selectedId={session.modelId} busy={session.status === 'loading' || chat.streaming} onSelect={(e) => void session.select(e)} onAddUrl={(u, id) => void session.addUrl(u, id)} />
          <RemoteEndpointForm catalog={session.catalog} busy={session.status === 'loading' || chat.streaming} onAdd={(r) => void session.addRemote(r)} onRemove={(id) => void session.remove(id)} />
          <Storage catalog={session.catalog} loadedId={session.status === 'ready' ? session.modelId : null} onDelete={(id) => void session.remove(id)} />
          <SettingsPanel settings={settings} onChange={update} reloadNeeded={reloadNeeded} onReload={() => void session.reloadCurrent()} />
          <StatsPanel stats={stats} />
        </aside>
      </div>
    </div>
  );
}
