// Register the service worker (src/ui/sw/sw.ts, served as /sw.js) and, on the first visit, wait
// until it controls the page before the engine worker starts: then the worker's scripts pass
// through it and are cached, and the page's own files (loaded before it existed) are handed to it
// to cache. After that one visit the app starts with the network off.

const CONTROL_TIMEOUT_MS = 5000;

function pageResources(): string[] {
  const urls = new Set<string>([location.href]);
  for (const e of performance.getEntriesByType('resource') as PerformanceResourceTiming[]) {
    const u = new URL(e.name);
    if (u.origin === location.origin) urls.add(u.href);
  }
  return [...urls];
}

/** <html data-offline-ready>: the app shell is cached (the worker confirmed it, or controlled the page at load). */
function markOfflineReady(): void {
  document.documentElement.dataset.offlineReady = 'true';
}

/** Resolves when the page is controlled (or after a timeout, or at once where there is no SW). */
export function registerServiceWorker(): Promise<void> {
  if (!('serviceWorker' in navigator) || !window.isSecureContext) return Promise.resolve();
  const sw = navigator.serviceWorker;
  sw.addEventListener('message', (e) => {
    if ((e.data as { type?: string } | null)?.type === 'webmoe:cached') markOfflineReady();
  });
  const swUrl = new URL(`${import.meta.env.BASE_URL}sw.js`, location.href);
  const controlled = sw.controller !== null;
  const registering = sw.register(swUrl.href, { scope: import.meta.env.BASE_URL }).catch((e: unknown) => {
    console.warn('WebMoE: service worker registration failed; the app will not work offline.', e);
    return null;
  });
  if (controlled) {
    markOfflineReady();
    return Promise.resolve();
  }
  return new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(done, CONTROL_TIMEOUT_MS);
    sw.addEventListener(
      'controllerchange',
      () => {
        sw.controller?.postMessage({ type: 'webmoe:cache-urls', urls: pageResources() });
        done();
      },
      { once: true },
    );
    void registering.then((r) => {
      if (!r) done();
    });
  });
}
