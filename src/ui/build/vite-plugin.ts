// Vite plugin for the two files of the chat app that must sit at the site root as plain scripts:
//
//   /sw.js      the service worker (src/ui/sw/sw.ts), with the build's file list to precache
//   /widget.js  the embed script (src/widget/embed.ts), one classic IIFE a host page loads with
//               <script src=".../widget.js" async>
//
// Both are bundled with esbuild (a dev dependency already): under `vite` (dev server) on request,
// under `vite build` into dist/ next to index.html. The service worker's precache list is every
// file of the app's bundle (hashed names, so a new build gets a new cache version).

import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { build as esbuild } from 'esbuild';
import type { Plugin } from 'vite';

const SW_ENTRY = fileURLToPath(new URL('../sw/sw.ts', import.meta.url));
const WIDGET_ENTRY = fileURLToPath(new URL('../../widget/embed.ts', import.meta.url));

async function bundle(entry: string, define: Record<string, string>, minify: boolean): Promise<string> {
  const r = await esbuild({
    entryPoints: [entry],
    bundle: true,
    format: 'iife',
    target: 'es2020',
    platform: 'browser',
    write: false,
    minify,
    define,
    legalComments: 'none',
  });
  return r.outputFiles[0].text;
}

export function swSource(version: string, precache: string[], minify: boolean): Promise<string> {
  return bundle(SW_ENTRY, { __WEBMOE_SW_VERSION__: JSON.stringify(version), __WEBMOE_SW_PRECACHE__: JSON.stringify(precache) }, minify);
}

export function widgetSource(minify: boolean): Promise<string> {
  return bundle(WIDGET_ENTRY, {}, minify);
}

/** Files the service worker should keep: the app's build output, not the widget or source maps. */
function shellFiles(names: string[]): string[] {
  const files = names.filter((n) => !n.endsWith('.map') && n !== 'widget.js' && n !== 'sw.js' && !n.startsWith('.vite/'));
  // index.html is emitted after this hook runs; it is part of the shell all the same
  return [...new Set([...files, 'index.html'])].sort();
}

export function webmoeUi(): Plugin {
  let appBuild = true;
  return {
    name: 'webmoe-ui',
    configResolved(config) {
      // a library or SSR build sharing this config gets neither file
      appBuild = !config.build.lib && !config.build.ssr;
    },
    configureServer(server) {
      server.middlewares.use((req, res, next) => {
        const path = (req.url ?? '').split('?')[0];
        const make = path === '/sw.js' ? () => swSource('dev', [], false) : path === '/widget.js' ? () => widgetSource(false) : null;
        if (!make) return next();
        make().then(
          (js) => {
            res.setHeader('Content-Type', 'text/javascript; charset=utf-8');
            res.setHeader('Cache-Control', 'no-cache');
            res.end(js);
          },
          (err: Error) => next(err),
        );
      });
    },
    async generateBundle(_opts, bundleOut) {
      if (!appBuild) return;
      const names = shellFiles(Object.keys(bundleOut));
      const hash = createHash('sha256');
      for (const n of names) {
        const f = bundleOut[n];
        hash.update(n);
        if (!f) continue;
        hash.update(f.type === 'chunk' ? f.code : typeof f.source === 'string' ? f.source : Buffer.from(f.source));
      }
      const version = hash.digest('hex').slice(0, 16);
      this.emitFile({ type: 'asset', fileName: 'sw.js', source: await swSource(version, names, true) });
      this.emitFile({ type: 'asset', fileName: 'widget.js', source: await widgetSource(true) });
    },
  };
}
