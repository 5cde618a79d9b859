#!/usr/bin/env python3
"""The peer for `npm run bench`: HF transformers, bf16, eager attention, batch 1, random weights, at
the same shapes (bench/shapes.json, the configs the WebMoE bench builds its synthetic models from).

Per model: greedy decode tok/s (a KV-cached loop of single-token forwards with argmax, timed after a
warm-up, context ~ prompt + n), and prefill tok/s (one forward of `prefill` tokens, after a warm-up).
A model given as a subset of its layers (full_layers > num_hidden_layers) is also run with 2 layers,
so per-layer time and the extrapolation to the full depth can be computed the same way as ours.

Models are built directly on the GPU: `with torch.device("cuda"): from_config(cfg, dtype=bf16)`.

usage: python3 tools/bench_torch.py --out torch.json [--shapes bench/shapes.json] [--models a,b]
       [--prompt 32] [--decode 64] [--prefill 512] [--time-limit 300]
"""

import argparse
import gc
import json
import sys
import time

import torch
import transformers
from transformers import AutoConfig, AutoModelForCausalLM


def build(config_dict):
    cfg = dict(config_dict)
    model_type = cfg.pop("model_type")
    cfg.pop("architectures", None)
    config = AutoConfig.for_model(model_type, **cfg)
    with torch.device("cuda"):
        model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16, attn_implementation="eager")
    model.eval()
    return model


@torch.no_grad()
def decode_tok_s(model, vocab, prompt, n, warm=4):
    ids = torch.randint(0, vocab, (1, prompt), device="cuda")
    out = model(input_ids=ids, use_cache=True)
    past = out.past_key_values
    tok = out.logits[:, -1].argmax(-1, keepdim=True)
    for _ in range(warm):
        out = model(input_ids=tok, past_key_values=past, use_cache=True)
        past = out.past_key_values
        tok = out.logits[:, -1].argmax(-1, keepdim=True)
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(n):
        out = model(input_ids=tok, past_key_values=past, use_cache=True)
        past = out.past_key_values
        tok = out.logits[:, -1].argmax(-1, keepdim=True)
    tok.item()
    torch.cuda.synchronize()
    return n / (time.perf_counter() - t0)


@torch.no_grad()
def prefill_tok_s(model, vocab, T, reps=2):
    ids = torch.randint(0, vocab, (1, T), device="cuda")
    model(input_ids=ids, use_cache=True)
    torch.cuda.synchronize()
    best = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        out = model(input_ids=ids, use_cache=True)
        out.logits[:, -1].argmax(-1).item()
        torch.cuda.synchronize()
        best = min(best, time.perf_counter() - t0)
    return T / best


def run_one(config_dict, a):
    t0 = time.perf_counter()
    model = build(config_dict)
    built = time.perf_counter() - t0
    V = config_dict["vocab_size"]
    r = {
        "layers": config_dict["num_hidden_layers"],
        "params": sum(p.numel() for p in model.parameters()),
        "build_s": round(built, 2),
        "decode_tok_s": decode_tok_s(model, V, a.prompt, a.decode),
        "prefill_tok_s": prefill_tok_s(model, V, a.prefill),
        "peak_mem_GiB": round(torch.cuda.max_memory_allocated() / 2**30, 2),
    }
    del model
    gc.collect()
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
    return r


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True)
    p.add_argument("--shapes", default="bench/shapes.json")
    p.add_argument("--models", default="")
    p.add_argument("--prompt", type=int, default=32)
    p.add_argument("--decode", type=int, default=64)
    p.add_argument("--prefill", type=int, default=512)
    p.add_argument("--time-limit", type=float, default=300)
    a = p.parse_args()
    start = time.perf_counter()
    shapes = json.load(open(a.shapes))
    names = [n for n in a.models.split(",") if n] or list(shapes)
    result = {
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "gpu": torch.cuda.get_device_name(0),
        "setup": {"dtype": "bfloat16", "attn_implementation": "eager", "prompt": a.prompt, "decode": a.decode, "prefill": a.prefill},
        "models": {},
    }

    def save():
        with open(a.out, "w") as f:
            json.dump(result, f, indent=2)

    for name in names:
        if time.perf_counter() - start > a.time_limit:
            result["models"][name] = {"error": "skipped: time limit"}
            continue
        entry = shapes[name]
        cfg = entry["config"]
        try:
            r = run_one(cfg, a)
            if entry.get("full_layers", cfg["num_hidden_layers"]) > cfg["num_hidden_layers"] and time.perf_counter() - start < a.time_limit:
                small = dict(cfg, num_hidden_layers=2)
                if isinstance(small.get("layer_types"), list):
                    small["layer_types"] = small["layer_types"][:2]
                r["two_layers"] = run_one(small, a)
            result["models"][name] = r
        except Exception as e:  # noqa: BLE001 - report and continue with the next model
            result["models"][name] = {"error": f"{type(e).__name__}: {e}"}
            gc.collect()
            torch.cuda.empty_cache()
        print(f"torch {name}: {json.dumps(result['models'][name])}", flush=True)
        save()
    save()


if __name__ == "__main__":
    sys.exit(main())
