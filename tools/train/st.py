"""Minimal safetensors read/write (F32, BF16) with torch tensors, so the tools run without the
safetensors package: 8-byte little-endian header length, JSON header, then the raw tensors."""

import json
import struct

import torch

_DT = {"F32": (torch.float32, 4), "BF16": (torch.bfloat16, 2)}
_NAME = {torch.float32: "F32", torch.bfloat16: "BF16"}


def save(tensors, path, metadata=None):
    header, blobs, off = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        dt = _NAME[t.dtype]
        raw = (t.view(torch.int16) if t.dtype == torch.bfloat16 else t).numpy().tobytes()
        header[name] = {"dtype": dt, "shape": list(t.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    if metadata:
        header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def load(path):
    """{name: f32 tensor}"""
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack_from("<Q", data, 0)
    header = json.loads(data[8 : 8 + n])
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype, size = _DT[info["dtype"]]
        a, b = info["data_offsets"]
        buf = bytearray(data[8 + n + a : 8 + n + b])
        if dtype == torch.bfloat16:
            t = torch.frombuffer(buf, dtype=torch.int16).view(torch.bfloat16)
        else:
            t = torch.frombuffer(buf, dtype=torch.float32)
        out[name] = t.reshape(info["shape"]).float()
    return out
