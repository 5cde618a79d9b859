// "Prune to fit" in the chat app (src/ui/prune): the embedded default model (16 experts × 6
// layers) with an expert budget of 2.4 MiB (its experts need 4.78 MiB, more than 1.5×) gets the
// offer with the numbers of ratioToFit / pruneEstimate; a frequency run is cancelled (nothing
// kept); a REAP run in the pruning worker shows its phases, writes `<id>-pruned-50` into
// IndexedDB, and the picker lists it. Its manifest equals that of the same pruning done here in
// Node (deterministic), and loaded in the app (WebGPU on SwiftShader) it replies greedily exactly
// as the CPU reference of the Node-pruned package.

import { expect, test, type Page } from '@playwright/test';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { nodeSink } from '../src/cli/convert.ts';
import { openPackage } from '../src/format/package.ts';
import { prunePackage } from '../src/prune/prune.ts';
import { pruneEstimate, ratioToFit } from '../src/prune/summary.ts';
import { nodeDir } from '../src/store/node-dir.ts';
import { MIB, mib, prunedModelId } from '../src/ui/prune/offer.ts';
import { referenceReply, sendMessage, visibleText, waitReady, waitTurnEnd, type Reference } from './ui-helpers.ts';

const SOURCE_ID = 'stories-moe-10m';
const SOURCE_DIR = join(import.meta.dirname, '../public/models', SOURCE_ID);
const BUDGET_MIB = 2.4;
const MAX_TOKENS = 12;
const PROMPT = 'Once upon a time, there was a little dog';

let ratio: number;
let targetId: string;
let nodeManifest: unknown;
let ref: Reference;
let tmp: string;

test.beforeAll(async () => {
  const pkg = await openPackage(nodeDir(SOURCE_DIR));
  ratio = ratioToFit(pkg.manifest, Math.round(BUDGET_MIB * MIB))!;
  expect(ratio).toBe(0.5); // 8 of 16 experts per layer fit in 2.4 MiB
  targetId = prunedModelId(SOURCE_ID, ratio, 'reap');
  tmp = mkdtempSync(join(tmpdir(), 'webmoe-ui-prune-'));
  const out = join(tmp, targetId);
  const text = readFileSync(join(import.meta.dirname, '../src/prune/calibration.txt'), 'utf8');
  ({ manifest: nodeManifest } = await prunePackage(pkg, nodeSink(out), { ratio, method: 'reap', calibration: { text } }));
  ref = await referenceReply(out, [{ role: 'user', content: PROMPT }], MAX_TOKENS);
});
test.afterAll(() => rmSync(tmp, { recursive: true, force: true }));

test('prune to fit: the offer with its numbers, cancel, prune with progress, the pruned model in the picker, load it and chat', async ({ page }) => {
  const est = pruneEstimate(JSON.parse(readFileSync(join(SOURCE_DIR, 'manifest.json'), 'utf8')), ratio);
  await page.goto(`/?temperature=0&top_p=1&max_tokens=${MAX_TOKENS}&expert_budget_mib=${BUDGET_MIB}`);
  await waitReady(page);

  const offer = page.getByTestId('prune-offer');
  await expect(offer).toBeVisible();
  await expect(offer.getByRole('heading', { name: 'Prune to fit?' })).toBeVisible();
  await expect(page.getByTestId('prune-need')).toContainText(`This model's experts need ${mib(est.expertBytes.before)}; your budget is ${mib(BUDGET_MIB * MIB)}. Prune to fit?`);
  await expect(page.getByTestId('prune-ratio')).toContainText('50% of the experts: 8 of 16 in each of 6 layers');
  await expect(page.getByTestId('prune-experts')).toContainText('16 → 8 per layer (96 → 48 in all');
  await expect(page.getByTestId('prune-bytes')).toHaveText(`${mib(est.expertBytes.before)} → ${mib(est.expertBytes.after)}`);
  await expect(page.getByTestId('prune-cost')).toContainText('Pruning removes experts; quality drops.');
  await expect(page.getByTestId('prune-cost')).toContainText('+23% bits per byte');
  await expect(page.getByRole('radio', { name: /REAP/ })).toBeChecked();
  await page.screenshot({ path: 'test-results/ui-screens/7-prune-offer.png' });

  // a frequency run, cancelled while it calibrates: an error line, nothing stored
  await page.getByRole('radio', { name: /Frequency/ }).check();
  await expect(page.getByTestId('prune-cost')).toContainText('with frequency');
  await page.getByTestId('prune-button').click();
  await expect(page.getByTestId('prune-progress')).toHaveAttribute('data-phase', /load|calibrate/);
  await page.getByTestId('prune-cancel').click();
  await expect(page.getByTestId('prune-error')).toContainText('cancelled');
  await expect(page.getByTestId('prune-progress')).toHaveCount(0);
  const freqId = prunedModelId(SOURCE_ID, ratio, 'frequency');
  await expect.poll(() => storedModels(page)).not.toContain(freqId);

  // REAP: phases load -> calibrate -> write, then the result
  await page.getByRole('radio', { name: /REAP/ }).check();
  await page.getByTestId('prune-button').click();
  const progress = page.getByTestId('prune-progress');
  await expect(progress).toHaveAttribute('data-phase', 'calibrate', { timeout: 120_000 });
  await expect(progress.getByRole('progressbar')).toBeVisible();
  await page.screenshot({ path: 'test-results/ui-screens/8-prune-progress.png' });
  const result = page.getByTestId('prune-result');
  await expect(result).toBeVisible({ timeout: 180_000 });
  await expect(result).toContainText(`Wrote ${targetId}: 8 experts per layer (was 16)`);
  await expect(page.getByTestId('prune-error')).toHaveCount(0);

  // in the picker (cached, on this device), and in IndexedDB with the manifest Node wrote
  const option = page.locator(`[data-testid="model-select"] optgroup[label="On this device"] option[value="${targetId}"]`);
  await expect(option).toHaveCount(1);
  await expect(option).toContainText('cached');
  const stored = JSON.parse(await storedManifest(page, targetId)) as { spec: { moe: { num_experts: number } }; experts: unknown[] };
  expect(stored.spec.moe.num_experts).toBe(8);
  expect(stored.experts).toHaveLength(6 * 8);
  expect(stored).toEqual(nodeManifest);

  // load it: it fits the budget (no offer), the engine runs 8 experts per layer, the reply matches
  await page.getByTestId('prune-load').click();
  await waitReady(page);
  await expect(page.getByTestId('model-status')).toContainText(targetId);
  await expect(page.getByTestId('model-select')).toHaveValue(targetId);
  await expect(page.getByTestId('prune-offer')).toHaveCount(0);
  const msg = await sendMessage(page, PROMPT);
  expect(await waitTurnEnd(msg)).toBe('done');
  expect(visibleText(await msg.getByTestId('assistant-content').innerText())).toBe(visibleText(ref.content));
  await expect(page.getByTestId('expert-heatmap').getByRole('img')).toHaveAttribute('aria-label', /6 layers by 8 experts/);
  await page.screenshot({ path: 'test-results/ui-screens/9-pruned-chat.png' });
});

// The app's own store module, served by the Vite dev server, read in the page.
type IdbModule = typeof import('../src/store/idb.ts');
const IDB_MODULE = '/src/store/idb.ts';

async function storedModels(page: Page): Promise<string[]> {
  return page.evaluate(async (url) => {
    const { IdbShardStore } = (await import(url)) as IdbModule;
    return new IdbShardStore().models();
  }, IDB_MODULE);
}

async function storedManifest(page: Page, id: string): Promise<string> {
  return page.evaluate(
    async ([url, modelId]) => {
      const { IdbShardStore } = (await import(url)) as IdbModule;
      const bytes = await new IdbShardStore().get(modelId, 'manifest.json');
      return bytes ? new TextDecoder().decode(bytes) : 'null';
    },
    [IDB_MODULE, id] as const,
  );
}
