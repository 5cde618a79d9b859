// Entry of index.html: the chat app, or with ?embed=1 the chat inside the widget's frame.

import { createRoot } from 'react-dom/client';
import { App } from './App.tsx';
import { EmbedApp } from './EmbedApp.tsx';
import { registerServiceWorker } from './sw-register.ts';
import './styles.css';
import './chat.css';
import './panel.css';

const query = new URLSearchParams(location.search);
const embed = query.get('embed') === '1';
// The frame inside other sites' pages does not install a service worker of its own.
const ready = embed ? Promise.resolve() : registerServiceWorker();
document.documentElement.classList.toggle('embedded', embed);

const root = createRoot(document.getElementById('root')!);
root.render(embed ? <EmbedApp query={query} ready={ready} /> : <App query={query} ready={ready} />);
