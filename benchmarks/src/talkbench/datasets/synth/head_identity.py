"""Speakers' neutral heads on ``synth-head-v2`` from MakeHuman's identity modifiers.

A speaker draws, from its own random generator:

* gender ``g ~ U(0, 1)`` (1 = male), age ``a ~ U(0, 0.5)`` (0 = young adult, 1 = old) and an ethnic
  mix ``p ~ Dirichlet(1, 1, 1)`` over African, Asian, Caucasian, combined as MakeHuman's macro
  modifiers combine them (weights that sum to 1):
  ``sum_e p_e [(1 - a)(g M_e,young + (1 - g) F_e,young) + a (g M_e,old + (1 - g) F_e,old)]``;
* one signed coefficient ``c ~ N(0, 0.3)``, clipped to ``[-0.6, 0.6]``, per detail modifier pair
  (head fat and scale, nose size, position and hump, mouth width and lip volumes, chin, brows,
  forehead, cheeks; the left and right cheek share theirs, so faces stay symmetric): ``c > 0``
  applies the pair's second target with weight ``c``, ``c < 0`` the first with weight ``-c``
  (at ``|c| = 1`` a single modifier such as ``mouth-scale-horiz`` narrows the mouth by 9 mm, and
  with an ethnic mix that does the same, mouths of 31 mm came out);

The teeth and the tongue follow the identity rigidly, translated by the mean offset of the lips:
the face units were authored on the base mesh, whose lower lip rests 4 mm from the upper incisors'
edge; with their own macro offsets that distance grows to 8-10 mm on every MakeHuman adult (the
macro targets push the lips 3-5 mm further forward than the teeth), and /f v/ could no longer bring
the lip to the teeth. Then the head is translated so that the midpoint of its eyeball centres stays
at the origin (the macro modifiers also change body height, which would otherwise move the whole head).
"""

from __future__ import annotations

import numpy as np

from .head import HeadMesh

__all__ = ["head_identity_shape", "identity_weights"]

_ETHNIC = ("african", "asian", "caucasian")


def _detail_pairs(names: tuple[str, ...]) -> list[tuple[str, str]]:
    """(negative, positive) target names of the detail modifiers: consecutive names in the extract."""
    detail = [n for n in names if not n.startswith("macrodetails/")]
    return [(detail[i], detail[i + 1]) for i in range(0, len(detail), 2)]


def _symmetric_key(name: str) -> str:
    group, _, stem = name.partition("/")
    return f"{group}/{stem[2:]}" if stem.startswith(("l-", "r-")) else name


def identity_weights(head: HeadMesh, rng: np.random.Generator) -> np.ndarray:
    """``float64 (K,)`` weights of ``head.identity_basis`` for one speaker (module docstring)."""
    names = head.identity_names
    w = np.zeros(len(names))
    g = rng.uniform(0.0, 1.0)
    a = rng.uniform(0.0, 0.5)
    p = rng.dirichlet(np.ones(len(_ETHNIC)))
    for e, pe in zip(_ETHNIC, p):
        for gender, wg in (("male", g), ("female", 1.0 - g)):
            for age, wa in (("young", 1.0 - a), ("old", a)):
                w[names.index(f"macrodetails/{e}-{gender}-{age}")] = pe * wg * wa
    pairs = _detail_pairs(names)
    keys = list(dict.fromkeys(_symmetric_key(neg) for neg, _ in pairs))
    coef = dict(zip(keys, np.clip(0.3 * rng.standard_normal(len(keys)), -0.6, 0.6)))
    for neg, pos in pairs:
        c = coef[_symmetric_key(neg)]
        w[names.index(pos if c > 0 else neg)] = abs(c)
    return w


def head_identity_shape(head: HeadMesh, rng: np.random.Generator) -> np.ndarray:
    """A speaker's neutral head ``float32 (V, 3)``: the template plus its identity modifiers, eyes
    re-centred at the origin."""
    w = identity_weights(head, rng)
    delta = np.tensordot(w, head.identity_basis.astype(np.float64), axes=1)
    lips = head.part("lips")
    for part in ("upper_teeth", "lower_teeth", "tongue"):
        delta[head.part(part)] = delta[lips].mean(axis=0)
    out = head.vertices.astype(np.float64) + delta
    eyes = np.concatenate([head.part("left_eye"), head.part("right_eye")])
    out -= out[eyes].mean(axis=0) - head.vertices[eyes].astype(np.float64).mean(axis=0)
    return out.astype(np.float32)
