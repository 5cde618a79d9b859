import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ChatTemplate, chatTemplateFromConfig, toTemplateMessages, type TemplateMessage } from './chat-template.ts';
import { TemplateError } from './errors.ts';

const DIR = join(import.meta.dirname, '../../tests/fixtures/templates');
const read = (f: string) => readFileSync(join(DIR, f), 'utf8');
const m2 = ChatTemplate.fromString(read('minimax-m2.jinja'), {}, 'minimax-m2.jinja');
const story = ChatTemplate.fromString(read('story.jinja'), { bos_token: '<s>', eos_token: '</s>' }, 'story.jinja');

interface Case {
  name: string;
  template: string;
  messages: TemplateMessage[];
  tools?: unknown[];
  add_generation_prompt?: boolean;
  special_tokens?: Record<string, string>;
  kwargs?: Record<string, unknown>;
}
const cases: Case[] = JSON.parse(read('cases.json')).cases;

function renderCase(c: Case): { text: string } | { error: string } {
  const t = ChatTemplate.fromString(read(c.template), c.special_tokens ?? {}, c.template);
  try {
    return { text: t.render(c.messages, { tools: c.tools, addGenerationPrompt: c.add_generation_prompt, kwargs: c.kwargs }) };
  } catch (e) {
    if (!(e instanceof TemplateError)) throw e;
    return { error: e.message };
  }
}

describe('chat template: hand-derived expectations', () => {
  it('MiniMax-M2 layout: BOS, system, user, generation prompt opening <think>', () => {
    const out = m2.render([{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'Hi' }], { addGenerationPrompt: true });
    expect(out).toBe(']~!b[]~b]system\nBe brief.[e~[\n]~b]user\nHi[e~[\n]~b]ai\n<think>\n');
  });

  it('MiniMax-M2: default system, reasoning kept only after the last user turn', () => {
    const msgs = toTemplateMessages([
      { role: 'user', content: 'Q1' },
      { role: 'assistant', content: 'A1', reasoning_content: 'old thought' },
      { role: 'user', content: 'Q2' },
      { role: 'assistant', content: 'A2', reasoning_content: 'new thought' },
    ]);
    expect(m2.render(msgs)).toBe(
      ']~!b[]~b]system\nYou are a helpful assistant.[e~[\n' +
        ']~b]user\nQ1[e~[\n]~b]ai\nA1[e~[\n' +
        ']~b]user\nQ2[e~[\n]~b]ai\n<think>\nnew thought\n</think>\n\nA2[e~[\n',
    );
  });

  it('MiniMax-M2: tool calls from OpenAI messages (arguments as a JSON string) and grouped tool results', () => {
    const msgs = toTemplateMessages([
      { role: 'user', content: 'Weather?' },
      {
        role: 'assistant',
        content: null,
        tool_calls: [{ id: 'c1', type: 'function', function: { name: 'get_weather', arguments: '{"city": "Oslo", "days": 2}' } }],
      },
      { role: 'tool', tool_call_id: 'c1', content: 'rain' },
      { role: 'tool', tool_call_id: 'c2', content: 'wind' },
    ]);
    expect(m2.render(msgs)).toBe(
      ']~!b[]~b]system\nYou are a helpful assistant.[e~[\n]~b]user\nWeather?[e~[\n' +
        ']~b]ai\n\n<minimax:tool_call>\n<invoke name="get_weather">\n<parameter name="city">Oslo</parameter>\n' +
        '<parameter name="days">2</parameter>\n</invoke>\n</minimax:tool_call>[e~[\n' +
        ']~b]tool\n<response>rain</response>\n<response>wind</response>[e~[\n',
    );
  });

  it('story template: BOS then the story text; tools are refused with the template\'s message', () => {
    const msgs = toTemplateMessages([{ role: 'user', content: [{ type: 'text', text: 'Once there was' }, { type: 'text', text: 'a fox' }] }]);
    expect(story.render(msgs, { addGenerationPrompt: true })).toBe('<s>Once there was\na fox');
    expect(() => story.render(msgs, { tools: [{ type: 'function', function: { name: 'f' } }] })).toThrow(/cannot call tools/);
  });

  it('bad tool-call arguments and broken templates raise TemplateError with a useful message', () => {
    expect(() => toTemplateMessages([{ role: 'assistant', tool_calls: [{ function: { name: 'f', arguments: '{oops' } }] }])).toThrow(
      /messages\[0\]\.tool_calls\[0\]\.function\.arguments is not valid JSON/,
    );
    expect(() => ChatTemplate.fromString('{% if %}').render([])).toThrow(TemplateError);
  });

  it('named templates: tool_use is picked when tools are given; chat_template.jinja wins over the config', () => {
    const cfg = { chat_template: [{ name: 'default', template: 'D' }, { name: 'tool_use', template: 'T' }], bos_token: { content: '<s>' } };
    const t = chatTemplateFromConfig(cfg)!;
    expect(t.render([])).toBe('D');
    expect(t.render([], { tools: [{ type: 'function', function: { name: 'f' } }] })).toBe('T');
    expect(t.specialTokens.bos_token).toBe('<s>');
    expect(chatTemplateFromConfig(cfg, '{{ bos_token }}J')!.render([])).toBe('<s>J');
    expect(chatTemplateFromConfig({})).toBeNull();
  });
});

describe('chat template: every case of cases.json against the Python renderer', () => {
  const expectedPath = join(DIR, 'expected.json');
  const have = existsSync(expectedPath);
  if (!have)
    it.skip('tests/fixtures/templates/expected.json is absent: run `python3 tools/render_templates.py tests/fixtures/templates/cases.json > tests/fixtures/templates/expected.json`', () => {});
  else {
    const expected = JSON.parse(readFileSync(expectedPath, 'utf8')) as { renderer: string; cases: Record<string, { text?: string; error?: string }> };
    it('expected.json covers every case', () => {
      expect(Object.keys(expected.cases).sort()).toEqual(cases.map((c) => c.name).sort());
    });
    for (const c of cases)
      it(`${c.name} (vs ${expected.renderer})`, () => {
        const want = expected.cases[c.name];
        const got = renderCase(c);
        if (want.error !== undefined) {
          expect('error' in got, `expected the template to refuse: ${want.error}`).toBe(true);
          expect((got as { error: string }).error).toContain(want.error);
        } else expect(got).toEqual({ text: want.text });
      });
  }
});
