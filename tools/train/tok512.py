#!/usr/bin/env python3
"""The stories260K tokenizer (llama2.c tok512.bin): reader, llama2.c's encode algorithm, and its
conversion to an HF tokenizer.json.

tok512.bin: int32 max_token_length, then 512 x {f32 score, i32 len, bytes}. Pieces carry real spaces
(llama2.c's export replaced SentencePiece's "▁" by " "); BOS is "\\n<s>\\n", EOS "\\n</s>\\n"; ids
3..258 are the byte-fallback pieces <0x00>..<0xFF>.

llama2.c encode(text): a dummy-prefix " " token (when text is non-empty), then one token per UTF-8
code point (its piece, or its bytes as <0xNN> pieces), then repeatedly merge the adjacent pair whose
concatenation is a piece with the highest score (leftmost on ties) until no pair merges.

Every piece that holds a space holds it first, so no merge crosses the start of a space: the text
splits into chunks at each space, and each chunk merges on its own (cached). That is the same
result as merging the whole text at once, in time linear in the text.

The HF form: BPE over "▁"-pieces with byte_fallback; merges are every pair (a, b) of pieces whose
concatenation c is a piece, ranked by c's score (highest first); normalizer prepends "▁" and maps
" " to "▁" (the dummy prefix); the post-processor adds BOS; the decoder undoes all of it.

usage: python3 tok512.py tok512.bin OUT_DIR   (writes tokenizer.json, tokenizer_config.json,
chat_template.jinja; prints a summary)
"""

import json
import os
import struct
import sys

BOS, EOS, UNK = 1, 2, 0
SPACE = "\u2581"


def read_tok512(path):
    """-> (pieces: list[bytes], scores: list[float])"""
    with open(path, "rb") as f:
        data = f.read()
    (max_len,) = struct.unpack_from("<i", data, 0)
    off = 4
    pieces, scores = [], []
    while off < len(data):
        score, n = struct.unpack_from("<fi", data, off)
        off += 8
        pieces.append(data[off : off + n])
        scores.append(score)
        off += n
    assert max(len(p) for p in pieces) <= max_len
    return pieces, scores


class Llama2cTokenizer:
    """llama2.c's encode/decode over tok512.bin, in plain Python."""

    def __init__(self, path):
        self.pieces, self.scores = read_tok512(path)
        self.vocab_size = len(self.pieces)
        self.lookup = {}
        for i, p in enumerate(self.pieces):
            self.lookup.setdefault(p, i)  # first id wins, as llama2.c's sorted-vocab bsearch finds some id
        self.cache = {}
        for p in self.pieces[BOS + 1 :]:
            assert b" " not in p[1:], "a piece with an inner space breaks the chunked encode"

    def _merge(self, chunk):
        """Tokens of one chunk (str without inner spaces at merge boundaries)."""
        ids = self.cache.get(chunk)
        if ids is not None:
            return ids
        ids = []
        for ch in chunk:
            b = ch.encode("utf-8")
            i = self.lookup.get(b)
            if i is None:
                ids.extend(x + 3 for x in b)
            else:
                ids.append(i)
        while True:
            best, best_i, best_id = -1e10, -1, -1
            for i in range(len(ids) - 1):
                j = self.lookup.get(self.pieces[ids[i]] + self.pieces[ids[i + 1]])
                if j is not None and self.scores[j] > best:
                    best, best_i, best_id = self.scores[j], i, j
            if best_i < 0:
                break
            ids[best_i : best_i + 2] = [best_id]
        self.cache[chunk] = ids
        return ids

    def encode(self, text, bos=False, eos=False):
        out = [BOS] if bos else []
        if text:
            s = " " + text  # the dummy prefix
            start = 0
            for k in range(1, len(s) + 1):
                if k == len(s) or s[k] == " ":
                    out.extend(self._merge(s[start:k]))
                    start = k
        if eos:
            out.append(EOS)
        return out

    def piece_bytes(self, i):
        p = self.pieces[i]
        if 3 <= i <= 258:
            return bytes([i - 3])
        if i in (UNK, BOS, EOS):
            return b""
        return p

    def decode(self, ids):
        """Text of ids, dropping specials and the dummy-prefix space of the first piece."""
        b = b"".join(self.piece_bytes(i) for i in ids)
        s = b.decode("utf-8", errors="replace")
        return s[1:] if s.startswith(" ") else s


def hf_tokenizer_json(tok):
    """The HF tokenizers JSON of the llama2.c tokenizer (see the module doc)."""
    names = {UNK: "<unk>", BOS: "<s>", EOS: "</s>"}
    vocab = {}
    for i, p in enumerate(tok.pieces):
        name = names.get(i) or (p.decode("ascii") if 3 <= i <= 258 else p.decode("utf-8").replace(" ", SPACE))
        assert name not in vocab, f"duplicate piece {name!r}"
        vocab[name] = i
    normal = {i: p for i, p in enumerate(tok.pieces) if i > 258}
    by_piece = {p: i for i, p in normal.items()}
    merges = []
    for c_id, c in normal.items():
        s = c.decode("utf-8")
        for k in range(1, len(s)):
            a, b = s[:k].encode("utf-8"), s[k:].encode("utf-8")
            if a in by_piece and b in by_piece:
                merges.append((-tok.scores[c_id], c_id, k, a, b))
    merges.sort()
    merge_list = [[a.decode("utf-8").replace(" ", SPACE), b.decode("utf-8").replace(" ", SPACE)] for _, _, _, a, b in merges]
    special = lambda i: {"id": i, "content": names[i], "single_word": False, "lstrip": False, "rstrip": False, "normalized": False, "special": True}
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": [special(UNK), special(BOS), special(EOS)],
        "normalizer": {
            "type": "Sequence",
            "normalizers": [{"type": "Prepend", "prepend": SPACE}, {"type": "Replace", "pattern": {"String": " "}, "content": SPACE}],
        },
        "pre_tokenizer": None,
        "post_processor": {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [
                {"SpecialToken": {"id": "<s>", "type_id": 0}},
                {"Sequence": {"id": "A", "type_id": 0}},
                {"SpecialToken": {"id": "<s>", "type_id": 1}},
                {"Sequence": {"id": "B", "type_id": 1}},
            ],
            "special_tokens": {"<s>": {"id": "<s>", "ids": [BOS], "tokens": ["<s>"]}},
        },
        "decoder": {
            "type": "Sequence",
            "decoders": [
                {"type": "Replace", "pattern": {"String": SPACE}, "content": " "},
                {"type": "ByteFallback"},
                {"type": "Fuse"},
                {"type": "Strip", "content": " ", "start": 1, "stop": 0},
            ],
        },
        "model": {
            "type": "BPE",
            "dropout": None,
            "unk_token": "<unk>",
            "continuing_subword_prefix": None,
            "end_of_word_suffix": None,
            "fuse_unk": True,
            "byte_fallback": True,
            "ignore_merges": False,
            "vocab": vocab,
            "merges": merge_list,
        },
    }


# Story continuation (the same template as tests/fixtures/templates/story.jinja): BOS, an optional
# leading system message as the scene, then every user/assistant turn's text; the model continues.
CHAT_TEMPLATE = """{%- if tools -%}
  {{- raise_exception("The story model cannot call tools: send the request without tools.") -}}
{%- endif -%}
{{- bos_token -}}
{%- for m in messages -%}
  {%- if m.role == "system" -%}
    {%- if not loop.first -%}
      {{- raise_exception("The story template accepts a system message only as the first message.") -}}
    {%- endif -%}
    {{- m.content ~ "\\n\\n" -}}
  {%- elif m.role == "user" or m.role == "assistant" -%}
    {{- m.content -}}
  {%- else -%}
    {{- raise_exception("The story template has no \\"" ~ m.role ~ "\\" role: the default model only continues stories.") -}}
  {%- endif -%}
{%- endfor -%}
"""


def tokenizer_config():
    return {
        "tokenizer_class": "LlamaTokenizerFast",
        "bos_token": "<s>",
        "eos_token": "</s>",
        "unk_token": "<unk>",
        "add_bos_token": True,
        "add_eos_token": False,
        "clean_up_tokenization_spaces": False,
        "legacy": True,
        "model_max_length": 512,
        "chat_template": CHAT_TEMPLATE,
    }


def write_hf(tok, out_dir):
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(hf_tokenizer_json(tok), f, ensure_ascii=False, indent=1)
    with open(os.path.join(out_dir, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(tokenizer_config(), f, ensure_ascii=False, indent=1)
    with open(os.path.join(out_dir, "chat_template.jinja"), "w", encoding="utf-8") as f:
        f.write(CHAT_TEMPLATE)  # transformers 5 layout; tokenizer_config.json carries it too


if __name__ == "__main__":
    tok = Llama2cTokenizer(sys.argv[1])
    write_hf(tok, sys.argv[2])
    j = hf_tokenizer_json(tok)
    print(json.dumps({"vocab": len(j["model"]["vocab"]), "merges": len(j["model"]["merges"]), "example": tok.encode("Once upon a time, there was a little girl.", bos=True)}))
