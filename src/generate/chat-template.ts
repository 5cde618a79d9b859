// Chat template: OpenAI-style messages -> the prompt string the model was trained on, rendered
// with @huggingface/jinja from the template a checkpoint ships (tokenizer_config.json
// `chat_template`, or a `chat_template.jinja` file), with the variables transformers'
// apply_chat_template passes: messages, tools, add_generation_prompt, the special-token strings
// (bos_token, eos_token, ...) and any extra kwargs (e.g. enable_thinking).

import { Template } from '@huggingface/jinja';
import type { DirSource } from '../format/source.ts';
import { TemplateError } from './errors.ts';
import { specialTokensOf } from './tokenizer.ts';

/** A message as the API receives it (OpenAI shape; `arguments` is a JSON string there). */
export interface ChatMessageIn {
  role: string;
  content?: string | null | readonly { type: string; text?: string }[];
  reasoning_content?: string | null;
  name?: string;
  tool_call_id?: string;
  tool_calls?: readonly { id?: string; type?: string; function: { name: string; arguments: string | Record<string, unknown> } }[];
}

/** A message as templates read it: content a string, tool-call arguments an object. */
export interface TemplateMessage {
  role: string;
  content: string;
  reasoning_content?: string;
  name?: string;
  tool_call_id?: string;
  tool_calls?: { id?: string; type: 'function'; function: { name: string; arguments: Record<string, unknown> } }[];
}

/**
 * OpenAI messages -> template messages: text parts joined with "\n", null content -> "",
 * tool-call `arguments` parsed from JSON (templates iterate them as a mapping, as in transformers'
 * own examples), `reasoning_content` passed through so the template can keep it in history.
 */
export function toTemplateMessages(messages: readonly ChatMessageIn[]): TemplateMessage[] {
  return messages.map((m, i) => {
    const out: TemplateMessage = { role: m.role, content: contentText(m.content) };
    if (typeof m.reasoning_content === 'string') out.reasoning_content = m.reasoning_content;
    if (m.name !== undefined) out.name = m.name;
    if (m.tool_call_id !== undefined) out.tool_call_id = m.tool_call_id;
    if (m.tool_calls && m.tool_calls.length)
      out.tool_calls = m.tool_calls.map((c, j) => ({
        ...(c.id !== undefined ? { id: c.id } : {}),
        type: 'function' as const,
        function: { name: c.function.name, arguments: argumentsObject(c.function.arguments, `messages[${i}].tool_calls[${j}].function.arguments`) },
      }));
    return out;
  });
}

function contentText(c: ChatMessageIn['content']): string {
  if (c === undefined || c === null) return '';
  if (typeof c === 'string') return c;
  return c
    .filter((p) => p.type === 'text')
    .map((p) => p.text ?? '')
    .join('\n');
}

function argumentsObject(a: string | Record<string, unknown>, where: string): Record<string, unknown> {
  if (typeof a !== 'string') return a;
  let v: unknown;
  try {
    v = a.trim() === '' ? {} : JSON.parse(a);
  } catch (e) {
    throw new TemplateError(`${where} is not valid JSON (${(e as Error).message}); send the arguments the model produced, unchanged`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new TemplateError(`${where} must be a JSON object`);
  return v as Record<string, unknown>;
}

export interface RenderOptions {
  /** OpenAI tools ({type: 'function', function: {...}}), passed to the template as `tools` */
  tools?: readonly unknown[];
  addGenerationPrompt?: boolean;
  /** extra template variables (transformers' chat_template_kwargs), e.g. {enable_thinking: false} */
  kwargs?: Record<string, unknown>;
}

export class ChatTemplate {
  private readonly compiled = new Map<string, Template>();

  /**
   * @param templates template source by name; 'default' is used unless tools are given and a
   *   'tool_use' template exists (transformers' rule for named templates)
   * @param specialTokens bos_token, eos_token, ... as strings
   */
  constructor(
    readonly templates: Readonly<Record<string, string>>,
    readonly specialTokens: Readonly<Record<string, string>> = {},
    readonly name = 'chat template',
  ) {
    if (!templates.default && Object.keys(templates).length === 0) throw new TemplateError('no template text', name);
  }

  static fromString(source: string, specialTokens: Record<string, string> = {}, name?: string): ChatTemplate {
    return new ChatTemplate({ default: source }, specialTokens, name);
  }

  /** The template text that `render` uses for these options. */
  sourceFor(opts: RenderOptions = {}): string {
    const names = Object.keys(this.templates);
    const pick = opts.tools && opts.tools.length && this.templates.tool_use ? 'tool_use' : this.templates.default !== undefined ? 'default' : names[0];
    return this.templates[pick];
  }

  private compile(source: string): Template {
    let t = this.compiled.get(source);
    if (!t) {
      try {
        t = new Template(source);
      } catch (e) {
        throw new TemplateError(`does not parse as Jinja (${(e as Error).message}); fix the template or the tokenizer_config.json that holds it`, this.name);
      }
      this.compiled.set(source, t);
    }
    return t;
  }

  render(messages: readonly TemplateMessage[], opts: RenderOptions = {}): string {
    const t = this.compile(this.sourceFor(opts));
    const vars: Record<string, unknown> = {
      ...this.specialTokens,
      ...(opts.kwargs ?? {}),
      messages,
      tools: opts.tools && opts.tools.length ? opts.tools : null,
      documents: null,
      add_generation_prompt: opts.addGenerationPrompt ?? false,
    };
    try {
      return t.render(vars);
    } catch (e) {
      throw new TemplateError(`rejected the messages: ${(e as Error).message}`, this.name);
    }
  }
}

/**
 * The chat template of a tokenizer_config.json (`chat_template`: a string, or a list of
 * {name, template}), or of a separate chat_template.jinja text, which wins when both exist
 * (transformers 5 writes the separate file). Null when there is none.
 */
export function chatTemplateFromConfig(config: Record<string, unknown>, jinjaFile: string | null = null, name?: string): ChatTemplate | null {
  const special = specialTokensOf(config);
  if (jinjaFile !== null) return new ChatTemplate({ default: jinjaFile }, special, name ?? 'chat_template.jinja');
  const ct = config.chat_template;
  if (typeof ct === 'string') return new ChatTemplate({ default: ct }, special, name ?? 'tokenizer_config.json chat_template');
  if (Array.isArray(ct)) {
    const named: Record<string, string> = {};
    for (const e of ct as { name?: unknown; template?: unknown }[])
      if (typeof e?.name === 'string' && typeof e.template === 'string') named[e.name] = e.template;
    if (Object.keys(named).length) return new ChatTemplate(named, special, name ?? 'tokenizer_config.json chat_template');
  }
  return null;
}

/** A model directory's chat template (chat_template.jinja or tokenizer_config.json), or null. */
export async function loadChatTemplate(dir: DirSource): Promise<ChatTemplate | null> {
  const cfgText = await dir.readText('tokenizer_config.json');
  const config = cfgText ? (JSON.parse(cfgText) as Record<string, unknown>) : {};
  const jinja = await dir.readText('chat_template.jinja');
  return chatTemplateFromConfig(config, jinja, jinja !== null ? `${dir.name}/chat_template.jinja` : `${dir.name}/tokenizer_config.json`);
}
