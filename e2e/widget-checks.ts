// What every widget spec checks on a host page of another origin (used against the dev server
// and against the built dist/ under `vite preview`).

import { expect, type Page } from '@playwright/test';
import { sendMessage, visibleText, waitReady, waitTurnEnd, type Reference } from './ui-helpers.ts';

const SHOTS = 'test-results/ui-screens';

export async function checkWidget(page: Page, hostUrl: string, widgetOrigin: string, ref: Reference, label: string): Promise<void> {
  expect(new URL(hostUrl).origin).not.toBe(widgetOrigin);
  await page.goto(hostUrl);
  const launcher = page.getByTestId('widget-open');
  await expect(launcher).toBeVisible();
  const inShadow = await page.evaluate(() => {
    const el = document.querySelector('webmoe-chat-widget');
    return !!el?.shadowRoot && el.shadowRoot.mode === 'open' && !!el.shadowRoot.querySelector('[data-testid="widget-open"]') && !document.querySelector('[data-testid="widget-open"]');
  });
  expect(inShadow, 'the launcher is inside an open shadow root').toBe(true);
  await expect(launcher).toHaveAccessibleName('Open chat: Help desk');
  await page.screenshot({ path: `${SHOTS}/widget-${label}-1-closed.png` });

  await launcher.click();
  const frameEl = page.getByTestId('widget-frame');
  await expect(frameEl).toBeVisible();
  const frame = page.frameLocator('[data-testid="widget-frame"]');
  await waitReady(frame);
  const msg = await sendMessage(frame, 'hello world');
  expect(await waitTurnEnd(msg)).toBe('done');
  const shown = visibleText(await msg.getByTestId('assistant-content').innerText());
  expect(shown).toBe(visibleText(ref.content));
  await page.screenshot({ path: `${SHOTS}/widget-${label}-2-open.png` });

  // the chat and its engine worker run on the widget's origin
  const chatFrame = page.frames().find((f) => f.url().includes('embed=1'));
  expect(chatFrame, 'chat frame').toBeTruthy();
  expect(new URL(chatFrame!.url()).origin).toBe(widgetOrigin);
  expect(await chatFrame!.evaluate(() => document.querySelectorAll('[data-testid="chat-input"]').length)).toBe(1);

  // the host page cannot read the conversation: the frame's document is closed to it, and the
  // shadow root holds only the shell
  const hostView = await page.evaluate(() => {
    const el = document.querySelector('webmoe-chat-widget')!;
    const f = el.shadowRoot!.querySelector('iframe')!;
    let doc: string;
    try {
      doc = f.contentDocument === null ? 'null' : 'readable';
    } catch {
      doc = 'threw';
    }
    return { doc, shadow: el.shadowRoot!.textContent ?? '', page: document.body.innerText };
  });
  expect(hostView.doc).not.toBe('readable');
  expect(hostView.shadow).not.toContain(shown);
  expect(hostView.page).not.toContain(shown);

  // messages from the host are ignored by the frame (new-chat) and by the shell (close) ...
  await page.evaluate(() => {
    const f = document.querySelector('webmoe-chat-widget')!.shadowRoot!.querySelector('iframe')!;
    f.contentWindow!.postMessage({ source: 'webmoe-widget', type: 'new-chat' }, '*');
    window.postMessage({ source: 'webmoe-widget', type: 'close' }, '*');
  });
  await page.waitForTimeout(500);
  await expect(frame.getByTestId('assistant-message')).toHaveCount(1);
  await expect(frameEl).toBeVisible();
  // ... while the same command from the widget's own origin is obeyed
  await chatFrame!.evaluate(() => window.postMessage({ source: 'webmoe-widget', type: 'new-chat' }, location.origin));
  await expect(frame.getByTestId('assistant-message')).toHaveCount(0);

  // Escape in the frame closes the panel (frame -> shell message from the widget origin)
  await frame.getByTestId('chat-input').press('Escape');
  await expect(frameEl).toBeHidden();
  await expect(launcher).toHaveAttribute('aria-expanded', 'false');
}
