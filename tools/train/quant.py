"""WebMoE's q8/q4 codecs (src/format/quant.ts) simulated exactly in torch, to measure the shipped
quantization: per row, groups of 32 input columns, s = f16(f32(absmax / qmax)) (round to nearest
even), q = clamp(round_half_even(w / s), -qmax, qmax), w' = q * s. qmax = 127 (q8) or 7 (q4).
Computed in f64 as the TypeScript codec does. The package keeps experts at q4, the dense matrices
(embeddings, lm_head, q/k/v/o) at q8, and norms, router and biases in f32 (src/format/pack.ts)."""

import torch

QMAX = {"q8": 127, "q4": 7}
GROUP = 32


def fake_quant(w, kind):
    """w (rows, cols) -> dequantized (rows, cols) f32, as our package decodes it."""
    if kind == "f32":
        return w.float().clone()
    qmax = QMAX[kind]
    rows, cols = w.shape
    cp = (cols + GROUP - 1) // GROUP * GROUP
    x = torch.zeros(rows, cp, dtype=torch.float64, device=w.device)
    x[:, :cols] = w.double()
    g = x.view(rows, cp // GROUP, GROUP)
    amax = g.abs().amax(-1, keepdim=True)
    s = (amax / qmax).float().half().double()  # f32ToF16(absmax / qmax)
    inv = torch.where(s > 0, 1.0 / s, torch.zeros_like(s))
    q = torch.round(g * inv).clamp(-qmax, qmax)  # ties to even, as quant.ts
    return (q * s).view(rows, cp)[:, :cols].float()


def quantize_state(sd, expert_quant="q4", dense_quant="q8"):
    """An HF state dict (name -> f32) with the package's quantization applied."""
    out = {}
    for k, v in sd.items():
        if ".experts." in k:
            out[k] = fake_quant(v, expert_quant)
        elif v.dim() == 2 and (k.endswith(("q_proj.weight", "k_proj.weight", "v_proj.weight", "o_proj.weight")) or k in ("model.embed_tokens.weight", "lm_head.weight")):
            out[k] = fake_quant(v, dense_quant)
        else:
            out[k] = v.clone()
    return out
