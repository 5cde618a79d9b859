#!/usr/bin/env python3
"""Tiny random checkpoints of every supported family, with HF transformers' own outputs.

Runs on the GPU machine (PyTorch + transformers 5.x); everything is computed on the CPU in f32 with
eager attention, so the outputs are the exact reference. Writes one folder per fixture:

  config.json, model.safetensors, expected.json = {tokens[T], logits[T][V], greedy_prompt[8],
  greedy[24] (min_new_tokens=24: EOS masked, as --ignore-eos), family, layout}

Weights are rounded to bf16 (stored bf16, so bf16-exact) except FP8 / MXFP4 variants, which store the
quantized released layout; their reference outputs come from HF run on the dequantized weights.

usage: python3 tools/make_fixtures.py OUT_DIR
"""

import json
import math
import os
import sys

import torch
from safetensors.torch import load_file, save_file
from transformers import (
    AutoModelForCausalLM,
    GptOssConfig,
    MiniMaxConfig,
    MiniMaxM2Config,
    MixtralConfig,
    OlmoeConfig,
    Qwen3MoeConfig,
)

T = 40
V = 256
GREEDY_PROMPT = 8
GREEDY_NEW = 24

COMMON = dict(
    vocab_size=V,
    hidden_size=64,
    num_hidden_layers=3,
    num_attention_heads=4,
    num_key_value_heads=2,
    head_dim=16,
    max_position_embeddings=256,
    bos_token_id=1,
    eos_token_id=2,
    pad_token_id=0,
    tie_word_embeddings=False,
)


def configs():
    return {
        "minimax_m2": MiniMaxM2Config(
            **COMMON,
            intermediate_size=64,
            num_local_experts=8,
            num_experts_per_tok=2,
            rms_norm_eps=1e-6,
            rope_parameters={"rope_type": "default", "rope_theta": 5e6, "partial_rotary_factor": 0.5},
        ),
        "gpt_oss": GptOssConfig(
            **COMMON,
            intermediate_size=64,
            num_local_experts=8,
            num_experts_per_tok=2,
            rms_norm_eps=1e-5,
            sliding_window=8,
            layer_types=["sliding_attention", "full_attention", "sliding_attention"],
            attention_bias=True,
            rope_parameters={
                "rope_type": "yarn",
                "rope_theta": 150000.0,
                "factor": 32.0,
                "beta_fast": 32.0,
                "beta_slow": 1.0,
                "original_max_position_embeddings": 4096,
                "truncate": False,
            },
        ),
        "minimax": MiniMaxConfig(
            **COMMON,
            intermediate_size=64,
            num_local_experts=8,
            num_experts_per_tok=2,
            rms_norm_eps=1e-5,
            layer_types=["linear_attention", "full_attention", "linear_attention"],
            block_size=16,
            sliding_window=None,
            full_attn_alpha_factor=1.5,
            full_attn_beta_factor=0.8,
            linear_attn_alpha_factor=1.3,
            linear_attn_beta_factor=0.9,
            mlp_alpha_factor=1.2,
            mlp_beta_factor=1.1,
            rope_parameters={"rope_type": "default", "rope_theta": 1e7, "partial_rotary_factor": 0.5},
        ),
        "qwen3_moe": Qwen3MoeConfig(
            **COMMON,
            intermediate_size=96,
            moe_intermediate_size=48,
            num_experts=8,
            num_experts_per_tok=2,
            norm_topk_prob=True,
            rms_norm_eps=1e-6,
            rope_parameters={"rope_type": "default", "rope_theta": 1e6},
        ),
        "mixtral": MixtralConfig(
            **COMMON,
            intermediate_size=64,
            num_local_experts=8,
            num_experts_per_tok=2,
            rms_norm_eps=1e-5,
            sliding_window=None,
            rope_parameters={"rope_type": "default", "rope_theta": 1e6},
        ),
        "olmoe": OlmoeConfig(
            **{**COMMON, "num_key_value_heads": 4},
            intermediate_size=64,
            num_experts=8,
            num_experts_per_tok=2,
            norm_topk_prob=False,
            clip_qkv=2.0,
            rms_norm_eps=1e-5,
            rope_parameters={"rope_type": "default", "rope_theta": 1e4},
        ),
    }


DECAY_BUFFERS = ("slope_rate", "query_decay", "key_decay", "diagonal_decay")


def randomize(model, gen):
    """Norms 1 + 0.2 N, biases / sinks / selection biases 0.1 N, other weights N(0, 0.08^2); bf16-exact."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight") or "layernorm" in name or name.endswith(".norm.weight"):
                v = 1 + 0.2 * torch.randn(p.shape, generator=gen)
            elif name.endswith("bias") or name.endswith("sinks") or "e_score_correction_bias" in name:
                v = 0.1 * torch.randn(p.shape, generator=gen)
            else:
                v = 0.08 * torch.randn(p.shape, generator=gen)
            p.copy_(v.to(torch.bfloat16).float())
        for name, b in model.named_buffers():
            if "e_score_correction_bias" in name:
                b.copy_((0.1 * torch.randn(b.shape, generator=gen)).to(torch.bfloat16).float())
        # lightning decay buffers: recompute in f32 from the formula (never from a bf16 copy)
        for m in model.modules():
            if hasattr(m, "get_slope_rate") and hasattr(m, "decay_factors"):
                slope = m.get_slope_rate()
                q, k, d = m.decay_factors(slope)
                m.slope_rate.copy_(slope)
                m.query_decay.copy_(q)
                m.key_decay.copy_(k)
                m.diagonal_decay.copy_(d)


def reference(model, tokens):
    with torch.no_grad():
        ids = torch.tensor([tokens])
        logits = model(ids).logits[0].float()
        out = model.generate(
            ids[:, :GREEDY_PROMPT],
            max_new_tokens=GREEDY_NEW,
            min_new_tokens=GREEDY_NEW,
            do_sample=False,
            pad_token_id=0,
        )
    greedy = out[0, GREEDY_PROMPT:].tolist()
    return [[round(float(x), 6) for x in row] for row in logits], greedy


def write_fixture(out_dir, name, config_dict, tensors, tokens, logits, greedy, layout):
    d = os.path.join(out_dir, name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(config_dict, f, indent=2, sort_keys=True)
    save_file({k: v.contiguous() for k, v in tensors.items()}, os.path.join(d, "model.safetensors"), metadata={"format": "pt"})
    with open(os.path.join(d, "expected.json"), "w") as f:
        json.dump(
            {
                "family": config_dict["model_type"],
                "layout": layout,
                "tokens": tokens,
                "logits": logits,
                "greedy_prompt": tokens[:GREEDY_PROMPT],
                "greedy": greedy,
            },
            f,
        )
    print(f"{name}: {sum(v.numel() * v.element_size() for v in tensors.values())} bytes, greedy {greedy[:8]}...", flush=True)


def saved_tensors(model, tmp):
    """What save_pretrained writes (HF's own on-disk names), minus derived lightning buffers, in bf16."""
    model.save_pretrained(tmp, safe_serialization=True)
    tensors = {}
    for f in sorted(os.listdir(tmp)):
        if f.endswith(".safetensors"):
            tensors.update(load_file(os.path.join(tmp, f)))
    tensors = {k: v for k, v in tensors.items() if not k.endswith(DECAY_BUFFERS)}
    with open(os.path.join(tmp, "config.json")) as f:
        cfg = json.load(f)
    return {k: (v.to(torch.bfloat16) if v.is_floating_point() else v) for k, v in tensors.items()}, cfg


def fused_tensors(model):
    """The runtime (fused-expert) state dict, as transformers 5 holds it."""
    sd = model.state_dict()
    return {k: v.to(torch.bfloat16) for k, v in sd.items() if not k.endswith(DECAY_BUFFERS)}


# ------------------------------------------------------------------------------------------------
# FP8 (e4m3, 128x128 block scales) and MXFP4 encoders for the released-layout variants


def fp8_block_quant(w, block=128):
    rows, cols = w.shape
    br, bc = math.ceil(rows / block), math.ceil(cols / block)
    scale = torch.zeros(br, bc)
    q = torch.zeros(rows, cols, dtype=torch.float8_e4m3fn)
    for i in range(br):
        for j in range(bc):
            blk = w[i * block:(i + 1) * block, j * block:(j + 1) * block]
            s = blk.abs().max().clamp(min=1e-12) / 448.0
            scale[i, j] = s
            q[i * block:(i + 1) * block, j * block:(j + 1) * block] = (blk / s).to(torch.float8_e4m3fn)
    deq = q.float()
    for i in range(br):
        for j in range(bc):
            deq[i * block:(i + 1) * block, j * block:(j + 1) * block] *= scale[i, j]
    return q, scale, deq


FP4_VALUES = torch.tensor([0, 0.5, 1, 1.5, 2, 3, 4, 6, -0.0, -0.5, -1, -1.5, -2, -3, -4, -6])


def mxfp4_quant(w):
    """w: (rows, cols) -> blocks (rows, G, 16) u8, scales (rows, G) u8, dequantized (rows, cols)."""
    rows, cols = w.shape
    G = cols // 32
    g = w.reshape(rows, G, 32)
    amax = g.abs().amax(dim=-1).clamp(min=1e-30)
    e = torch.ceil(torch.log2(amax / 6.0)).clamp(-127, 127)
    scales = (e + 127).to(torch.uint8)
    scaled = g / torch.pow(2.0, e)[..., None]
    codes = (scaled[..., None] - FP4_VALUES).abs().argmin(dim=-1)  # (rows, G, 32)
    codes = torch.where((codes == 8), torch.zeros_like(codes), codes)  # -0 -> +0
    deq = FP4_VALUES[codes] * torch.pow(2.0, e)[..., None]
    lo, hi = codes[..., 0::2], codes[..., 1::2]
    blocks = (lo | (hi << 4)).to(torch.uint8)
    return blocks, scales, deq.reshape(rows, cols)


def make_m2_fp8(out_dir, gen):
    cfg = MiniMaxM2Config(
        vocab_size=V, hidden_size=160, num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1,
        head_dim=64, intermediate_size=144, num_local_experts=4, num_experts_per_tok=2, rms_norm_eps=1e-6,
        max_position_embeddings=256, bos_token_id=1, eos_token_id=2, pad_token_id=0, tie_word_embeddings=False,
        rope_parameters={"rope_type": "default", "rope_theta": 5e6, "partial_rotary_factor": 0.5},
    )
    model = AutoModelForCausalLM.from_config(cfg, dtype=torch.float32, attn_implementation="eager").eval()
    randomize(model, gen)
    tensors, cfg_dict = saved_tensors(model, "/tmp/m2fp8")
    out = {}
    for k, v in tensors.items():
        quantize = k.endswith(".weight") and v.dim() == 2 and ("self_attn" in k and "norm" not in k or ".experts." in k)
        if quantize:
            q, s, _ = fp8_block_quant(v.float())
            out[k] = q
            out[k.replace(".weight", ".weight_scale_inv")] = s
        elif "gate.weight" in k or "e_score_correction_bias" in k:
            out[k] = v.float()
        else:
            out[k] = v
    # load the dequantized weights back into the model for the reference
    deq = {}
    for k, v in out.items():
        if k.endswith("_scale_inv"):
            continue
        if v.dtype == torch.float8_e4m3fn:
            s = out[k.replace(".weight", ".weight_scale_inv")]
            w = v.float()
            for i in range(s.shape[0]):
                for j in range(s.shape[1]):
                    w[i * 128:(i + 1) * 128, j * 128:(j + 1) * 128] *= s[i, j]
            deq[k] = w
        else:
            deq[k] = v.float()
    save_file(deq, "/tmp/m2fp8/model.safetensors")
    for f in os.listdir("/tmp/m2fp8"):
        if f.endswith(".safetensors") and f != "model.safetensors":
            os.remove(os.path.join("/tmp/m2fp8", f))
    ref = AutoModelForCausalLM.from_pretrained("/tmp/m2fp8", dtype=torch.float32, attn_implementation="eager").eval()
    tokens = [1] + torch.randint(3, V, (T - 1,), generator=gen).tolist()
    logits, greedy = reference(ref, tokens)
    cfg_dict["quantization_config"] = {
        "quant_method": "fp8", "fmt": "float8_e4m3fn", "activation_scheme": "dynamic",
        "weight_block_size": [128, 128], "modules_to_not_convert": ["gate", "e_score_correction_bias", "lm_head"],
    }
    write_fixture(out_dir, "minimax_m2_fp8", cfg_dict, out, tokens, logits, greedy, "released-fp8")


def make_gpt_oss_mxfp4(out_dir, model, cfg_dict, gen):
    sd = model.state_dict()
    out = {}
    with torch.no_grad():
        for k, v in sd.items():
            if k.endswith("experts.gate_up_proj") or k.endswith("experts.down_proj"):
                E = v.shape[0]
                blocks, scales = [], []
                for e in range(E):
                    w = v[e].float().t().contiguous()  # runtime [in, out] -> checkpoint [out, in]
                    b, s, deq = mxfp4_quant(w)
                    blocks.append(b)
                    scales.append(s)
                    v[e].copy_(deq.t())
                out[k + "_blocks"] = torch.stack(blocks)
                out[k + "_scales"] = torch.stack(scales)
            else:
                out[k] = v.to(torch.bfloat16)
    tokens = [1] + torch.randint(3, V, (T - 1,), generator=gen).tolist()
    logits, greedy = reference(model, tokens)
    cfg = dict(cfg_dict)
    cfg["quantization_config"] = {
        "quant_method": "mxfp4",
        "modules_to_not_convert": ["model.layers.*.self_attn", "model.layers.*.mlp.router", "model.embed_tokens", "lm_head"],
    }
    write_fixture(out_dir, "gpt_oss_mxfp4", cfg, out, tokens, logits, greedy, "released-mxfp4")


def main():
    out_dir = sys.argv[1]
    os.makedirs(out_dir, exist_ok=True)
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(1234)
    for name, cfg in configs().items():
        model = AutoModelForCausalLM.from_config(cfg, dtype=torch.float32, attn_implementation="eager").eval()
        randomize(model, gen)
        tokens = [1] + torch.randint(3, V, (T - 1,), generator=gen).tolist()
        logits, greedy = reference(model, tokens)
        tensors, cfg_dict = saved_tensors(model, f"/tmp/{name}")
        write_fixture(out_dir, name, cfg_dict, tensors, tokens, logits, greedy, "hf-saved")
        if name == "qwen3_moe":
            write_fixture(out_dir, "qwen3_moe_fused", cfg_dict, fused_tensors(model), tokens, logits, greedy, "fused")
        if name == "gpt_oss":
            make_gpt_oss_mxfp4(out_dir, model, cfg_dict, gen)
    make_m2_fp8(out_dir, gen)


if __name__ == "__main__":
    main()
