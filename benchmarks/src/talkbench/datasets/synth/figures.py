"""Figures of the synthetic face for the data card (matplotlib ``Poly3DCollection``, Lambert shading)."""

from __future__ import annotations

import os

import numpy as np

from .coarticulation import TARGETS
from .face import MOUTH_Y, build_face
from .motion import MOOD_EXPRESSIONS
from .rig import CHANNELS, EXPRESSION_CHANNELS, SPEECH_CHANNELS, build_rig

__all__ = ["draw_mesh", "save_expression_figure", "save_template_figure", "save_viseme_figure"]

_LIGHT = np.array([0.25, 0.35, 1.0]) / np.linalg.norm([0.25, 0.35, 1.0])


def draw_mesh(
    ax,
    vertices: np.ndarray,
    faces: np.ndarray,
    centre: np.ndarray,
    radius: float,
    title: str = "",
    highlight: list[tuple[np.ndarray, tuple[float, float, float]]] | None = None,
    edges: bool = True,
) -> None:
    """Draw a frontal, shaded view of a mesh on a 3-D matplotlib axis."""
    import matplotlib.pyplot as plt
    from mpl_toolkits.mplot3d.art3d import Poly3DCollection

    tri = vertices[faces]
    normal = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    normal /= np.linalg.norm(normal, axis=1, keepdims=True) + 1e-12
    shade = np.clip(normal @ _LIGHT, 0.0, 1.0) * 0.8 + 0.15
    colours = plt.cm.gray(shade)
    for mask, rgb in highlight or []:
        sel = np.isin(faces, mask).all(axis=1)
        colours[sel, :3] = colours[sel, :3] * 0.4 + np.asarray(rgb) * 0.6 * shade[sel, None]
    ax.add_collection3d(
        Poly3DCollection(
            tri[:, :, [0, 2, 1]],
            facecolors=colours,
            edgecolors=(0, 0, 0, 0.12 if edges else 0.0),
            linewidths=0.15,
        )
    )
    ax.set_xlim(centre[0] - radius, centre[0] + radius)
    ax.set_ylim(centre[2] - radius, centre[2] + radius)
    ax.set_zlim(centre[1] - radius, centre[1] + radius)
    ax.view_init(elev=4, azim=-90)
    ax.set_box_aspect((1, 1, 1))
    ax.set_axis_off()
    ax.set_facecolor("black")
    ax.set_title(title, fontsize=9, color="white")


def _figure(n: int, size: float = 2.6):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(size * n, size * 1.05), facecolor="black")
    return fig, [fig.add_subplot(1, n, i + 1, projection="3d") for i in range(n)]


def save_template_figure(path: str | os.PathLike[str]) -> None:
    """Template, its ``lips`` (red) and ``upper_face`` (blue) regions, and a close-up of the mouth."""
    face = build_face()
    fig, axes = _figure(3, 3.2)
    centre = np.array([0.0, -0.005, 0.03])
    draw_mesh(
        axes[0], face.vertices, face.faces, centre, 0.11, f"synth-face-v1 ({face.num_vertices} vertices)"
    )
    draw_mesh(
        axes[1],
        face.vertices,
        face.faces,
        centre,
        0.11,
        "lips / upper_face",
        highlight=[(face.region("lips"), (0.9, 0.2, 0.2)), (face.region("upper_face"), (0.2, 0.4, 0.9))],
    )
    draw_mesh(
        axes[2],
        face.vertices,
        face.faces,
        np.array([0.0, MOUTH_Y, 0.05]),
        0.035,
        f"mouth ({len(face.mouth_triangles())} triangles)",
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110, facecolor="black")


def save_viseme_figure(
    path: str | os.PathLike[str], visemes: tuple[str, ...] = ("sil", "PP", "FF", "aa", "E", "ih", "oh", "ou")
) -> None:
    """Mouth close-ups of the rig at the coarticulation targets of several viseme classes."""
    face, rig = build_face(), build_rig()
    fig, axes = _figure(len(visemes), 2.0)
    for ax, vis in zip(axes, visemes):
        params = np.zeros((1, len(CHANNELS)), dtype=np.float32)
        params[0, : len(SPEECH_CHANNELS)] = TARGETS[vis][: len(SPEECH_CHANNELS)]
        v = rig.apply(face.vertices, params)[0]
        draw_mesh(ax, v, face.faces, np.array([0.0, MOUTH_Y - 0.004, 0.05]), 0.034, vis)
    fig.tight_layout()
    fig.savefig(path, dpi=110, facecolor="black")


def save_expression_figure(path: str | os.PathLike[str]) -> None:
    """The full face at each mood's expression (the text attribute's effect on the upper face)."""
    face, rig = build_face(), build_rig()
    moods = tuple(MOOD_EXPRESSIONS)
    fig, axes = _figure(len(moods), 2.4)
    ex0 = len(SPEECH_CHANNELS)
    for ax, mood in zip(axes, moods):
        params = np.zeros((1, len(CHANNELS)), dtype=np.float32)
        params[0, ex0 : ex0 + len(EXPRESSION_CHANNELS)] = MOOD_EXPRESSIONS[mood]
        params[0, CHANNELS.index("lip_close")] = 0.55
        v = rig.apply(face.vertices, params)[0]
        draw_mesh(ax, v, face.faces, np.array([0.0, 0.02, 0.03]), 0.065, mood, edges=False)
    fig.tight_layout()
    fig.savefig(path, dpi=110, facecolor="black")
