// Messages between the widget's frame (this app in embed mode, on the widget origin) and its
// shell (src/widget/embed.ts, on the host page).
//
//   frame -> shell   {source: 'webmoe-widget', type: 'status', text}   model status (no conversation)
//                    {source: 'webmoe-widget', type: 'close'}          Escape pressed in the frame
//   own origin -> frame
//                    {source: 'webmoe-widget', type: 'new-chat'}       start a new conversation
//
// The frame acts only on messages whose origin is its own: the host page (another origin) can
// neither drive the chat nor read it. What the frame posts carries no conversation content.

export const SOURCE = 'webmoe-widget';

export type FrameCommand = { source: typeof SOURCE; type: 'new-chat' };

/** A command the frame accepts, or null (wrong origin, wrong shape). */
export function acceptCommand(e: MessageEvent, ownOrigin: string): FrameCommand | null {
  if (e.origin !== ownOrigin) return null;
  const d = e.data as { source?: unknown; type?: unknown } | null;
  if (!d || typeof d !== 'object' || d.source !== SOURCE) return null;
  if (d.type === 'new-chat') return { source: SOURCE, type: 'new-chat' };
  return null;
}

/** The embedding page's origin (Chromium's ancestorOrigins, else the referrer), or null. */
export function parentOrigin(): string | null {
  const anc = (location as Location & { ancestorOrigins?: DOMStringList }).ancestorOrigins;
  if (anc && anc.length > 0) return anc[0];
  try {
    return document.referrer ? new URL(document.referrer).origin : null;
  } catch {
    return null;
  }
}

export function postToShell(msg: { type: 'status'; text: string } | { type: 'close' }): void {
  if (window.parent === window) return;
  const target = parentOrigin();
  if (!target) return;
  window.parent.postMessage({ source: SOURCE, ...msg }, target);
}
