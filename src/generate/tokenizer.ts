// Text <-> token ids from a model's tokenizer.json + tokenizer_config.json, through
// @huggingface/tokenizers (the same tokenizer code transformers.js uses).
//
// Besides encode/decode this exposes what the rest of generate/ needs: token <-> id lookups, the
// set of special (control) token ids, and the special-token strings a chat template renders
// (bos_token, eos_token, ...), read from tokenizer_config.json as transformers does.

import { Tokenizer } from '@huggingface/tokenizers';
import type { DirSource } from '../format/source.ts';

export interface TextTokenizer {
  encode(text: string, addSpecialTokens?: boolean): number[];
  /**
   * `decode([])` is ''. `cleanUp` (default: tokenizer_config's `clean_up_tokenization_spaces`)
   * removes spaces before punctuation; streaming decodes without it so text only ever grows.
   */
  decode(ids: number[], skipSpecialTokens?: boolean, cleanUp?: boolean): string;
  tokenToId(token: string): number | undefined;
  idToToken(id: number): string | undefined;
  /** raw tokenizer_config.json (chat_template, special tokens) */
  readonly config: Record<string, unknown>;
  /** one past the largest id (vocabulary plus added tokens) */
  readonly vocabSize: number;
  /** ids of added tokens marked `special` (control tokens that skip_special_tokens drops) */
  readonly specialIds: ReadonlySet<number>;
  /** `bos_token`, `eos_token`, `unk_token`, `pad_token`, ... as strings (what templates see) */
  readonly specialTokens: Readonly<Record<string, string>>;
}

const SPECIAL_TOKEN_KEYS = ['bos_token', 'eos_token', 'unk_token', 'sep_token', 'pad_token', 'cls_token', 'mask_token'];

/** tokenizer_config.json writes special tokens as strings or as AddedToken objects `{content: ...}`. */
function tokenString(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && typeof (v as { content?: unknown }).content === 'string') return (v as { content: string }).content;
  return null;
}

/** The special-token strings of a tokenizer_config.json, as transformers passes them to templates. */
export function specialTokensOf(config: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of SPECIAL_TOKEN_KEYS) {
    const s = tokenString(config[k]);
    if (s !== null) out[k] = s;
  }
  return out;
}

interface AddedTokenJson {
  id: number;
  content: string;
  special?: boolean;
}

export function tokenizerFromJson(tokenizerJson: object, config: Record<string, unknown>): TextTokenizer {
  const tok = new Tokenizer(tokenizerJson, config);
  const added = ((tokenizerJson as { added_tokens?: AddedTokenJson[] }).added_tokens ?? []) as AddedTokenJson[];
  const specialIds = new Set<number>(added.filter((t) => t.special).map((t) => t.id));
  let vocabSize = 0;
  for (const id of tok.get_vocab(true).values()) vocabSize = Math.max(vocabSize, id + 1);
  return {
    config,
    vocabSize,
    specialIds,
    specialTokens: specialTokensOf(config),
    encode: (text, addSpecialTokens = true) => tok.encode(text, { add_special_tokens: addSpecialTokens }).ids,
    decode: (ids, skipSpecialTokens = true, cleanUp) =>
      ids.length === 0 ? '' : tok.decode(ids, { skip_special_tokens: skipSpecialTokens, clean_up_tokenization_spaces: cleanUp ?? null }),
    tokenToId: (t) => tok.token_to_id(t),
    idToToken: (id) => tok.id_to_token(id),
  };
}

/** The directory's tokenizer, or null when it has no tokenizer.json. */
export async function loadTokenizer(dir: DirSource): Promise<TextTokenizer | null> {
  const json = await dir.readText('tokenizer.json');
  if (json === null) return null;
  const cfgText = await dir.readText('tokenizer_config.json');
  return tokenizerFromJson(JSON.parse(json), cfgText ? JSON.parse(cfgText) : {});
}

/**
 * Ids that end generation: the given model-level EOS ids plus the tokenizer's `eos_token`, deduplicated.
 * (generation_config.json's `eos_token_id` usually equals config.json's, which ModelSpec carries.)
 */
export function stopTokenIds(tokenizer: TextTokenizer, modelEos: readonly number[] = []): number[] {
  const ids = new Set<number>(modelEos);
  const eos = tokenizer.specialTokens.eos_token;
  const id = eos !== undefined ? tokenizer.tokenToId(eos) : undefined;
  if (id !== undefined) ids.add(id);
  return [...ids].sort((a, b) => a - b);
}
