// Service worker of the chat app: keeps the app shell (HTML, scripts, styles, the engine worker,
// models/index.json) in Cache Storage so a reload with the network off still starts the app. The
// model's weights are NOT cached here: they live in IndexedDB (src/store), where the engine reads
// them offline.
//
//   install   precache the build's files (the list is injected at build time by
//             src/ui/build/vite-plugin.ts; empty under the dev server) and the page itself
//   activate  drop caches of older versions, take control of open pages at once
//   fetch     same-origin GETs of shell resources only:
//               hashed build files (in the precache list): cache first
//               pages and everything else of the shell: network first, cache when offline
//   message   {type: 'webmoe:cache-urls', urls}: the page's first visit loaded these before this
//             worker controlled it; fetch and cache them now (sw-register.ts sends them)
//
// Bundled to /sw.js by the plugin (dev: on request; build: emitted into dist/).

/// <reference lib="webworker" />

/** replaced at bundle time: a build id, and the build's files relative to the worker's scope */
declare const __WEBMOE_SW_VERSION__: string;
declare const __WEBMOE_SW_PRECACHE__: string[];

const sw = self as unknown as ServiceWorkerGlobalScope;
const VERSION = __WEBMOE_SW_VERSION__;
const CACHE = `webmoe-shell-${VERSION}`;
const PREFIX = 'webmoe-shell-';
const scope = new URL(sw.registration.scope);
const precache = new Set(__WEBMOE_SW_PRECACHE__.map((p) => new URL(p, scope).href));
const SHELL_DESTINATIONS = new Set<RequestDestination>(['document', 'script', 'style', 'worker', 'sharedworker', 'font', 'image', 'manifest']);

/** The page is cached under its path without the query (?model=..., ?embed=1 share one entry). */
function pageKey(url: URL): string {
  return url.origin + url.pathname;
}

function isShell(req: Request, url: URL): boolean {
  if (req.method !== 'GET' || url.origin !== scope.origin || req.headers.has('range')) return false;
  if (!url.href.startsWith(scope.href)) return false;
  if (req.mode === 'navigate') return true;
  // the list of embedded models (model files themselves go to IndexedDB, never here)
  if (url.pathname.endsWith('/models/index.json')) return true;
  return SHELL_DESTINATIONS.has(req.destination);
}

async function put(key: string, res: Response): Promise<void> {
  if (!res.ok || res.type === 'opaque' || res.status === 206) return;
  const cache = await caches.open(CACHE);
  await cache.put(key, res);
}

async function networkFirst(req: Request, key: string): Promise<Response> {
  try {
    const res = await fetch(req);
    if (res.ok) await put(key, res.clone()).catch(() => {});
    return res;
  } catch (err) {
    const cache = await caches.open(CACHE);
    const hit = (await cache.match(key)) ?? (req.mode === 'navigate' ? await cache.match(scope.href) : undefined);
    if (hit) return hit;
    throw err;
  }
}

async function cacheFirst(req: Request, key: string): Promise<Response> {
  const hit = await (await caches.open(CACHE)).match(key);
  return hit ?? networkFirst(req, key);
}

sw.addEventListener('install', (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(CACHE);
      // one by one: a file missing from the server must not keep the worker from installing
      for (const url of [scope.href, ...precache]) {
        try {
          const res = await fetch(url, { cache: 'reload' });
          if (res.ok) await cache.put(url, res);
        } catch {
          // offline during install: the fetch handler fills the cache later
        }
      }
      await sw.skipWaiting();
    })(),
  );
});

sw.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) if (name.startsWith(PREFIX) && name !== CACHE) await caches.delete(name);
      await sw.clients.claim();
    })(),
  );
});

sw.addEventListener('fetch', (event) => {
  const req = event.request;
  const url = new URL(req.url);
  if (!isShell(req, url)) return;
  const key = req.mode === 'navigate' ? pageKey(url) : url.href;
  event.respondWith(precache.has(url.href) ? cacheFirst(req, key) : networkFirst(req, key));
});

interface CacheUrlsMessage {
  type: 'webmoe:cache-urls';
  urls: string[];
}

sw.addEventListener('message', (event) => {
  const msg = event.data as CacheUrlsMessage | null;
  if (!msg || msg.type !== 'webmoe:cache-urls' || !Array.isArray(msg.urls)) return;
  const done = (async () => {
    const cache = await caches.open(CACHE);
    for (const u of msg.urls) {
      let url: URL;
      try {
        url = new URL(u);
      } catch {
        continue;
      }
      if (url.origin !== scope.origin || !url.href.startsWith(scope.href)) continue;
      const key = url.pathname === scope.pathname || url.pathname.endsWith('/index.html') ? pageKey(url) : url.href;
      if (await cache.match(key)) continue;
      try {
        const res = await fetch(url.href);
        if (res.ok) await cache.put(key, res);
      } catch {
        // offline already: nothing to add
      }
    }
    event.source?.postMessage({ type: 'webmoe:cached', count: msg.urls.length });
  })();
  event.waitUntil(done);
});
