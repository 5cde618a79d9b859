// Shared by the UI, offline and widget specs: the test model package, its CPU reference reply
// (the engine in Node, greedy), HTTP servers for the package and for host pages of another
// origin, and small page helpers.
//
// The test model: a tiny random MoE (2 layers, 4 experts, top-2; src/generate/testing.ts) with a
// letters-only byte-level BPE tokenizer, so every token decodes to lowercase letters or a space:
// the streamed text renders as plain markdown text and can be compared with the reference as the
// user sees it. The story template (plain continuation) formats the chat. When the embedded
// default model lands in public/models/ these specs keep using this one: it is small enough for
// SwiftShader and its reference is computed here.

import { expect, test, type Frame, type FrameLocator, type Locator, type Page } from '@playwright/test';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { createNodeEngine } from '../src/api/node.ts';
import { templateText, writeTinyPackage } from '../src/api/testing.ts';
import { byteLevelTokenizerJson, byteToUnicode, successorModel, tinyRandomModel } from '../src/generate/testing.ts';
import { PackageServer } from '../src/store/testing/package-server.ts';

// temp folders of the packages written here; specs remove them in afterAll
const tempDirs: string[] = [];

export function removeTempDirs(): void {
  for (const d of tempDirs.splice(0)) rmSync(d, { recursive: true, force: true });
}

function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.push(d);
  return d;
}

const LETTERS = 'abcdefghijklmnopqrstuvwxyz';
const MERGES: [string, string][] = [
  ['t', 'h'], ['h', 'e'], ['i', 'n'], ['e', 'r'], ['a', 'n'], ['r', 'e'], ['o', 'n'], ['a', 't'], ['e', 'n'], ['n', 'd'],
  ['o', 'u'], ['e', 'a'], ['h', 'a'], ['e', 's'], ['s', 't'], ['o', 'r'], ['Ġ', 't'], ['Ġ', 'a'], ['Ġ', 's'], ['Ġ', 'w'],
  ['Ġ', 'o'], ['Ġ', 'h'], ['Ġt', 'he'], ['l', 'l'], ['o', 'w'], ['l', 'o'], ['Ġ', 'b'], ['Ġ', 'i'],
];

/** Byte-level BPE over lowercase letters and "Ġ" (space) only: any id sequence decodes to [a-z ]*. */
export function lettersTokenizerJson(): object {
  const vocab: Record<string, number> = {};
  [...LETTERS, 'Ġ'].forEach((c, i) => (vocab[c] = i));
  let next = LETTERS.length + 1;
  for (const [a, b] of MERGES) vocab[a + b] ??= next++;
  const bl = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [],
    normalizer: null,
    pre_tokenizer: bl,
    post_processor: bl,
    decoder: bl,
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab, merges: MERGES.map(([a, b]) => `${a} ${b}`) },
  };
}

export const LETTERS_VOCAB = LETTERS.length + 1 + new Set(MERGES.map(([a, b]) => a + b)).size;

/** Write the test package into a fresh temp folder; returns the folder. */
export async function lettersPackage(seed = 5): Promise<string> {
  const dir = tempDir('webmoe-ui-pkg-');
  const out = join(dir, 'letters-moe');
  const model = tinyRandomModel(LETTERS_VOCAB, seed, 0.5);
  // room for a long reply (the stop-mid-stream test); the weights do not depend on it
  (model.spec as { max_position_embeddings: number }).max_position_embeddings = 4096;
  await writeTinyPackage(out, model, {
    tokenizerJson: lettersTokenizerJson(),
    tokenizerConfig: {},
    chatTemplate: templateText('story.jinja'),
  });
  return out;
}

/**
 * The reply of the markdown test model, piece by piece (one token each), after the MiniMax-M2
 * generation prompt (which opens a <think> block): reasoning, then markdown with bold text, a
 * code block, and raw HTML that must show as text, then EOS.
 */
export const MD_REPLY = ['Let me look', '</think>', '\n\n', 'Here is **bold** text and code:\n\n', '```js\nconsole.log(1);\n```', '\n\nRaw <b>html</b> stays text.', '[e~['];
const M2_SPECIALS = [']~!b[', ']~b]', '[e~[', '<think>', '</think>'];

/** A model with an exact reply (MD_REPLY) in the MiniMax-M2 chat format. */
export async function markdownPackage(): Promise<string> {
  const table = byteToUnicode();
  const bl = (text: string) => [...new TextEncoder().encode(text)].map((b) => table[b]).join('');
  // every multi-character piece becomes one token, merged character by character
  const merges: [string, string][] = [];
  for (const piece of MD_REPLY.filter((p) => !M2_SPECIALS.includes(p))) {
    const chars = [...bl(piece)];
    let cur = chars[0];
    for (const c of chars.slice(1)) {
      merges.push([cur, c]);
      cur += c;
    }
  }
  const json = byteLevelTokenizerJson(merges, M2_SPECIALS.map((content) => ({ content, special: true }))) as { model: { vocab: Record<string, number> }; added_tokens: { id: number; content: string }[] };
  const id = (piece: string) => json.added_tokens.find((t) => t.content === piece)?.id ?? json.model.vocab[bl(piece)];
  const chain = [id('\n'), ...MD_REPLY.map(id)];
  const vocab = Object.keys(json.model.vocab).length + json.added_tokens.length;
  const dir = tempDir('webmoe-ui-md-');
  const out = join(dir, 'markdown-moe');
  await writeTinyPackage(out, successorModel(vocab, chain, 40), {
    tokenizerJson: json,
    tokenizerConfig: { eos_token: '[e~[', bos_token: ']~!b[' },
    chatTemplate: templateText('minimax-m2.jinja'),
  });
  return out;
}

/** Every file of a package folder, by its package-relative path. */
export function packageFiles(dir: string): Map<string, Uint8Array> {
  const files = new Map<string, Uint8Array>();
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else files.set(relative(dir, p).split('\\').join('/'), new Uint8Array(readFileSync(p)));
    }
  };
  walk(dir);
  return files;
}

export interface Reference {
  content: string;
  reasoning: string | null;
  completionTokens: number;
}

/** The CPU reference: the engine in Node on the same package, greedy, same request as the UI sends. */
export async function referenceReply(pkgDir: string, messages: { role: 'system' | 'user' | 'assistant'; content: string }[], maxTokens: number): Promise<Reference> {
  const engine = createNodeEngine({ backend: 'cpu' });
  await engine.reload(pkgDir);
  const r = await engine.chat.completions.create({ messages, temperature: 0, top_p: 1, max_tokens: maxTokens, stream: false });
  await engine.unload();
  const m = r.choices[0].message;
  return { content: m.content ?? '', reasoning: m.reasoning_content ?? null, completionTokens: r.usage?.completion_tokens ?? -1 };
}

/** Serves the test package over HTTP (CORS open) from 127.0.0.1 on a free port. */
export async function servePackage(pkgDir: string, name = 'letters-moe'): Promise<{ server: PackageServer; url: string }> {
  const server = await new PackageServer().start();
  const url = server.add(name, packageFiles(pkgDir));
  return { server, url };
}

/**
 * A spec's test package (lettersPackage unless `make` says otherwise), written and served in the
 * spec's beforeAll, closed and removed in its afterAll. Call at the top of the spec, before hooks
 * that use it; the fields are set once beforeAll ran.
 */
export function servedPackage(make: () => Promise<string> = lettersPackage, name?: string): { pkgDir: string; server: PackageServer; modelUrl: string } {
  const p = {} as { pkgDir: string; server: PackageServer; modelUrl: string };
  test.beforeAll(async () => {
    p.pkgDir = await make();
    ({ server: p.server, url: p.modelUrl } = await servePackage(p.pkgDir, name));
  });
  test.afterAll(async () => {
    await p.server?.close();
    removeTempDirs();
  });
  return p;
}

/** A tiny HTTP server for host pages (another origin than the app): path -> HTML. */
export async function serveHostPages(pages: Record<string, string>): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const body = pages[path];
    if (body === undefined) return void res.writeHead(404).end('not found');
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/** e2e/pages/widget-host.html with the widget's script URL, the model and greedy sampling filled in. */
export function widgetHostPage(widgetSrc: string, modelUrl: string, maxTokens: number): string {
  const html = readFileSync(join(import.meta.dirname, 'pages/widget-host.html'), 'utf8');
  return html.replaceAll('{{WIDGET_SRC}}', widgetSrc).replaceAll('{{MODEL_URL}}', modelUrl).replaceAll('{{MAX_TOKENS}}', String(maxTokens));
}

/** Whitespace as the reader sees it: runs collapsed, ends trimmed. */
export function visibleText(s: string): string {
  return s.replace(/\s+/g, ' ').trim();
}

type Root = Page | Frame | FrameLocator | Locator;

/** Wait until the model status says "ready". */
export async function waitReady(root: Root, timeout = 180_000): Promise<void> {
  await expect(root.getByTestId('model-status')).toContainText('ready', { timeout });
}

/** Type a message and send it with Enter; returns the locator of the new assistant turn. */
export async function sendMessage(root: Root, text: string): Promise<Locator> {
  const before = await root.getByTestId('assistant-message').count();
  const input = root.getByTestId('chat-input');
  await input.fill(text);
  await input.press('Enter');
  const msg = root.getByTestId('assistant-message').nth(before);
  await expect(msg).toBeVisible();
  return msg;
}

/** Wait until an assistant turn has finished streaming; returns its state. */
export async function waitTurnEnd(msg: Locator, timeout = 180_000): Promise<string> {
  await expect(msg).not.toHaveAttribute('data-state', 'streaming', { timeout });
  return (await msg.getAttribute('data-state')) ?? '';
}

/** The app URL with a model and the greedy settings of the reference. */
export function appUrl(base: string, modelUrl: string, maxTokens: number, extra: Record<string, string> = {}): string {
  const u = new URL(base, 'http://relative.invalid');
  u.searchParams.set('model', modelUrl);
  u.searchParams.set('temperature', '0');
  u.searchParams.set('top_p', '1');
  u.searchParams.set('max_tokens', String(maxTokens));
  for (const [k, v] of Object.entries(extra)) u.searchParams.set(k, v);
  return u.origin === 'http://relative.invalid' ? u.pathname + u.search : u.href;
}
