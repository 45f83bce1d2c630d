"""The papers and official code behind the leaderboard's rows: links for the reported rows and the
model table. Keys are the names the rows use (a reported row's ``method``, an animator's registry
name); only papers whose arXiv record and official repository are known are listed."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["PAPERS", "Paper", "paper_for"]


@dataclass(frozen=True)
class Paper:
    """A paper: short citation, its arXiv page and its official code (``None``: none published)."""

    citation: str
    url: str
    code: str | None


PAPERS: dict[str, Paper] = {
    "VOCA": Paper("Cudeiro et al., CVPR 2019", "https://arxiv.org/abs/1905.03079",
                  "https://github.com/TimoBolkart/voca"),
    "MeshTalk": Paper("Richard et al., ICCV 2021", "https://arxiv.org/abs/2104.08223",
                      "https://github.com/facebookresearch/meshtalk"),
    "FaceFormer": Paper("Fan et al., CVPR 2022", "https://arxiv.org/abs/2112.05329",
                        "https://github.com/EvelynFan/FaceFormer"),
    "CodeTalker": Paper("Xing et al., CVPR 2023", "https://arxiv.org/abs/2301.02379",
                        "https://github.com/Doubiiu/CodeTalker"),
    "SelfTalk": Paper("Peng et al., ACM MM 2023", "https://arxiv.org/abs/2306.10799",
                      "https://github.com/psyai-net/SelfTalk_release"),
    "Joint audio-text": Paper("Fan et al., 2022", "https://arxiv.org/abs/2112.02214", None),
    "AV guidance": Paper("Han et al., Interspeech 2024", "https://arxiv.org/abs/2407.01034",
                         "https://github.com/kaist-ami/3d-talking-head-av-guidance"),
    "phonetic loss": Paper("Kim & Kim, Interspeech 2025", "https://arxiv.org/abs/2507.20568",
                           "https://github.com/kimhyungkyu-1208/interspeech25"),
}
#: animator registry names → their paper (the conv regressor is the project's own reference model)
_REGISTRY = {"faceformer": "FaceFormer", "codetalker": "CodeTalker", "joint_audio_text": "Joint audio-text"}


def paper_for(name: str) -> Paper | None:
    """The paper of a reported method name or an animator registry name, if listed."""
    return PAPERS.get(name) or PAPERS.get(_REGISTRY.get(name, ""))
