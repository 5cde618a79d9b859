import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ChatTemplate, toTemplateMessages } from './chat-template.ts';
import { OutputParser, detectChatFormat, formatMarkers, parseOutput, promptOpensReasoning, type MessageDelta, type OutputParserOptions } from './output-parser.ts';
import { convertParameter, type ToolDef } from './tool-calls.ts';

const DIR = join(import.meta.dirname, '../../tests/fixtures/templates');
const m2Source = readFileSync(join(DIR, 'minimax-m2.jinja'), 'utf8');
const storySource = readFileSync(join(DIR, 'story.jinja'), 'utf8');
const m2Format = detectChatFormat(m2Source);

const tools: ToolDef[] = [
  {
    type: 'function',
    function: {
      name: 'get_weather',
      parameters: {
        type: 'object',
        properties: {
          city: { type: 'string' },
          days: { type: 'integer' },
          metric: { type: 'boolean' },
          ratio: { type: 'number' },
          opts: { type: 'object' },
          tags: { type: 'array' },
          note: { type: ['string', 'null'] },
        },
      },
    },
  },
];

function ids() {
  let n = 0;
  return () => `call_${++n}`;
}

const opts = (o: Partial<OutputParserOptions> = {}): OutputParserOptions => ({ format: m2Format, startInReasoning: true, tools, makeId: ids(), ...o });

/** Feed `text` in pieces of `size` characters and merge the deltas. */
function streamed(text: string, size: number, o: OutputParserOptions) {
  const p = new OutputParser(o);
  const deltas: MessageDelta[] = [];
  for (let i = 0; i < text.length; i += size) deltas.push(p.push(text.slice(i, i + size)));
  deltas.push(p.finish());
  const merged = { reasoning: '', content: '', toolCalls: [] as unknown[] };
  for (const d of deltas) {
    merged.reasoning += d.reasoning ?? '';
    merged.content += d.content ?? '';
    merged.toolCalls.push(...(d.toolCalls ?? []));
  }
  return { merged, message: p.message(), deltas };
}

const M2_OUTPUT =
  'The user asks about Oslo.\nI will call the tool.\n</think>\n\nLet me check.\n<minimax:tool_call>\n<invoke name="get_weather">\n' +
  '<parameter name="city">Oslo</parameter>\n<parameter name="days">3</parameter>\n<parameter name="metric">true</parameter>\n' +
  '<parameter name="ratio">0.5</parameter>\n<parameter name="opts">{"a": [1, 2]}</parameter>\n<parameter name="tags">["x"]</parameter>\n' +
  '<parameter name="note">null</parameter>\n</invoke>\n</minimax:tool_call>';

describe('chat format detection', () => {
  it('reads reasoning markers and the tool-call syntax off the template text', () => {
    expect(m2Format.reasoning).toEqual({ start: '<think>', end: '</think>' });
    expect(m2Format.toolCalls?.name).toBe('minimax_xml');
    expect(formatMarkers(m2Format)).toEqual(['<think>', '</think>', '<minimax:tool_call>', '</minimax:tool_call>']);
    expect(detectChatFormat(storySource)).toEqual({ reasoning: null, toolCalls: null });
  });

  it('the M2 generation prompt opens reasoning; enable_thinking=false closes it', () => {
    const t = ChatTemplate.fromString(m2Source);
    const msgs = toTemplateMessages([{ role: 'user', content: 'hi' }]);
    expect(promptOpensReasoning(t.render(msgs, { addGenerationPrompt: true }), m2Format)).toBe(true);
    expect(promptOpensReasoning(t.render(msgs, { addGenerationPrompt: true, kwargs: { enable_thinking: false } }), m2Format)).toBe(false);
  });
});

describe('OutputParser', () => {
  it('M2 output: reasoning, content and typed tool calls', () => {
    const m = parseOutput(M2_OUTPUT, opts());
    expect(m.reasoning_content).toBe('The user asks about Oslo.\nI will call the tool.');
    expect(m.content).toBe('Let me check.');
    expect(m.tool_calls).toEqual([
      {
        id: 'call_1',
        type: 'function',
        function: { name: 'get_weather', arguments: JSON.stringify({ city: 'Oslo', days: 3, metric: true, ratio: 0.5, opts: { a: [1, 2] }, tags: ['x'], note: null }) },
      },
    ]);
  });

  it('streaming in any piece size gives exactly the non-streaming message', () => {
    const whole = parseOutput(M2_OUTPUT, opts());
    for (const size of [1, 2, 3, 5, 7, 16, 1000]) {
      const { merged, message } = streamed(M2_OUTPUT, size, opts());
      expect(message).toEqual(whole);
      expect(merged.reasoning).toBe(whole.reasoning_content);
      expect(merged.content).toBe(whole.content);
      expect(merged.toolCalls).toEqual(whole.tool_calls);
    }
  });

  it('never streams part of a marker as text', () => {
    const { deltas } = streamed(M2_OUTPUT, 1, opts());
    for (const d of deltas) {
      expect(d.reasoning ?? '').not.toMatch(/<\/?t|<$/);
      expect(d.content ?? '').not.toMatch(/<minimax|<$/);
    }
  });

  it('plain answer without tools; content null only when there are tool calls', () => {
    const m = parseOutput('Short thought.\n</think>\n\nParis.', opts());
    expect(m).toEqual({ reasoning_content: 'Short thought.', content: 'Paris.', tool_calls: [] });
    const t = parseOutput('x</think>\n<minimax:tool_call><invoke name="get_weather"></invoke></minimax:tool_call>', opts());
    expect(t.content).toBeNull();
    expect(t.tool_calls[0].function).toEqual({ name: 'get_weather', arguments: '{}' });
  });

  it('output cut inside reasoning (max_tokens) is all reasoning', () => {
    expect(parseOutput('still thinking\n', opts())).toEqual({ reasoning_content: 'still thinking', content: '', tool_calls: [] });
  });

  it('a prompt without an open <think>: output may open its own reasoning block, else it is content', () => {
    const o = opts({ startInReasoning: false });
    expect(parseOutput('<think>\nhm\n</think>\n\nYes.', o)).toEqual({ reasoning_content: 'hm', content: 'Yes.', tool_calls: [] });
    expect(parseOutput('Yes. <think> is a tag', o)).toEqual({ reasoning_content: null, content: 'Yes. <think> is a tag', tool_calls: [] });
    const s = streamed('<think>\nhm\n</think>\n\nYes.', 1, o);
    expect(s.message).toEqual({ reasoning_content: 'hm', content: 'Yes.', tool_calls: [] });
  });

  it('an unclosed tool block comes back as content; story format passes text through untouched', () => {
    const m = parseOutput('a</think>\n\nok <minimax:tool_call><invoke name="x">', opts());
    expect(m.content).toBe('ok<minimax:tool_call><invoke name="x">');
    const story = detectChatFormat(storySource);
    const s = streamed(' and then the fox  ran.\n', 2, { format: story, startInReasoning: false });
    expect(s.message).toEqual({ reasoning_content: null, content: ' and then the fox  ran.\n', tool_calls: [] });
    expect(s.deltas.map((d) => d.content ?? '').join('')).toBe(' and then the fox  ran.\n');
  });

  it('parsed tool calls render back into the same text through the template', () => {
    const m = parseOutput(M2_OUTPUT, opts());
    const t = ChatTemplate.fromString(m2Source);
    const prompt = t.render(toTemplateMessages([{ role: 'user', content: 'Oslo?' }]), { addGenerationPrompt: true });
    const history = t.render(toTemplateMessages([{ role: 'user', content: 'Oslo?' }, { role: 'assistant', ...m, tool_calls: m.tool_calls }]));
    // prompt + raw output + end-of-message marker == the history the template writes back
    expect(history).toBe(prompt + M2_OUTPUT + '[e~[\n');
  });
});

describe('convertParameter', () => {
  it('follows the JSON-schema type and falls back to text', () => {
    expect(convertParameter('42', { type: 'integer' })).toBe(42);
    expect(convertParameter('4.5', { type: 'integer' })).toBe(4.5); // not an integer: JSON reading
    expect(convertParameter('42', { type: 'string' })).toBe('42');
    expect(convertParameter('\nline\n', { type: 'string' })).toBe('line');
    expect(convertParameter('True', { type: 'boolean' })).toBe(true);
    expect(convertParameter('[1]', { type: 'object' })).toEqual([1]);
    expect(convertParameter('not json', { type: 'object' })).toBe('not json');
    expect(convertParameter('null', { anyOf: [{ type: 'integer' }, { type: 'null' }] })).toBeNull();
    expect(convertParameter('7', { anyOf: [{ type: 'integer' }, { type: 'null' }] })).toBe(7);
    expect(convertParameter('{"k": 1}', undefined)).toEqual({ k: 1 });
    expect(convertParameter('plain', undefined)).toBe('plain');
  });
});
