"""CTC prefix scoring (Watanabe et al. 2017, "Hybrid CTC/attention architecture for end-to-end
speech recognition", Algorithm 2), vectorised over hypotheses and candidate tokens.

For a prefix ``h`` over frames t = 0 … T−1 with frame log-probabilities ``x_t(·)`` (blank id 0)
keep ``r_t^n(h)`` (paths ending in the last label of h) and ``r_t^b(h)`` (ending in blank). For
``g = h·c``, with ``φ_t = r_t^n(h) ⊕ r_t^b(h)`` (⊕ = log-add) — or ``φ_t = r_t^b(h)`` when ``c``
repeats the last label of ``h``::

    r_0^n(g) = x_0(c) if h is empty else −∞,        r_0^b(g) = −∞
    r_t^n(g) = (r_{t−1}^n(g) ⊕ φ_{t−1}) + x_t(c),    r_t^b(g) = (r_{t−1}^n(g) ⊕ r_{t−1}^b(g)) + x_t(blank)
    ψ(g) = r_0^n(g) ⊕ ⊕_{t≥1} (φ_{t−1} + x_t(c))      (log-probability of all paths with prefix g)

and for ``<eos>``: ``ψ(h·eos) = r_{T−1}^n(h) ⊕ r_{T−1}^b(h)`` (the full-sequence probability).
"""

from __future__ import annotations

import torch

NEG_INF = float("-inf")


def initial_state(log_probs: torch.Tensor, blank: int = 0) -> torch.Tensor:
    """State (T, 2) of the empty prefix: r^n = −∞, r^b_t = Σ_{τ≤t} x_τ(blank)."""
    r = torch.full((log_probs.size(0), 2), NEG_INF, dtype=log_probs.dtype, device=log_probs.device)
    r[:, 1] = torch.cumsum(log_probs[:, blank], dim=0)
    return r


def extend(
    log_probs: torch.Tensor,
    states: torch.Tensor,
    last: torch.Tensor,
    candidates: torch.Tensor,
    eos: int,
    blank: int = 0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Prefix scores of every candidate extension.

    Args:
        log_probs: (T, V) frame log-probabilities of one utterance (valid frames only).
        states: (N, T, 2) states of N prefixes.
        last: (N,) last label of each prefix (−1 for the empty prefix).
        candidates: (N, K) candidate token ids.
        eos: the end-of-sentence id, scored as the full-sequence probability.

    Returns:
        ``psi`` (N, K) prefix log-probabilities and the new states (N, K, T, 2).
    """
    t_len = log_probs.size(0)
    n, k = candidates.shape
    xc = log_probs[:, candidates]  # (T, N, K)
    r_n_prev = states[:, :, 0].transpose(0, 1).unsqueeze(-1)  # (T, N, 1)
    r_b_prev = states[:, :, 1].transpose(0, 1).unsqueeze(-1)
    both = torch.logaddexp(r_n_prev, r_b_prev)
    repeat = (candidates == last.unsqueeze(1)).unsqueeze(0)  # (1, N, K)
    phi = torch.where(repeat, r_b_prev.expand(t_len, n, k), both.expand(t_len, n, k))

    empty = (last < 0).view(1, n, 1).expand(1, n, k)
    r_n = torch.full((t_len, n, k), NEG_INF, dtype=log_probs.dtype, device=log_probs.device)
    r_b = torch.full_like(r_n, NEG_INF)
    r_n[0] = torch.where(empty[0], xc[0], torch.full_like(xc[0], NEG_INF))
    blank_lp = log_probs[:, blank]
    for t in range(1, t_len):
        r_n[t] = torch.logaddexp(r_n[t - 1], phi[t - 1]) + xc[t]
        r_b[t] = torch.logaddexp(r_n[t - 1], r_b[t - 1]) + blank_lp[t]
    terms = torch.cat([r_n[:1], phi[:-1] + xc[1:]], dim=0)
    psi = torch.logsumexp(terms, dim=0)
    is_eos = candidates == eos
    if bool(is_eos.any()):
        full = both[-1].expand(n, k)
        psi = torch.where(is_eos, full, psi)
    is_blank = candidates == blank
    psi = psi.masked_fill(is_blank, NEG_INF)
    return psi, torch.stack([r_n, r_b], dim=-1).permute(1, 2, 0, 3)
