"""Repeated backward passes give bit-identical vertex gradients with several CPU threads.

A vertex shared by several faces receives the sum of their gradients; the summation order must not
depend on thread scheduling, or a training run (and a resumed one) stops being reproducible.
"""

from __future__ import annotations

import torch

from mesh_renderer import OrthographicCamera, render_mouth_video
from mesh_renderer.normals import vertex_normals
from mesh_renderer.synthetic import lip_sheets


def _threads(n: int):
    class _Ctx:
        def __enter__(self):
            self.before = torch.get_num_threads()
            torch.set_num_threads(n)

        def __exit__(self, *exc):
            torch.set_num_threads(self.before)

    return _Ctx()


def _grad(fn, x0: torch.Tensor) -> torch.Tensor:
    x = x0.clone().requires_grad_(True)
    out = fn(x)
    weights = torch.linspace(-1.0, 1.0, out.numel(), dtype=out.dtype).reshape(out.shape)
    (out * weights).sum().backward()
    assert x.grad is not None
    return x.grad.clone()


def test_render_mouth_video_gradient_is_reproducible_with_two_threads() -> None:
    v, f, lips = lip_sheets(rows=12, cols=16, opening=0.12)
    frames = 10
    steps = torch.arange(frames * v.shape[0] * 3, dtype=torch.float32)
    wobble = 0.01 * torch.sin(steps).reshape(frames, -1, 3)
    seq = (v.expand(frames, -1, -1) + wobble)[None]
    cam = OrthographicCamera(scale=0.4)

    def render(x: torch.Tensor) -> torch.Tensor:
        return render_mouth_video(x, f, lips, cam, fps_in=30.0)

    with _threads(2):
        ref = _grad(render, seq)
        assert float(ref.abs().sum()) > 0
        for _ in range(8):
            assert torch.equal(_grad(render, seq), ref)


def test_vertex_normals_gradient_is_reproducible_with_two_threads() -> None:
    v, f, _ = lip_sheets(rows=30, cols=40, opening=0.1)
    x0 = v.expand(15, -1, -1) + 0.01 * torch.cos(torch.arange(15 * v.shape[0] * 3.0)).reshape(15, -1, 3)
    with _threads(2):
        ref = _grad(lambda x: vertex_normals(x, f), x0)
        for _ in range(20):
            assert torch.equal(_grad(lambda x: vertex_normals(x, f), x0), ref)


def _backward_nodes(t: torch.Tensor) -> set[str]:
    seen, names, stack = set(), set(), [t.grad_fn]
    while stack:
        node = stack.pop()
        if node is None or node in seen:
            continue
        seen.add(node)
        names.add(type(node).__name__)
        stack.extend(n for n, _ in node.next_functions)
    return names


def test_normals_gather_vertices_without_accumulating_index_put() -> None:
    # The backward of advanced indexing (IndexBackward0) is an accumulating index_put, which PyTorch
    # runs with atomic float adds on several CPU threads (summation order = thread timing). The
    # normals gather the corners of every face, so a vertex's gradient sums over its faces there.
    v, f, _ = lip_sheets(rows=4, cols=5)
    x = v.expand(2, -1, -1).clone().requires_grad_(True)
    nodes = _backward_nodes(vertex_normals(x, f))
    assert "IndexBackward0" not in nodes
    assert "IndexSelectBackward0" in nodes
