// Tool calls in model output -> OpenAI `tool_calls`.
//
// A tool-call syntax is data: the markers that open and close a block of calls, how to find it in
// a chat template, and how to parse one block. MiniMax-M2 writes
//   <minimax:tool_call>
//   <invoke name="NAME"><parameter name="KEY">VALUE</parameter>...</invoke>...
//   </minimax:tool_call>
// with every VALUE as text; the JSON-schema type of each parameter in the request's tools says
// how to convert it (string stays text; integer/number/boolean/null/object/array parse as JSON).

export interface ToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

/** An OpenAI tool definition (only what parsing reads). */
export interface ToolDef {
  type?: string;
  function: { name: string; parameters?: Record<string, unknown> };
}

export interface ToolCallSyntax {
  name: string;
  start: string;
  end: string;
  /** does this chat template produce this syntax? */
  detect(templateSource: string): boolean;
  /** the calls in the text between start and end */
  parse(block: string, tools: readonly ToolDef[], makeId: () => string): ToolCall[];
}

const ATTR_NAME = /name\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))\s*>/y;

function unescapeXml(s: string): string {
  return s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, '&');
}

/** Find `<tag name=...>body</tag>` elements in order. */
function elements(text: string, tag: string): { name: string; body: string }[] {
  const out: { name: string; body: string }[] = [];
  const open = `<${tag}`;
  const close = `</${tag}>`;
  let pos = 0;
  for (;;) {
    const i = text.indexOf(open, pos);
    if (i < 0) break;
    let j = i + open.length;
    while (j < text.length && /\s/.test(text[j])) j++;
    ATTR_NAME.lastIndex = j;
    const m = ATTR_NAME.exec(text);
    if (!m) {
      pos = i + open.length;
      continue;
    }
    const bodyStart = ATTR_NAME.lastIndex;
    const end = text.indexOf(close, bodyStart);
    const bodyEnd = end < 0 ? text.length : end;
    out.push({ name: unescapeXml(m[1] ?? m[2] ?? m[3]), body: text.slice(bodyStart, bodyEnd) });
    pos = end < 0 ? text.length : end + close.length;
  }
  return out;
}

type Schema = Record<string, unknown>;

/** JSON-schema types a parameter allows, in the order to try them ('string' last). */
function typesOf(schema: Schema | undefined): string[] {
  if (!schema) return [];
  const t = schema.type;
  const types = new Set<string>();
  if (typeof t === 'string') types.add(t);
  else if (Array.isArray(t)) for (const x of t) if (typeof x === 'string') types.add(x);
  for (const key of ['anyOf', 'oneOf'])
    if (Array.isArray(schema[key])) for (const sub of schema[key] as Schema[]) for (const x of typesOf(sub)) types.add(x);
  if (Array.isArray(schema.enum) && types.size === 0) for (const v of schema.enum) types.add(v === null ? 'null' : typeof v === 'string' ? 'string' : typeof v === 'number' ? 'number' : typeof v === 'boolean' ? 'boolean' : 'object');
  const order = ['null', 'boolean', 'integer', 'number', 'object', 'array', 'string'];
  return [...types].sort((a, b) => order.indexOf(a) - order.indexOf(b));
}

function tryJson(s: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(s) };
  } catch {
    return { ok: false };
  }
}

/**
 * One parameter's text -> its JSON value, per its schema. Without a schema, text that parses as
 * JSON is taken as JSON and anything else stays a string.
 */
export function convertParameter(raw: string, schema: Schema | undefined): unknown {
  const types = typesOf(schema);
  const text = raw.replace(/^\n/, '').replace(/\n$/, '');
  const t = text.trim();
  if (types.length === 0) {
    const j = tryJson(t);
    return j.ok ? j.value : text;
  }
  for (const type of types) {
    switch (type) {
      case 'string':
        return text;
      case 'null':
        if (t === 'null' || t === 'None') return null;
        break;
      case 'boolean':
        if (/^(true|false)$/i.test(t)) return t.toLowerCase() === 'true';
        break;
      case 'integer':
        if (/^-?\d+$/.test(t)) return Number(t);
        break;
      case 'number': {
        if (t !== '' && Number.isFinite(Number(t))) return Number(t);
        break;
      }
      case 'object':
      case 'array': {
        const j = tryJson(t);
        if (j.ok && typeof j.value === 'object' && j.value !== null && Array.isArray(j.value) === (type === 'array')) return j.value;
        break;
      }
    }
  }
  // no declared type fits: keep what JSON can read, else the text
  const j = tryJson(t);
  return j.ok ? j.value : text;
}

function parametersSchema(tools: readonly ToolDef[], name: string): Record<string, Schema> {
  const tool = tools.find((x) => x.function?.name === name);
  const props = (tool?.function.parameters as { properties?: Record<string, Schema> } | undefined)?.properties;
  return props ?? {};
}

export const MINIMAX_XML: ToolCallSyntax = {
  name: 'minimax_xml',
  start: '<minimax:tool_call>',
  end: '</minimax:tool_call>',
  detect: (src) => src.includes('<minimax:tool_call>'),
  parse(block, tools, makeId) {
    return elements(block, 'invoke').map((inv) => {
      const schema = parametersSchema(tools, inv.name);
      const args: Record<string, unknown> = {};
      for (const p of elements(inv.body, 'parameter')) args[p.name] = convertParameter(p.body, schema[p.name]);
      return { id: makeId(), type: 'function' as const, function: { name: inv.name, arguments: JSON.stringify(args) } };
    });
  },
};

/** Every syntax the output parser knows; a chat template selects one by `detect`. */
export const TOOL_CALL_SYNTAXES: readonly ToolCallSyntax[] = [MINIMAX_XML];

/** `call_` + 24 random alphanumerics (OpenAI's id shape). */
export function randomToolCallId(): string {
  const chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
  const bytes = new Uint8Array(24);
  globalThis.crypto.getRandomValues(bytes);
  let s = 'call_';
  for (const b of bytes) s += chars[b % chars.length];
  return s;
}
