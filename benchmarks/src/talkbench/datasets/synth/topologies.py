"""The protocols of the synthetic corpus and the face each is generated on (no imports: the config
schema reads it).

``synth`` is the corpus on the procedural face ``synth-face-v1``; ``synth-head`` the same corpus
(speakers, sentences, splits, random draws) on the CC0 human head ``synth-head-v2``. A protocol
fixes its topology, as ``facial_metrics``' protocols do, so results on the two faces never mix.
"""

from __future__ import annotations

__all__ = ["SYNTH_PROTOCOLS", "TOPOLOGIES", "synth_protocol_of"]

#: protocol -> topology of the synthetic corpus
SYNTH_PROTOCOLS: dict[str, str] = {"synth": "synth-face-v1", "synth-head": "synth-head-v2"}
#: the faces a synthetic corpus can be generated on
TOPOLOGIES: tuple[str, ...] = tuple(SYNTH_PROTOCOLS.values())


def synth_protocol_of(topology: str) -> str:
    """The protocol of a synthetic corpus generated on ``topology``."""
    for protocol, face in SYNTH_PROTOCOLS.items():
        if face == topology:
            return protocol
    known = ", ".join(SYNTH_PROTOCOLS.values())
    raise ValueError(f"no synthetic protocol for topology {topology!r}; known: {known}")
