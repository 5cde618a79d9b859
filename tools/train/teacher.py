"""stories260K, the teacher: llama2.c's legacy v0 checkpoint as a PyTorch module, with a batched
KV-cache sampler.

File: 7 x int32 header (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len; a
negative vocab_size means an unshared classifier), then f32 arrays in this order:
  tok_emb (V, D), rms_att (L, D), wq (L, Hq*hs, D), wk (L, Hkv*hs, D), wv (L, Hkv*hs, D),
  wo (L, D, Hq*hs), rms_ffn (L, D), w1 (L, F, D), w2 (L, D, F), w3 (L, F, D), rms_final (D),
  freq_cis_real (S, hs/2), freq_cis_imag (S, hs/2) [, wcls (V, D)]
Math (llama2.c model.py): RMSNorm eps 1e-5; RoPE on interleaved pairs (2i, 2i+1) with the file's
cos/sin tables; GQA causal attention; SwiGLU FFN; logits = RMSNorm(x) @ tok_emb^T.
"""

import struct

import numpy as np
import torch
import torch.nn.functional as F

BOS = 1


class Teacher(torch.nn.Module):
    def __init__(self, path):
        super().__init__()
        with open(path, "rb") as f:
            data = f.read()
        D, Fh, L, Hq, Hkv, V, S = struct.unpack_from("<7i", data, 0)
        shared = V > 0
        V = abs(V)
        self.D, self.F, self.L, self.Hq, self.Hkv, self.V, self.S = D, Fh, L, Hq, Hkv, V, S
        hs = D // Hq
        self.hs = hs
        arr = np.frombuffer(data, dtype="<f4", offset=28)
        off = 0

        def take(*shape):
            nonlocal off
            n = int(np.prod(shape))
            t = torch.from_numpy(arr[off : off + n].copy()).reshape(shape)
            off += n
            return t

        P = torch.nn.Parameter
        self.tok_emb = P(take(V, D), requires_grad=False)
        self.rms_att = P(take(L, D), requires_grad=False)
        self.wq = P(take(L, Hq * hs, D), requires_grad=False)
        self.wk = P(take(L, Hkv * hs, D), requires_grad=False)
        self.wv = P(take(L, Hkv * hs, D), requires_grad=False)
        self.wo = P(take(L, D, Hq * hs), requires_grad=False)
        self.rms_ffn = P(take(L, D), requires_grad=False)
        self.w1 = P(take(L, Fh, D), requires_grad=False)
        self.w2 = P(take(L, D, Fh), requires_grad=False)
        self.w3 = P(take(L, Fh, D), requires_grad=False)
        self.rms_final = P(take(D), requires_grad=False)
        self.register_buffer("cos", take(S, hs // 2))  # (S, hs/2)
        self.register_buffer("sin", take(S, hs // 2))
        self.wcls = self.tok_emb if shared else P(take(V, D), requires_grad=False)
        assert off == arr.size, f"{path}: {arr.size - off} floats left over"

    @staticmethod
    def _norm(x, w):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5) * w

    def _rope(self, x, pos0):
        # x: (B, T, H, hs); rotate interleaved pairs (2i, 2i+1)
        T = x.shape[1]
        c = self.cos[pos0 : pos0 + T].view(1, T, 1, -1)
        s = self.sin[pos0 : pos0 + T].view(1, T, 1, -1)
        xr, xi = x[..., 0::2], x[..., 1::2]
        return torch.stack((xr * c - xi * s, xr * s + xi * c), dim=-1).flatten(-2)

    def forward(self, tokens, cache=None, pos0=0):
        """tokens (B, T) -> logits (B, T, V). cache: list of [k, v] (B, Hkv, S, hs) filled at pos0.."""
        B, T = tokens.shape
        hs, Hq, Hkv = self.hs, self.Hq, self.Hkv
        x = self.tok_emb[tokens]  # (B, T, D)
        for l in range(self.L):
            h = self._norm(x, self.rms_att[l])
            q = self._rope((h @ self.wq[l].T).view(B, T, Hq, hs), pos0).transpose(1, 2)  # (B, Hq, T, hs)
            k = self._rope((h @ self.wk[l].T).view(B, T, Hkv, hs), pos0).transpose(1, 2)  # (B, Hkv, T, hs)
            v = (h @ self.wv[l].T).view(B, T, Hkv, hs).transpose(1, 2)
            if cache is not None:
                cache[l][0][:, :, pos0 : pos0 + T] = k
                cache[l][1][:, :, pos0 : pos0 + T] = v
                k = cache[l][0][:, :, : pos0 + T]
                v = cache[l][1][:, :, : pos0 + T]
            rep = Hq // Hkv
            k = k.repeat_interleave(rep, dim=1)
            v = v.repeat_interleave(rep, dim=1)
            att = (q @ k.transpose(-1, -2)) / (hs**0.5)  # (B, Hq, T, pos0+T)
            Tk = k.shape[2]
            mask = torch.arange(Tk, device=x.device)[None, :] <= (torch.arange(T, device=x.device)[:, None] + pos0)
            att = att.masked_fill(~mask, float("-inf")).softmax(-1)
            o = (att @ v).transpose(1, 2).reshape(B, T, Hq * hs)
            x = x + o @ self.wo[l].T
            h = self._norm(x, self.rms_ffn[l])
            x = x + (F.silu(h @ self.w1[l].T) * (h @ self.w3[l].T)) @ self.w2[l].T
        return self._norm(x, self.rms_final) @ self.wcls.T

    def new_cache(self, B, device):
        return [[torch.zeros(B, self.Hkv, self.S, self.hs, device=device) for _ in range(2)] for _ in range(self.L)]

    @torch.no_grad()
    def sample(self, B, T, temperature=1.0, generator=None, device="cpu", first=None):
        """B rows of T+1 tokens: BOS (or `first`) then T sampled tokens (greedy when temperature == 0).
        Stories follow each other inside a row, BOS-separated, as in llama2.c's training stream."""
        assert T + 1 <= self.S
        out = torch.empty(B, T + 1, dtype=torch.long, device=device)
        out[:, 0] = BOS if first is None else first
        cache = self.new_cache(B, device)
        for t in range(T):
            logits = self.forward(out[:, t : t + 1], cache, pos0=t)[:, -1].float()
            if temperature == 0:
                nxt = logits.argmax(-1)
            else:
                probs = torch.softmax(logits / temperature, -1)
                nxt = torch.multinomial(probs, 1, generator=generator).squeeze(-1)
            out[:, t + 1] = nxt
        return out
