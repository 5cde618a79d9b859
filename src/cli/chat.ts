// webmoe chat --model DIR --message TEXT [--system TEXT] [--max-tokens N] [--temperature T]
//   [--top-p P] [--top-k K] [--seed S] [--backend auto|cpu|webgpu] [--context N] (--json | --stream)
// One chat turn through the engine API (createEngine, as in the browser):
//   --json    stdout: the chat.completion object
//   --stream  stdout: one `data: {chat.completion.chunk}` line per chunk, then `data: [DONE]`
//             (the last chunk before [DONE] carries usage)
//   neither   stdout: the reply text
// Request fields go to the engine unchecked, so a bad value is rejected by the API's validation
// (e.g. "Invalid 'temperature': expected a value in [0, 2] ...") on stderr, exit code 2.
// Ctrl-C while generating ends the reply with finish_reason "abort".

import { createNodeEngine } from '../api/node.ts';
import { validateChatRequest } from '../api/validate.ts';
import type { ChatCompletionMessageParam, ChatCompletionRequestBase } from '../api/types.ts';
import { UsageError, bool, int, num, parseArgs, str } from './args.ts';
import { engineBackendOf } from './load.ts';

const FLAGS = new Set(['model', 'message', 'system', 'max-tokens', 'temperature', 'top-p', 'top-k', 'seed', 'backend', 'context', 'json', 'stream']);

export async function main(argv: string[]): Promise<number> {
  const a = parseArgs(argv, ['json', 'stream']);
  for (const k of a.flags.keys()) if (!FLAGS.has(k)) throw new UsageError(`unknown option --${k} (see webmoe --help)`);
  if (a.positional.length) throw new UsageError(`unexpected argument "${a.positional[0]}"; the model goes after --model`);
  const model = str(a, 'model', true);
  const message = str(a, 'message', true);
  const json = bool(a, 'json');
  const stream = bool(a, 'stream');
  if (json && stream) throw new UsageError('give one of --json or --stream, not both');

  const messages: ChatCompletionMessageParam[] = [];
  const system = str(a, 'system');
  if (system !== undefined) messages.push({ role: 'system', content: system });
  messages.push({ role: 'user', content: message });
  const request: ChatCompletionRequestBase = {
    messages,
    ...optional('max_tokens', num(a, 'max-tokens')),
    ...optional('temperature', num(a, 'temperature')),
    ...optional('top_p', num(a, 'top-p')),
    ...optional('top_k', num(a, 'top-k')),
    ...optional('seed', num(a, 'seed')),
  };

  validateChatRequest(request); // a bad request fails before the model loads (the engine checks again)
  const engine = createNodeEngine();
  await engine.reload(model, {
    backend: engineBackendOf(str(a, 'backend')),
    ...optional('context_window_size', int(a, 'context')),
    initProgressCallback: (r) => {
      if (r.phase === 'ready') process.stderr.write(`webmoe chat: ${r.text}\n`);
    },
  });
  const onSigint = () => engine.interruptGenerate();
  process.once('SIGINT', onSigint);
  try {
    if (stream) {
      const chunks = await engine.chat.completions.create({ ...request, stream: true, stream_options: { include_usage: true } });
      for await (const c of chunks) process.stdout.write(`data: ${JSON.stringify(c)}\n`);
      process.stdout.write('data: [DONE]\n');
    } else {
      const completion = await engine.chat.completions.create({ ...request, stream: false });
      if (json) process.stdout.write(JSON.stringify(completion) + '\n');
      else process.stdout.write((completion.choices[0].message.content ?? '') + '\n');
    }
  } finally {
    process.off('SIGINT', onSigint);
    await engine.unload();
  }
  return 0;
}

function optional<K extends string, V>(key: K, v: V | undefined): { [P in K]?: V } {
  return (v === undefined ? {} : { [key]: v }) as { [P in K]?: V };
}
