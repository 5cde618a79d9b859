#!/usr/bin/env python3
"""Bits per byte of several models on the TinyStories validation excerpt, side by side, with one
tokenization (stories260K's tok512, llama2.c's encode) and one context handling for every model:

  stream      the excerpt as it is, newlines included: ids = encode(text); windows of
              [BOS] + ids[s : s + 511]; every id is scored once, with at least 255 ids of context
              after the first window. bytes = UTF-8 bytes of the whole excerpt.
  paragraphs  each blank-line-separated paragraph on its own: [BOS] + encode(paragraph), every id
              after BOS scored. bytes = UTF-8 bytes of the paragraphs (no newlines). This one does
              not depend on how a model learned line breaks or story boundaries.

bpb = sum of -log2 p(id) / bytes. Models are callables tokens (B, T) -> logits (B, T, V).

usage: python3 eval_bpb.py --data DIR --model HF_DIR [--device cuda]   (DIR holds
tinystories_valid_head.txt, stories260K.bin, tok512.bin; prints JSON for stories260K and the
model in f32 and at the shipped quantization)
"""

import argparse
import json
import math
import os
import re

import torch
import torch.nn.functional as F

BOS = 1
CTX = 512


def stream_windows(ids, ctx=CTX):
    """-> list of (window ids [BOS] + chunk, index of the first scored target within the window)"""
    body = ctx - 1
    half = body // 2
    out = []
    s = 0
    while True:
        chunk = ids[s : s + body]
        first = 0 if s == 0 else half  # targets chunk[first:] are new
        out.append(([BOS] + chunk, first))
        if s + body >= len(ids):
            break
        s += body - half
    return out


@torch.no_grad()
def nll_of_windows(model, windows, device, batch=32):
    """windows: list of (tokens with BOS first, first scored target index into tokens[1:]) ->
    (total nats, scored count). Each window predicts tokens[1:] from tokens[:-1]."""
    total, count = 0.0, 0
    order = sorted(range(len(windows)), key=lambda i: len(windows[i][0]))
    for b in range(0, len(order), batch):
        group = [windows[i] for i in order[b : b + batch]]
        T = max(len(w) for w, _ in group)
        x = torch.zeros(len(group), T, dtype=torch.long)
        mask = torch.zeros(len(group), T - 1, dtype=torch.bool)
        for r, (w, first) in enumerate(group):
            x[r, : len(w)] = torch.tensor(w)
            mask[r, first : len(w) - 1] = True
        x = x.to(device)
        logits = model(x[:, :-1]).float()
        nll = F.cross_entropy(logits.transpose(1, 2), x[:, 1:], reduction="none")  # (B, T-1)
        total += nll[mask.to(device)].double().sum().item()
        count += int(mask.sum())
    return total, count


def paragraphs_of(text):
    return [p.strip("\n") for p in re.split(r"\n\s*\n", text) if p.strip()]


def paragraph_windows(tok, text, ctx=CTX):
    wins = []
    for p in paragraphs_of(text):
        ids = tok.encode(p)
        if len(ids) <= ctx - 1:
            wins.append(([BOS] + ids, 0))
        else:
            wins.extend(stream_windows(ids, ctx))
    return wins


def evaluate(models, tok, text, device, metrics=("stream", "paragraphs")):
    """models: {name: callable} -> {name: {metric: {bpb, nats_per_token, tokens, bytes}}}"""
    data = {}
    if "stream" in metrics:
        data["stream"] = (stream_windows(tok.encode(text)), len(text.encode("utf-8")))
    if "paragraphs" in metrics:
        data["paragraphs"] = (paragraph_windows(tok, text), sum(len(p.encode("utf-8")) for p in paragraphs_of(text)))
    out = {}
    for name, m in models.items():
        out[name] = {}
        for metric, (wins, nbytes) in data.items():
            nats, n = nll_of_windows(m, wins, device)
            out[name][metric] = {"bpb": nats / math.log(2) / nbytes, "nats_per_token": nats / n, "tokens": n, "bytes": nbytes}
    return out


def main():
    import st
    from model import Student
    from quant import quantize_state
    from teacher import Teacher
    from tok512 import Llama2cTokenizer

    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--model", required=True)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    a = ap.parse_args()
    tok = Llama2cTokenizer(os.path.join(a.data, "tok512.bin"))
    text = open(os.path.join(a.data, "tinystories_valid_head.txt"), encoding="utf-8").read()
    teacher = Teacher(os.path.join(a.data, "stories260K.bin")).to(a.device).eval()
    cfg = json.load(open(os.path.join(a.model, "config.json")))
    sd = st.load(os.path.join(a.model, "model.safetensors"))
    f32 = Student(cfg)
    f32.load_hf_state(sd)
    q = Student(cfg)
    q.load_hf_state(quantize_state(sd))
    models = {"stories260K": teacher, "ours_f32": f32.to(a.device).eval(), "ours_q4q8": q.to(a.device).eval()}
    print(json.dumps(evaluate(models, tok, text, a.device), indent=1))


if __name__ == "__main__":
    main()
