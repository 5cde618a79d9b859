"""Training text: the real TinyStories train excerpt as a story stream, and rows for the student.

The excerpt separates stories by a single newline and paragraphs by a blank line. The student's
stream is story EOS story EOS ...; the teacher (trained on BOS-separated stories) reads the same
stream with every EOS as BOS. Rows start with BOS, as the evaluation windows and prompts do.
"""

import re

import torch

BOS, EOS = 1, 2


def stories_of_train_excerpt(text):
    """Stories: split at single newlines (a blank line is a paragraph break inside a story)."""
    return [s.strip() for s in re.split(r"(?<!\n)\n(?!\n)", text) if s.strip()]


def story_stream(tok, stories):
    """-> 1-D long tensor: story EOS story EOS ..."""
    ids = []
    for s in stories:
        ids.extend(tok.encode(s))
        ids.append(EOS)
    return torch.tensor(ids, dtype=torch.long)


def real_rows(stream, n, T, generator, device):
    """n rows of T+1 tokens: BOS + stream[s : s+T] at random offsets s."""
    starts = torch.randint(0, len(stream) - T, (n,), generator=generator)
    idx = starts[:, None] + torch.arange(T)[None, :]
    rows = torch.cat([torch.full((n, 1), BOS, dtype=torch.long), stream[idx]], dim=1)
    return rows.to(device)


def student_view_of_teacher_rows(rows):
    """Teacher samples separate stories by BOS; the student's stream uses EOS after position 0."""
    out = rows.clone()
    body = out[:, 1:]
    body[body == BOS] = EOS
    return out


def teacher_view(rows):
    out = rows.clone()
    out[out == EOS] = BOS
    return out


def swap_bos_eos(logits):
    """Teacher logits -> targets over the student's vocabulary use: its end-of-story mass (BOS)
    goes to EOS and BOS (never a student target) gets the teacher's EOS logit."""
    out = logits.clone()
    out[..., BOS], out[..., EOS] = logits[..., EOS], logits[..., BOS]
    return out
