// `webmoe chat`: the engine API from the command line (a real process through bin/webmoe.mjs).

import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { m2Package, storyPackage } from './testing.ts';
import type { ChatCompletion, ChatCompletionChunk } from './types.ts';

const run = promisify(execFile);
const BIN = join(import.meta.dirname, '..', '..', 'bin', 'webmoe.mjs');

async function webmoe(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], { maxBuffer: 16 << 20 });
    return { code: 0, stdout, stderr };
  } catch (e: any) {
    return { code: e.code ?? 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

let root: string;
let story: string;
let m2: string;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'webmoe-chat-cli-'));
  story = await storyPackage(join(root, 'story'), 6);
  m2 = await m2Package(join(root, 'm2'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('webmoe chat', () => {
  const ask = (...extra: string[]) => ['chat', '--model', story, '--message', 'Once upon', '--system', 'A tale.', '--max-tokens', '16', '--temperature', '0.8', '--seed', '3', ...extra];

  it('--json prints the chat.completion; --stream prints data: chunks ending in [DONE], with the same content', async () => {
    const [j, s] = await Promise.all([webmoe(ask('--json')), webmoe(ask('--stream'))]);
    expect(j.code, j.stderr).toBe(0);
    expect(s.code, s.stderr).toBe(0);
    const completion = JSON.parse(j.stdout) as ChatCompletion;
    expect(completion).toMatchObject({ object: 'chat.completion', model: 'story', usage: { completion_tokens: 16 } });
    expect(completion.choices[0].finish_reason).toBe('length');

    const lines = s.stdout.trimEnd().split('\n');
    expect(lines.every((l) => l.startsWith('data: '))).toBe(true);
    expect(lines[lines.length - 1]).toBe('data: [DONE]');
    const chunks = lines.slice(0, -1).map((l) => JSON.parse(l.slice(6)) as ChatCompletionChunk);
    expect(chunks.every((c) => c.object === 'chat.completion.chunk')).toBe(true);
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe(completion.choices[0].message.content);
    expect(chunks[chunks.length - 1].usage).toMatchObject({ completion_tokens: 16, prompt_tokens: completion.usage!.prompt_tokens });
  });

  it('reasoning and tool calls come back in the OpenAI fields (M2 format)', async () => {
    const r = await webmoe(['chat', '--model', m2, '--message', 'Weather in Oslo?', '--temperature', '0', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const c = JSON.parse(r.stdout) as ChatCompletion;
    expect(c.choices[0].message).toMatchObject({ content: 'Sure', reasoning_content: 'Plan' });
    expect(c.choices[0].finish_reason).toBe('tool_calls');
  });

  it('invalid requests exit non-zero, message on stderr naming the field, nothing on stdout', async () => {
    for (const [args, want] of [
      [ask('--temperature', '-1', '--json'), /'temperature'/],
      [ask('--top-p', '1.5', '--json'), /'top_p'/],
      [ask('--max-tokens', '0', '--stream'), /'max_tokens'/],
      [['chat', '--model', story, '--json'], /--message is required/],
      [ask('--json', '--stream'), /one of --json or --stream/],
      [['chat', '--model', join(root, 'missing'), '--message', 'hi', '--json'], /Cannot load/],
    ] as [string[], RegExp][]) {
      const r = await webmoe(args);
      expect(r.code, args.join(' ')).not.toBe(0);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(want);
      expect(r.stderr).not.toMatch(/internal error/);
    }
  });
});
