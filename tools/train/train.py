#!/usr/bin/env python3
"""Train the embedded default model (issue 7) within a wall-clock budget, then export and measure it.

  1. teacher pool: rows sampled from stories260K (T=1), BOS-separated stories, as many as fit in
     --gen-seconds
  2. phase 1 (70% of the training time): distillation. Each batch: teacher rows (soft targets)
     plus real excerpt rows (soft targets too: the teacher's view of real contexts)
  3. phase 2: from the phase-1 state, one run per --alphas value, real rows now scored with
     alpha * CE(real next token) + (1 - alpha) * soft; the held-out train stories (never the
     validation excerpt) pick the best state among phase 1's end and every phase-2 check
  4. export (bf16 matrices, f32 vectors) as an HF directory; bits per byte of stories260K and of
     ours (f32 and the package's q4/q8) on the validation excerpt (eval_bpb.py); trainer logits
     fixture; samples. Every stage writes its results before the next starts.

usage: python3 train.py --data DIR --out DIR [--budget SECONDS] [--tiny] [--device cuda]
"""

import argparse
import copy
import json
import math
import os
import subprocess
import sys
import time
import traceback

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import st  # noqa: E402
from data import BOS, EOS, real_rows, stories_of_train_excerpt, story_stream, student_view_of_teacher_rows, swap_bos_eos, teacher_view  # noqa: E402
from eval_bpb import evaluate  # noqa: E402
from model import Student, default_config, hf_config  # noqa: E402
from quant import quantize_state  # noqa: E402
from teacher import Teacher  # noqa: E402
from tok512 import Llama2cTokenizer, write_hf  # noqa: E402

T0 = time.time()


def now():
    return time.time() - T0


def log(*a):
    print(f"[{now():7.1f}s]", *a, flush=True)


class Results:
    def __init__(self, path):
        self.path, self.data = path, {}

    def put(self, key, value):
        self.data[key] = value
        with open(self.path, "w") as f:
            json.dump(self.data, f, indent=1)


def stage(results, name, fn):
    """Run one stage; record its error and go on."""
    t = now()
    try:
        out = fn()
        log(f"stage {name} done in {now() - t:.1f}s")
        return out
    except Exception:
        err = traceback.format_exc()
        log(f"stage {name} FAILED\n{err}")
        results.put(f"error_{name}", err)
        return None


@torch.no_grad()
def generate_pool(teacher, args, device, gen):
    rows, tokens, t_end = [], 0, now() + args.gen_seconds
    while now() < t_end and tokens < args.pool_tokens:
        r = teacher.sample(args.gen_batch, args.seq, temperature=1.0, generator=gen, device=device)
        rows.append(r.to(torch.int16))
        tokens += r.numel()
        log(f"teacher pool: {tokens / 1e6:.1f}M tokens")
    return torch.cat(rows)


@torch.no_grad()
def heldout_nll(model, rows):
    model.eval()
    tot, n = 0.0, 0
    for b in range(0, len(rows), 32):
        x = rows[b : b + 32]
        with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=x.is_cuda):
            logits = model(x[:, :-1])
        nll = F.cross_entropy(logits.float().transpose(1, 2), x[:, 1:], reduction="sum")
        tot += nll.item()
        n += x[:, 1:].numel()
    model.train()
    return tot / n


def train(args, tok, teacher, device, results):
    gen = torch.Generator().manual_seed(args.seed)
    gdev = torch.Generator(device=device).manual_seed(args.seed)
    text = open(os.path.join(args.data, "tinystories_train_head.txt"), encoding="utf-8").read()
    stories = stories_of_train_excerpt(text)
    n_held = max(8, len(stories) // 20)
    stream = story_stream(tok, stories[:-n_held])
    held = story_stream(tok, stories[-n_held:])
    T = args.seq
    starts = range(0, len(held) - T, T)
    held_rows = torch.stack([torch.cat([torch.tensor([BOS]), held[s : s + T]]) for s in starts]).to(device)
    log(f"train stories {len(stories) - n_held} ({len(stream)} tokens), held-out {n_held} ({len(held)} tokens, {len(held_rows)} rows)")

    with torch.no_grad():
        x = held_rows
        t_logits = swap_bos_eos(teacher(teacher_view(x)[:, :-1]).float())
        t_held = F.cross_entropy(t_logits.transpose(1, 2), x[:, 1:]).item()
    results.put("teacher_heldout_nats_per_token", t_held)
    log(f"teacher held-out nats/token {t_held:.4f}")
    pool = generate_pool(teacher, args, device, gdev)
    log(f"pool {tuple(pool.shape)}; a teacher row: {tok.decode(pool[0].long().tolist())[:400]!r}")

    cfg = default_config(**(TINY if args.tiny else {}))
    model = Student(cfg).to(device)
    counts = model.param_counts()
    results.put("params", counts)
    log("params", counts)
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2 and "embed" not in n]
    other = [p for n, p in model.named_parameters() if not (p.dim() >= 2 and "embed" not in n)]
    kw = {"fused": True} if device == "cuda" else {}
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": args.wd}, {"params": other, "weight_decay": 0.0}], lr=args.lr, betas=(0.9, 0.95), **kw)

    t_train0 = now()
    t_end = args.budget - args.reserve
    span = t_end - t_train0
    p1_end = t_train0 + 0.7 * span
    variants = [float(a) for a in args.alphas.split(",")] if args.alphas else []
    v_span = (t_end - p1_end) / max(1, len(variants))
    n_real = args.real_rows
    n_teach = args.batch - n_real
    curve = []
    state = {"step": 0, "tokens": 0, "ptr": 0}
    perm = torch.randperm(len(pool), generator=gen)

    def batch():
        if state["ptr"] + n_teach > len(perm):
            perm.copy_(torch.randperm(len(pool), generator=gen))
            state["ptr"] = 0
        idx = perm[state["ptr"] : state["ptr"] + n_teach].to(device)
        state["ptr"] += n_teach
        trow = pool[idx].long()
        rrow = real_rows(stream, n_real, T, gen, device)
        x = torch.cat([student_view_of_teacher_rows(trow), rrow])  # (B, T+1) student tokens
        xt = torch.cat([trow, teacher_view(rrow)])  # the teacher's view of the same rows
        return x, xt

    def step(lr, alpha):
        for g in opt.param_groups:
            g["lr"] = lr
        x, xt = batch()
        with torch.no_grad():
            p_t = torch.softmax(swap_bos_eos(teacher(xt[:, :-1]).float()), -1)  # (B, T, V)
        with torch.autocast(device, dtype=torch.bfloat16, enabled=device == "cuda"):
            logits = model(x[:, :-1])
        logp = torch.log_softmax(logits.float(), -1)
        soft = -(p_t * logp).sum(-1)  # (B, T)
        hard = -logp.gather(-1, x[:, 1:, None]).squeeze(-1)  # (B, T)
        a = torch.zeros(len(x), 1, device=device)
        a[n_teach:] = alpha
        loss = ((1 - a) * soft + a * hard).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        model.update_bias(args.bias_rate)
        state["step"] += 1
        state["tokens"] += x[:, 1:].numel()
        with torch.no_grad():
            ent = -(p_t[:n_teach] * torch.log(p_t[:n_teach].clamp_min(1e-30))).sum(-1).mean()
            return {"loss": loss, "kl_teacher_rows": soft[:n_teach].mean() - ent, "ce_real_rows": hard[n_teach:].mean()}

    def point(phase, lr, m, held_nll=None):
        p = {"phase": phase, "t": round(now() - t_train0, 1), "step": state["step"], "tokens_M": round(state["tokens"] / 1e6, 2), "lr": lr}
        p.update({k: round(float(v), 4) for k, v in m.items()})
        if held_nll is not None:
            p["heldout_nats_per_token"] = round(held_nll, 4)
        curve.append(p)
        log(json.dumps(p))
        results.put("curve", curve)

    # ---- phase 1 ----
    last_log = now()
    while now() < p1_end:
        s = state["step"]
        warm = min(1.0, (s + 1) / args.warmup)
        frac = min(1.0, (now() - t_train0) / (p1_end - t_train0))
        lr = args.lr * warm * (0.2 + 0.8 * 0.5 * (1 + math.cos(math.pi * frac)))
        m = step(lr, 0.0)
        if now() - last_log >= args.log_every or s == 0:
            last_log = now()
            point("distill", lr, m, heldout_nll(model, held_rows))
    h = heldout_nll(model, held_rows)
    point("distill", lr, m, h)
    best = {"held": h, "state": copy.deepcopy(model.state_dict()), "label": "phase 1 end", "step": state["step"]}
    p1_state = (copy.deepcopy(model.state_dict()), copy.deepcopy(opt.state_dict()), dict(state))

    # ---- phase 2 ----
    for vi, alpha in enumerate(variants):
        model.load_state_dict(p1_state[0])
        opt.load_state_dict(p1_state[1])
        state.update(p1_state[2])
        v0 = now()
        v_end = min(t_end, v0 + v_span)
        last_log = now()
        while now() < v_end:
            frac = (now() - v0) / max(1e-9, v_end - v0)
            lr = args.lr * (0.2 - 0.18 * frac)
            m = step(lr, alpha)
            if now() - last_log >= args.check_every:
                last_log = now()
                h = heldout_nll(model, held_rows)
                point(f"alpha={alpha}", lr, m, h)
                if h < best["held"]:
                    best = {"held": h, "state": copy.deepcopy(model.state_dict()), "label": f"alpha={alpha}", "step": state["step"]}
        h = heldout_nll(model, held_rows)
        point(f"alpha={alpha}", lr, m, h)
        if h < best["held"]:
            best = {"held": h, "state": copy.deepcopy(model.state_dict()), "label": f"alpha={alpha}", "step": state["step"]}
    model.load_state_dict(best["state"])
    sel = {"label": best["label"], "step": best["step"], "heldout_nats_per_token": best["held"], "train_seconds": round(now() - t_train0, 1)}
    results.put("selected", sel)
    log("selected", sel)
    return cfg, model


TINY = dict(hidden_size=32, intermediate_size=32, num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1, head_dim=16, num_local_experts=8,
            layer_types=["sliding_attention", "full_attention"], sliding_window=16)


def export(cfg, model, out_dir, tok):
    """HF directory: matrices stored bf16, vectors f32; the model is set to the stored values."""
    os.makedirs(out_dir, exist_ok=True)
    sd = model.hf_state()
    stored = {k: (v.to(torch.bfloat16) if v.dim() == 2 else v) for k, v in sd.items()}
    st.save(stored, os.path.join(out_dir, "model.safetensors"), {"format": "pt"})
    model.load_hf_state({k: v.float() for k, v in stored.items()})
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(hf_config(cfg), f, indent=1)
    with open(os.path.join(out_dir, "generation_config.json"), "w") as f:
        json.dump({"bos_token_id": BOS, "eos_token_id": EOS, "pad_token_id": 0, "max_length": cfg["max_position_embeddings"]}, f, indent=1)
    write_hf(tok, out_dir)


@torch.no_grad()
def continue_ids(model, ids, n, temperature=0.0, seed=0, stop=EOS):
    """Plain generation (no cache): greedy or temperature sampling, stopping at EOS."""
    device = next(model.parameters()).device
    g = torch.Generator(device="cpu").manual_seed(seed)
    x = list(ids)
    out = []
    for _ in range(n):
        if len(x) >= model.cfg["max_position_embeddings"]:
            break
        logits = model(torch.tensor([x], device=device))[0, -1].float().cpu()
        if temperature == 0:
            nxt = int(logits.argmax())
        else:
            nxt = int(torch.multinomial(torch.softmax(logits / temperature, -1), 1, generator=g))
        out.append(nxt)
        if nxt == stop:
            break
        x.append(nxt)
    return out


FIXTURE_PROMPTS = [
    "Once upon a time, there was a little",
    "Tom and his dog Max went to the park. They saw a big",
]


def fixture(cfg, model, tok, long_text):
    """Trainer logits (f32, CPU) for short prompts at every position and a long prompt (past the
    sliding window) at its last 24 positions; the same at the package's q4/q8; greedy tokens."""
    cpu = copy.deepcopy(model).float().cpu().eval()
    q = copy.deepcopy(cpu)
    q.load_hf_state(quantize_state(cpu.hf_state()))
    prompts = [([BOS] + tok.encode(p), 0) for p in FIXTURE_PROMPTS]
    long_ids = ([BOS] + tok.encode(long_text))[: 3 * cfg["sliding_window"] // 2 + 8]
    prompts.append((long_ids, len(long_ids) - 24))
    r6 = lambda row: [float(f"{v:.6g}") for v in row]
    out = {"model": "tools/train/out", "note": "logits[i] are for position from + i", "prompts": []}
    with torch.no_grad():
        for ids, frm in prompts:
            x = torch.tensor([ids])
            out["prompts"].append(
                {
                    "tokens": ids,
                    "from": frm,
                    "logits": [r6(r) for r in cpu(x)[0, frm:].tolist()],
                    "logits_q4q8": [r6(r) for r in q(x)[0, frm:].tolist()],
                }
            )
    g = [BOS] + tok.encode("Once upon a time")
    out["greedy_prompt"] = g
    out["greedy"] = continue_ids(cpu, g, 32, stop=-1)
    out["greedy_q4q8"] = continue_ids(q, g, 32, stop=-1)
    return out


def samples(model, tok, device):
    qm = copy.deepcopy(model)
    qm.load_hf_state({k: v.to(device) for k, v in quantize_state(model.hf_state()).items()})
    out = []
    start = "Once upon a time"
    for label, m in (("f32", model), ("q4q8", qm)):
        p_ids = [BOS] + tok.encode(start)
        ids = continue_ids(m.eval(), p_ids, 300)
        out.append({"model": label, "prompt": start, "temperature": 0, "text": tok.decode(p_ids + ids), "ids": ids})
    for i, p in enumerate(["Once upon a time", "Lily wanted to", "The little dog", "One day, a boy named Sam"]):
        p_ids = [BOS] + tok.encode(p)
        ids = continue_ids(model.eval(), p_ids, 300, temperature=0.8, seed=i)
        out.append({"model": "f32", "prompt": p, "temperature": 0.8, "seed": i, "text": tok.decode(p_ids + ids)})
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--model-dir", default=None)
    ap.add_argument("--budget", type=float, default=540)
    ap.add_argument("--reserve", type=float, default=75)
    ap.add_argument("--gen-seconds", type=float, default=45)
    ap.add_argument("--pool-tokens", type=float, default=120e6)
    ap.add_argument("--gen-batch", type=int, default=4096)
    ap.add_argument("--seq", type=int, default=511, help="tokens per row after BOS; the teacher holds 512 positions")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--real-rows", type=int, default=8)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--wd", type=float, default=0.05)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--bias-rate", type=float, default=1e-3)
    ap.add_argument("--alphas", default="0.3,0.7")
    ap.add_argument("--log-every", type=float, default=8)
    ap.add_argument("--check-every", type=float, default=4)
    ap.add_argument("--eval-chars", type=int, default=0, help="evaluate on the first N characters only (0 = all)")
    ap.add_argument("--tiny", action="store_true")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    model_dir = args.model_dir or os.path.join(args.out, "model")
    results = Results(os.path.join(args.out, "results.json"))
    results.put("args", vars(args))
    torch.manual_seed(args.seed)
    device = args.device
    if device == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        results.put("device", torch.cuda.get_device_name())
    tok = Llama2cTokenizer(os.path.join(args.data, "tok512.bin"))
    teacher = Teacher(os.path.join(args.data, "stories260K.bin")).to(device).eval()

    trained = stage(results, "train", lambda: train(args, tok, teacher, device, results))
    if trained is None:
        return 1
    cfg, model = trained
    model.eval()
    stage(results, "export", lambda: export(cfg, model, model_dir, tok))
    tar = f"tar czf - -C {os.path.dirname(os.path.abspath(model_dir))} {os.path.basename(model_dir)} | split -b 15m - {os.path.join(args.out, 'model.tgz.part-')}"
    stage(results, "tar", lambda: subprocess.run(tar, shell=True, check=True))
    val = open(os.path.join(args.data, "tinystories_valid_head.txt"), encoding="utf-8").read()
    if args.eval_chars:
        val = val[: args.eval_chars]

    def bpb():
        qm = copy.deepcopy(model)
        qm.load_hf_state({k: v.to(device) for k, v in quantize_state(model.hf_state()).items()})
        r = evaluate({"stories260K": teacher, "ours_f32": model, "ours_q4q8": qm.eval()}, tok, val, device)
        results.put("bpb", r)
        log(json.dumps(r, indent=1))

    stage(results, "bpb", bpb)
    stage(results, "fixture", lambda: json.dump(fixture(cfg, model, tok, val[:4000]), open(os.path.join(args.out, "expected.json"), "w")))
    stage(results, "samples", lambda: results.put("samples", samples(model, tok, device)))
    log("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
