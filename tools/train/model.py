"""The student: a small MiniMax-M2-style hybrid MoE, written to compute exactly what WebMoE's CPU
reference (src/reference/forward.ts, attention.ts, moe.ts, ops.ts) computes for the saved config.

Legend: B batch, T tokens, D hidden, V vocab, Hq/Hkv heads, hd head_dim, E experts, K top-k, I expert width.

  x = embed[tokens]                                                        (B, T, D)
  per layer (layer_types[l] is full_attention or sliding_attention):
    h = RMSNorm(x; input_layernorm)                     RMSNorm(x) = w * x / sqrt(mean(x^2) + eps)
    q = RMSNorm(Wq h; q_norm over all Hq*hd)  k = RMSNorm(Wk h; k_norm over all Hkv*hd)  v = Wv h
    RoPE (NeoX halves (i, i + r/2) over the first r = partial_rotary_factor*hd dims of each head),
      theta and r from rope_parameters[layer_type]
    causal GQA softmax attention, scale 1/sqrt(hd); sliding layers: key j visible iff i-W < j <= i
    x = x + Wo o
    h2 = RMSNorm(x; post_attention_layernorm)
    s = sigmoid(Wg h2) (E); chosen = top-K of s + e_score_correction_bias (selection only);
    w = s[chosen] / sum(s[chosen]); x = x + sum_k w_k W2_k (silu(W1_k h2) * W3_k h2)
  logits = lm_head RMSNorm(x; norm)                                        (B, T, V)

Training runs every expert on every token and masks with the routing weights (two GEMMs of width
E*I): exact, no token dropping, and fast for experts this small. The selection bias is not trained
by gradients: `update_bias` nudges it toward balanced load after each step (DeepSeek-V3's
auxiliary-loss-free balancing), using the counts the last forward pass recorded.
"""

import json
import math

import torch
import torch.nn.functional as F

FULL, SLIDING = "full_attention", "sliding_attention"


def default_config(**kw):
    cfg = dict(
        vocab_size=512,
        hidden_size=192,
        intermediate_size=160,
        num_hidden_layers=6,
        num_attention_heads=6,
        num_key_value_heads=2,
        head_dim=32,
        num_local_experts=16,
        num_experts_per_tok=2,
        layer_types=[SLIDING, SLIDING, FULL, SLIDING, SLIDING, FULL],
        sliding_window=128,
        rope_parameters={
            FULL: {"rope_type": "default", "rope_theta": 100000.0, "partial_rotary_factor": 0.5},
            SLIDING: {"rope_type": "default", "rope_theta": 10000.0, "partial_rotary_factor": 0.5},
        },
        rms_norm_eps=1e-5,
        max_position_embeddings=512,
    )
    cfg.update(kw)
    return cfg


def hf_config(cfg):
    """config.json for the saved checkpoint (HF field names; the adapter reads exactly these)."""
    out = {
        "architectures": ["MiniMaxM2ForCausalLM"],
        "model_type": "minimax_m2",
        **cfg,
        "scoring_func": "sigmoid",
        "use_routing_bias": True,
        "use_qk_norm": True,
        "qk_norm_type": "per_layer",
        "routed_scaling_factor": 1.0,
        "shared_intermediate_size": 0,
        "hidden_act": "silu",
        "tie_word_embeddings": False,
        "bos_token_id": 1,
        "eos_token_id": 2,
        "pad_token_id": 0,
        "dtype": "bfloat16",
    }
    return out


def rms(x, w, eps):
    xf = x.float()
    return (w.float() * (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps))).to(x.dtype)


class Rope(torch.nn.Module):
    def __init__(self, p, hd, max_len):
        super().__init__()
        r = round(hd * p.get("partial_rotary_factor", 1.0))
        self.r = r
        inv = 1.0 / (float(p["rope_theta"]) ** (torch.arange(0, r, 2, dtype=torch.float64) / r))
        inv = inv.float()  # the reference rounds inverse frequencies to f32
        ang = torch.arange(max_len, dtype=torch.float32)[:, None] * inv[None, :]  # (S, r/2), f32 like the reference
        self.register_buffer("cos", torch.cos(ang.double()).float(), persistent=False)
        self.register_buffer("sin", torch.sin(ang.double()).float(), persistent=False)

    def forward(self, x, pos0=0):
        # x: (B, H, T, hd)
        T = x.shape[2]
        half = self.r // 2
        c = self.cos[pos0 : pos0 + T].to(x.dtype)  # (T, r/2)
        s = self.sin[pos0 : pos0 + T].to(x.dtype)
        a, b, rest = x[..., :half], x[..., half : self.r], x[..., self.r :]
        return torch.cat((a * c - b * s, b * c + a * s, rest), dim=-1)


class Attention(torch.nn.Module):
    def __init__(self, cfg, layer_type):
        super().__init__()
        D, hd, Hq, Hkv = cfg["hidden_size"], cfg["head_dim"], cfg["num_attention_heads"], cfg["num_key_value_heads"]
        self.hd, self.Hq, self.Hkv, self.eps = hd, Hq, Hkv, cfg["rms_norm_eps"]
        self.q_proj = torch.nn.Linear(D, Hq * hd, bias=False)
        self.k_proj = torch.nn.Linear(D, Hkv * hd, bias=False)
        self.v_proj = torch.nn.Linear(D, Hkv * hd, bias=False)
        self.o_proj = torch.nn.Linear(Hq * hd, D, bias=False)
        self.q_norm = torch.nn.Parameter(torch.ones(Hq * hd))
        self.k_norm = torch.nn.Parameter(torch.ones(Hkv * hd))
        self.window = cfg["sliding_window"] if layer_type == SLIDING else None
        self.rope = Rope(cfg["rope_parameters"][layer_type], hd, cfg["max_position_embeddings"])

    def mask(self, T, device):
        i = torch.arange(T, device=device)[:, None]
        j = torch.arange(T, device=device)[None, :]
        m = j <= i
        if self.window is not None:
            m = m & (j > i - self.window)
        return m  # (T, T) True = visible

    def forward(self, h):
        B, T, _ = h.shape
        q = rms(self.q_proj(h), self.q_norm, self.eps).view(B, T, self.Hq, self.hd).transpose(1, 2)  # (B, Hq, T, hd)
        k = rms(self.k_proj(h), self.k_norm, self.eps).view(B, T, self.Hkv, self.hd).transpose(1, 2)  # (B, Hkv, T, hd)
        v = self.v_proj(h).view(B, T, self.Hkv, self.hd).transpose(1, 2)
        q, k = self.rope(q), self.rope(k)
        rep = self.Hq // self.Hkv
        k = k.repeat_interleave(rep, dim=1)
        v = v.repeat_interleave(rep, dim=1)
        m = self.mask(T, h.device)
        sdpa = getattr(F, "scaled_dot_product_attention", None)
        if sdpa is not None and h.is_cuda:
            o = sdpa(q, k, v, attn_mask=m)
        else:
            att = (q @ k.transpose(-1, -2)) * (1.0 / math.sqrt(self.hd))
            o = att.masked_fill(~m, float("-inf")).softmax(-1) @ v
        return self.o_proj(o.transpose(1, 2).reshape(B, T, self.Hq * self.hd))


class Moe(torch.nn.Module):
    def __init__(self, cfg):
        super().__init__()
        D, I, E = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_local_experts"]
        self.D, self.I, self.E, self.K = D, I, E, cfg["num_experts_per_tok"]
        self.gate = torch.nn.Linear(D, E, bias=False)  # router
        self.register_buffer("e_score_correction_bias", torch.zeros(E))
        self.w1 = torch.nn.Parameter(torch.empty(E, I, D))  # gate_proj of each expert
        self.w3 = torch.nn.Parameter(torch.empty(E, I, D))  # up_proj
        self.w2 = torch.nn.Parameter(torch.empty(E, D, I))  # down_proj
        self.register_buffer("load", torch.zeros(E), persistent=False)

    def route(self, h2):
        """h2 (N, D) -> chosen (N, K), weights (N, K) in f32."""
        scores = torch.sigmoid(F.linear(h2.float(), self.gate.weight.float()))  # (N, E)
        chosen = torch.topk(scores.detach() + self.e_score_correction_bias, self.K, dim=-1).indices  # (N, K)
        w = scores.gather(-1, chosen)
        return chosen, w / w.sum(-1, keepdim=True)

    def forward(self, h2):
        B, T, D = h2.shape
        x = h2.reshape(-1, D)  # (N, D)
        chosen, w = self.route(x)
        if self.training:
            self.load += torch.bincount(chosen.flatten(), minlength=self.E).float()
        dense_w = torch.zeros(x.shape[0], self.E, device=x.device, dtype=w.dtype).scatter(-1, chosen, w)  # (N, E)
        E, I = self.E, self.I
        g = x @ self.w1.reshape(E * I, D).t()  # (N, E*I)
        u = x @ self.w3.reshape(E * I, D).t()
        a = (F.silu(g) * u).view(-1, E, I) * dense_w.to(g.dtype)[:, :, None]  # (N, E, I)
        y = a.reshape(-1, E * I) @ self.w2.permute(0, 2, 1).reshape(E * I, D)  # (N, D)
        return y.view(B, T, D)

    @torch.no_grad()
    def update_bias(self, rate):
        if self.load.sum() > 0:
            self.e_score_correction_bias += rate * torch.sign(self.load.mean() - self.load)
        self.load.zero_()


class Layer(torch.nn.Module):
    def __init__(self, cfg, layer_type):
        super().__init__()
        D = cfg["hidden_size"]
        self.eps = cfg["rms_norm_eps"]
        self.input_layernorm = torch.nn.Parameter(torch.ones(D))
        self.post_attention_layernorm = torch.nn.Parameter(torch.ones(D))
        self.self_attn = Attention(cfg, layer_type)
        self.block_sparse_moe = Moe(cfg)

    def forward(self, x):
        x = x + self.self_attn(rms(x, self.input_layernorm, self.eps))
        return x + self.block_sparse_moe(rms(x, self.post_attention_layernorm, self.eps))


class Student(torch.nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        D, V = cfg["hidden_size"], cfg["vocab_size"]
        self.embed_tokens = torch.nn.Embedding(V, D)
        self.layers = torch.nn.ModuleList(Layer(cfg, t) for t in cfg["layer_types"])
        self.norm = torch.nn.Parameter(torch.ones(D))
        self.lm_head = torch.nn.Linear(D, V, bias=False)
        self.init_weights()

    def init_weights(self, std=0.02):
        L = self.cfg["num_hidden_layers"]
        for name, p in self.named_parameters():
            if p.dim() >= 2:
                s = std / math.sqrt(2 * L) if name.endswith(("o_proj.weight", ".w2")) else std
                torch.nn.init.normal_(p, 0.0, s)

    def forward(self, tokens):
        x = self.embed_tokens(tokens)  # (B, T, D)
        for layer in self.layers:
            x = layer(x)
        return self.lm_head(rms(x, self.norm, self.cfg["rms_norm_eps"]))  # (B, T, V)

    def update_bias(self, rate):
        for layer in self.layers:
            layer.block_sparse_moe.update_bias(rate)

    def param_counts(self):
        c = self.cfg
        D, I, E, K, L = c["hidden_size"], c["intermediate_size"], c["num_local_experts"], c["num_experts_per_tok"], c["num_hidden_layers"]
        total = sum(p.numel() for p in self.parameters()) + L * E  # + selection biases
        expert = 3 * D * I
        active = total - L * (E - K) * expert - self.embed_tokens.weight.numel()  # embedding is a lookup
        return {"total": total, "active_per_token": active, "experts_total": L * E * expert}

    # ---- checkpoint (HF names, per-expert released layout) --------------------------------------

    def hf_state_names(self):
        """{HF tensor name: (live tensor, expert index or None)}: the per-expert released layout."""
        out = {
            "model.embed_tokens.weight": (self.embed_tokens.weight, None),
            "model.norm.weight": (self.norm, None),
            "lm_head.weight": (self.lm_head.weight, None),
        }
        for l, layer in enumerate(self.layers):
            p = f"model.layers.{l}."
            a, m = layer.self_attn, layer.block_sparse_moe
            out[p + "input_layernorm.weight"] = (layer.input_layernorm, None)
            out[p + "post_attention_layernorm.weight"] = (layer.post_attention_layernorm, None)
            for n in ("q_proj", "k_proj", "v_proj", "o_proj"):
                out[p + f"self_attn.{n}.weight"] = (getattr(a, n).weight, None)
            out[p + "self_attn.q_norm.weight"] = (a.q_norm, None)
            out[p + "self_attn.k_norm.weight"] = (a.k_norm, None)
            out[p + "block_sparse_moe.gate.weight"] = (m.gate.weight, None)
            out[p + "block_sparse_moe.e_score_correction_bias"] = (m.e_score_correction_bias, None)
            for e in range(m.E):
                for n in ("w1", "w2", "w3"):  # w1 = gate (I, D), w3 = up (I, D), w2 = down (D, I)
                    out[p + f"block_sparse_moe.experts.{e}.{n}.weight"] = (getattr(m, n), e)
        return out

    def hf_state(self):
        """{HF tensor name: f32 CPU tensor}"""
        return {k: (t if i is None else t[i]).detach().float().cpu().contiguous() for k, (t, i) in self.hf_state_names().items()}

    @torch.no_grad()
    def load_hf_state(self, sd):
        names = self.hf_state_names()
        missing = set(names) - set(sd)
        assert not missing, f"missing tensors: {sorted(missing)[:5]}"
        for k, (t, i) in names.items():
            (t if i is None else t[i]).copy_(sd[k].to(t.dtype))


def save_config(cfg, path):
    with open(path, "w") as f:
        json.dump(hf_config(cfg), f, indent=1)
