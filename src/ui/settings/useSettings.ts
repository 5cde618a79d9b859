// Settings state: stored values, overridden by the page URL's parameters for this visit; every
// change is stored. The theme is applied to <html data-theme>.

import { useCallback, useEffect, useState } from 'react';
import { load, save } from '../persist.ts';
import { DEFAULT_SETTINGS, sanitizeSettings, settingsFromQuery, type Settings } from './settings.ts';

export function useSettings(key: string, query: URLSearchParams): { settings: Settings; loaded: boolean; update(patch: Partial<Settings>): void } {
  const [settings, setSettings] = useState<Settings>(() => sanitizeSettings(settingsFromQuery(query)));
  const [loaded, setLoaded] = useState(false);

  useEffect(() => {
    let live = true;
    void load<Partial<Settings>>(key).then((stored) => {
      if (!live) return;
      setSettings(sanitizeSettings(settingsFromQuery(query), sanitizeSettings(stored, DEFAULT_SETTINGS)));
      setLoaded(true);
    });
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key]);

  useEffect(() => {
    const root = document.documentElement;
    if (settings.theme === 'system') root.removeAttribute('data-theme');
    else root.setAttribute('data-theme', settings.theme);
  }, [settings.theme]);

  const update = useCallback(
    (patch: Partial<Settings>) => {
      setSettings((s) => {
        const next = sanitizeSettings({ ...s, ...patch }, s);
        void save(key, next);
        return next;
      });
    },
    [key],
  );

  return { settings, loaded, update };
}
