// webmoe CLI entry: dispatches to one module per command. Machine-readable output goes to stdout,
// human messages to stderr; bad input exits non-zero with a message that says what to do.

import { WebMoeError } from '../format/errors.ts';

type Command = { summary: string; load: () => Promise<{ main(argv: string[]): Promise<number> }> };

const COMMANDS: Record<string, Command> = {
  logits: { summary: 'logits --model DIR --tokens 1,2,3 [--backend cpu|webgpu|browser]', load: () => import('./logits.ts') },
  convert: {
    summary: 'convert HF_DIR OUT_DIR [--quant q4|q8|f16|f32|mxfp4] [--dense-quant q8|f16|f32|q4] [--shard-mib N] [--force]',
    load: () => import('./convert.ts'),
  },
  inspect: { summary: 'inspect PKG [--json] [--verify]', load: () => import('./inspect.ts') },
  generate: {
    summary: 'generate --model DIR (--tokens LIST | --prompt TEXT) --max-tokens N [--temperature T] [--top-p P] [--seed S] [--ignore-eos] [--backend ...] --json',
    load: () => import('./generate.ts'),
  },
  chat: {
    summary:
      'chat --model DIR --message TEXT [--system TEXT] [--max-tokens N] [--temperature T] [--top-p P] [--seed S] [--backend auto|cpu|webgpu] (--json | --stream)',
    load: () => import('./chat.ts'),
  },
  prune: {
    summary: 'prune PKG OUT --ratio R (--calibration FILE | --calibration-tokens LIST | --builtin-calibration) [--method reap|frequency] [--force]',
    load: () => import('./prune.ts'),
  },
  serve: {
    summary:
      'serve --model DIR [--port 8000] [--host 127.0.0.1] [--backend auto|cpu|webgpu] [--expert-budget B|N%] [--context N] [--api-key KEY] [--max-queue N] [--max-body BYTES] [--cors ORIGIN|*] [--shutdown-grace S] [--quiet]',
    load: () => import('./serve.ts'),
  },
  'eval-bpb': { summary: 'eval-bpb --model DIR --text FILE [--max-bytes N] [--ctx N]', load: () => import('./eval-bpb.ts') },
};

function usage(): string {
  return ['usage: webmoe <command> [options]', '', ...Object.values(COMMANDS).map((c) => `  webmoe ${c.summary}`)].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stderr.write(usage() + '\n');
    return name ? 0 : 2;
  }
  const cmd = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined; // not `webmoe toString`
  if (!cmd) {
    process.stderr.write(`webmoe: unknown command "${name}"\n\n${usage()}\n`);
    return 2;
  }
  try {
    return await (await cmd.load()).main(rest);
  } catch (e) {
    if (e instanceof WebMoeError || e instanceof RangeError) {
      process.stderr.write(`webmoe ${name}: ${e.message}\n`);
      return 2;
    }
    process.stderr.write(`webmoe ${name}: internal error: ${(e as Error).stack ?? e}\n`);
    return 1;
  }
}
