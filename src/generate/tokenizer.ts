// Text <-> token ids from a model's tokenizer.json + tokenizer_config.json, through
// @huggingface/tokenizers (the same tokenizer code transformers.js uses).

import { Tokenizer } from '@huggingface/tokenizers';
import type { DirSource } from '../format/source.ts';

export interface TextTokenizer {
  encode(text: string, addSpecialTokens?: boolean): number[];
  decode(ids: number[], skipSpecialTokens?: boolean): string;
  tokenToId(token: string): number | undefined;
  /** raw tokenizer_config.json (chat_template, special tokens) */
  readonly config: Record<string, unknown>;
}

export function tokenizerFromJson(tokenizerJson: object, config: Record<string, unknown>): TextTokenizer {
  const tok = new Tokenizer(tokenizerJson, config);
  return {
    config,
    encode: (text, addSpecialTokens = true) => tok.encode(text, { add_special_tokens: addSpecialTokens }).ids,
    decode: (ids, skipSpecialTokens = true) => tok.decode(ids, { skip_special_tokens: skipSpecialTokens }),
    tokenToId: (t) => tok.token_to_id(t),
  };
}

/** The directory's tokenizer, or null when it has no tokenizer.json. */
export async function loadTokenizer(dir: DirSource): Promise<TextTokenizer | null> {
  const json = await dir.readText('tokenizer.json');
  if (json === null) return null;
  const cfgText = await dir.readText('tokenizer_config.json');
  return tokenizerFromJson(JSON.parse(json), cfgText ? JSON.parse(cfgText) : {});
}
