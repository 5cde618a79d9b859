// The embeddable chat widget: what `<script src="https://HOST/widget.js" async></script>` runs on
// the host page. Bundled to one classic script (IIFE, no imports at run time) by
// src/ui/build/vite-plugin.ts: served at /widget.js by the dev server, emitted as dist/widget.js.
//
//   host page                                    widget origin (where widget.js came from)
//   ┌───────────────────────────────────────┐
//   │ <webmoe-chat-widget>  (open shadow root)│
//   │   launcher button  [data-testid=widget-open]
//   │   panel: header (title, close)         │
//   │     <iframe src="HOST/?embed=1&...">  ─┼──► the chat app in embed mode (src/ui/EmbedApp.tsx):
//   └───────────────────────────────────────┘     chat-input, send-button, ..., and the engine
//                                                  worker, all on the widget's own origin
//
// Why an iframe: the engine worker must be served from the widget's origin (a page cannot start a
// worker from another origin's script URL), and the conversation must stay out of the host's
// reach. The iframe is cross-origin to the host, so the host can neither read its DOM nor its
// IndexedDB; the shell in the shadow root holds only the launcher and the frame. Messages: the
// frame posts {source: 'webmoe-widget', type: 'close' | 'status'} to the shell; the shell takes
// messages only from its own frame on the widget origin, and the frame ignores messages from any
// other origin (src/ui/embed-messages.ts).
//
// Script attributes: data-model (package URL or cached model id; default: the widget origin's
// embedded default), data-title (panel title, default "Chat"), data-position (bottom-right |
// bottom-left | top-right | top-left); sampling for this site: data-temperature, data-top-p,
// data-max-tokens, data-system-prompt.
//
// Remote endpoint: data-endpoint="https://llm.example.com/v1" (an OpenAI-compatible server: vLLM,
// SGLang, `webmoe serve`; a relative URL resolves against the host page) with data-model naming
// the model it serves. The chat frame then talks to that server instead of running a model in
// the tab; the server must allow the widget's origin (CORS). There is no data-api-key: a key in
// page HTML is readable by every visitor. A key the user saved for exactly that endpoint in the
// app on the widget origin is used; otherwise protect the endpoint another way (a proxy that adds
// the key and limits use).

const TAG = 'webmoe-chat-widget';
const POSITIONS = ['bottom-right', 'bottom-left', 'top-right', 'top-left'] as const;
type Position = (typeof POSITIONS)[number];

interface WidgetOptions {
  /** URL of the chat app on the widget origin (the folder widget.js was served from) */
  appUrl: URL;
  model: string | null;
  /** OpenAI base URL of a remote endpoint (data-endpoint), absolute */
  endpoint: string | null;
  title: string;
  position: Position;
  /** frame query parameters: sampling settings the site chose */
  sampling: Record<string, string>;
}

/** data-* attribute -> the app's URL parameter (src/ui/settings/settings.ts settingsFromQuery) */
const SAMPLING_ATTRS: Record<string, string> = { temperature: 'temperature', topP: 'top_p', maxTokens: 'max_tokens', systemPrompt: 'system' };

const STYLE = `
:host { all: initial; position: fixed; z-index: 2147483000; font: 14px/1.4 system-ui, sans-serif; }
:host([data-position="bottom-right"]) { right: 16px; bottom: 16px; }
:host([data-position="bottom-left"]) { left: 16px; bottom: 16px; }
:host([data-position="top-right"]) { right: 16px; top: 16px; }
:host([data-position="top-left"]) { left: 16px; top: 16px; }
.launcher { width: 56px; height: 56px; border-radius: 28px; border: none; cursor: pointer;
  background: #2563eb; color: #fff; box-shadow: 0 4px 14px rgba(0,0,0,.3); display: grid; place-items: center; }
.launcher:focus-visible { outline: 3px solid #93c5fd; outline-offset: 2px; }
.launcher svg { width: 26px; height: 26px; }
.panel { position: absolute; width: 380px; height: 560px; max-width: calc(100vw - 32px); max-height: calc(100vh - 96px);
  display: flex; flex-direction: column; background: #fff; color: #111; border-radius: 12px; overflow: hidden;
  box-shadow: 0 10px 40px rgba(0,0,0,.35); }
.panel[hidden] { display: none; }
:host([data-position^="bottom"]) .panel { bottom: 68px; }
:host([data-position^="top"]) .panel { top: 68px; }
:host([data-position$="right"]) .panel { right: 0; }
:host([data-position$="left"]) .panel { left: 0; }
.bar { display: flex; align-items: center; gap: 8px; padding: 8px 12px; background: #2563eb; color: #fff; }
.bar h2 { flex: 1; margin: 0; font-size: 15px; font-weight: 600; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.close { background: transparent; border: none; color: inherit; font-size: 22px; line-height: 1; cursor: pointer; padding: 2px 6px; }
iframe { flex: 1; width: 100%; border: 0; background: #fff; }
@media (prefers-color-scheme: dark) { .panel, iframe { background: #111827; color: #e5e7eb; } }
@media (max-width: 480px) { .panel { position: fixed; inset: 0; width: 100vw; height: 100vh; max-width: none; max-height: none; border-radius: 0; } }
`;

const ICON = '<svg viewBox="0 0 24 24" fill="currentColor" aria-hidden="true"><path d="M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H8l-4 4V6a2 2 0 0 1 2-2z"/></svg>';

function optionsFrom(script: HTMLScriptElement): WidgetOptions {
  const src = new URL(script.src, document.baseURI);
  const pos = script.dataset.position as Position | undefined;
  const sampling: Record<string, string> = {};
  for (const [attr, param] of Object.entries(SAMPLING_ATTRS)) {
    const v = script.dataset[attr];
    if (v !== undefined && v.trim() !== '') sampling[param] = v;
  }
  return {
    sampling,
    appUrl: new URL('./', src),
    model: script.dataset.model?.trim() || null,
    endpoint: endpointOf(script),
    title: script.dataset.title?.trim() || 'Chat',
    position: pos && POSITIONS.includes(pos) ? pos : 'bottom-right',
  };
}

function endpointOf(script: HTMLScriptElement): string | null {
  if (script.dataset.apiKey !== undefined)
    console.warn('WebMoE widget: data-api-key is ignored: an API key in page HTML is readable by every visitor. Put the endpoint behind a proxy that adds the key, or save the key in the app on the widget origin.');
  const e = script.dataset.endpoint?.trim();
  return e ? new URL(e, document.baseURI).href : null;
}

/** The frame's address: the app in embed mode, configured through the query only. */
function frameUrl(o: WidgetOptions): string {
  const u = new URL(o.appUrl.href);
  u.searchParams.set('embed', '1');
  u.searchParams.set('title', o.title);
  for (const [k, v] of Object.entries(o.sampling)) u.searchParams.set(k, v);
  if (o.endpoint) {
    // the model is a name the endpoint serves, not a package URL
    u.searchParams.set('endpoint', o.endpoint);
    if (o.model) u.searchParams.set('model', o.model);
  } else if (o.model) {
    // a relative package URL means "on the widget origin", not on the host page
    const m = /^[a-z][a-z0-9+.-]*:\/\//i.test(o.model) || !/^\.{0,2}\//.test(o.model) ? o.model : new URL(o.model, o.appUrl).href;
    u.searchParams.set('model', m);
  }
  return u.href;
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string>, text?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

class ChatWidget extends HTMLElement {
  private opts: WidgetOptions | null = null;
  private frame: HTMLIFrameElement | null = null;
  private panel!: HTMLElement;
  private launcher!: HTMLButtonElement;
  private readonly onMessage = (e: MessageEvent) => this.handleMessage(e);

  configure(opts: WidgetOptions): void {
    this.opts = opts;
    this.setAttribute('data-position', opts.position);
    const root = this.attachShadow({ mode: 'open' });
    root.append(el('style', {}, STYLE));

    this.panel = el('section', { class: 'panel', role: 'dialog', 'aria-label': opts.title, id: 'webmoe-panel', hidden: '' });
    const bar = el('div', { class: 'bar' });
    bar.append(el('h2', {}, opts.title));
    const close = el('button', { class: 'close', type: 'button', 'aria-label': 'Close chat', 'data-testid': 'widget-close' }, '×');
    close.addEventListener('click', () => this.setOpen(false));
    bar.append(close);
    this.panel.append(bar);

    this.launcher = el('button', {
      class: 'launcher',
      type: 'button',
      'data-testid': 'widget-open',
      'aria-label': `Open chat: ${opts.title}`,
      'aria-expanded': 'false',
      'aria-controls': 'webmoe-panel',
    });
    this.launcher.innerHTML = ICON;
    this.launcher.addEventListener('click', () => this.setOpen(this.panel.hidden));
    root.append(this.panel, this.launcher);
    root.addEventListener('keydown', (e) => {
      if ((e as KeyboardEvent).key === 'Escape') this.setOpen(false);
    });
  }

  connectedCallback(): void {
    window.addEventListener('message', this.onMessage);
  }

  disconnectedCallback(): void {
    window.removeEventListener('message', this.onMessage);
  }

  /** Open or close the panel; the frame (and with it the model) loads on the first open. */
  setOpen(open: boolean): void {
    if (!this.opts) return;
    if (open && !this.frame) {
      this.frame = el('iframe', {
        src: frameUrl(this.opts),
        title: this.opts.title,
        'data-testid': 'widget-frame',
        allow: 'clipboard-write',
        referrerpolicy: 'origin',
      });
      this.panel.append(this.frame);
    }
    this.panel.hidden = !open;
    this.launcher.setAttribute('aria-expanded', String(open));
    this.launcher.setAttribute('aria-label', `${open ? 'Close' : 'Open'} chat: ${this.opts.title}`);
    if (open) this.frame?.focus();
    else this.launcher.focus();
  }

  /** Only our own frame, on the widget origin, may talk to the shell. */
  private handleMessage(e: MessageEvent): void {
    if (!this.opts || !this.frame || e.source !== this.frame.contentWindow || e.origin !== this.opts.appUrl.origin) return;
    const msg = e.data as { source?: string; type?: string; text?: string } | null;
    if (!msg || msg.source !== 'webmoe-widget') return;
    if (msg.type === 'close') this.setOpen(false);
    else if (msg.type === 'status' && typeof msg.text === 'string') this.launcher.title = `${this.opts.title}: ${msg.text.slice(0, 80)}`;
  }
}

function start(): void {
  const script = document.currentScript as HTMLScriptElement | null;
  if (!script?.src) {
    console.error('WebMoE widget: load widget.js with <script src="https://HOST/widget.js" async></script>.');
    return;
  }
  const opts = optionsFrom(script);
  if (!customElements.get(TAG)) customElements.define(TAG, ChatWidget);
  const mount = () => {
    const w = document.createElement(TAG) as ChatWidget;
    w.configure(opts);
    document.body.append(w);
  };
  if (document.body) mount();
  else document.addEventListener('DOMContentLoaded', mount, { once: true });
}

start();
