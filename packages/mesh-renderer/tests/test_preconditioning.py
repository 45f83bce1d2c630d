"""Laplacian gradient preconditioning (Nicolet et al. 2021) against hand-worked and numpy truths."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from mesh_renderer import LaplacianPreconditioner, uniform_laplacian

# a unit square split along the diagonal 0-2: edges 01, 12, 20, 23, 30 (the diagonal shared once)
SQUARE_FACES = torch.tensor([[0, 1, 2], [0, 2, 3]])
SQUARE_LAPLACIAN = np.array(
    [
        [3, -1, -1, -1],
        [-1, 2, -1, 0],
        [-1, -1, 3, -1],
        [-1, 0, -1, 2],
    ],
    dtype=np.float64,
)


def test_uniform_laplacian_of_two_triangles_by_hand() -> None:
    np.testing.assert_array_equal(uniform_laplacian(SQUARE_FACES, 4).to_dense().numpy(), SQUARE_LAPLACIAN)


def test_isolated_vertex_has_a_zero_row() -> None:
    lap = uniform_laplacian(SQUARE_FACES, 5).to_dense().numpy()
    np.testing.assert_array_equal(lap[4], 0)
    np.testing.assert_array_equal(lap[:, 4], 0)


def test_bad_faces_are_refused() -> None:
    with pytest.raises(ValueError, match=r"\[0, 4\)"):
        uniform_laplacian(torch.tensor([[0, 1, 4]]), 4)
    with pytest.raises(ValueError, match=r"\(F, 3\)"):
        uniform_laplacian(torch.tensor([0, 1, 2]), 4)
    with pytest.raises(ValueError, match="strength"):
        LaplacianPreconditioner(SQUARE_FACES, 4, -1.0)
    with pytest.raises(ValueError, match="method"):
        LaplacianPreconditioner(SQUARE_FACES, 4, 1.0, method="qr")  # type: ignore[arg-type]


@pytest.mark.parametrize("method", ["direct", "cg"])
@pytest.mark.parametrize("strength", [0.5, 4.0])
def test_backward_solves_the_sobolev_system(strength: float, method: str) -> None:
    gen = torch.Generator().manual_seed(0)
    vertices = torch.randn(2, 3, 4, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    weights = torch.randn(2, 3, 4, 3, generator=gen, dtype=torch.float64)
    pre = LaplacianPreconditioner(SQUARE_FACES, 4, strength, method=method)
    out = pre(vertices)
    # forward: the identity
    torch.testing.assert_close(out, vertices, rtol=0, atol=0)
    (out * weights).sum().backward()
    system = np.eye(4) + strength * SQUARE_LAPLACIAN
    expected = np.einsum("ij,btjc->btic", np.linalg.inv(system), weights.numpy())
    np.testing.assert_allclose(vertices.grad.numpy(), expected, rtol=1e-6, atol=1e-8)


def test_rigid_translation_gradient_passes_unchanged() -> None:
    # L·1 = 0, so (I + λL)⁻¹ maps a gradient that is the same on every vertex to itself
    vertices = torch.zeros(1, 4, 3, requires_grad=True)
    direction = torch.tensor([0.3, -1.0, 2.0])
    (LaplacianPreconditioner(SQUARE_FACES, 4, 10.0)(vertices) * direction).sum().backward()
    torch.testing.assert_close(vertices.grad, direction.expand(1, 4, 3), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("method", ["direct", "cg"])
def test_spike_is_spread_over_the_mesh_and_stays_a_descent_direction(biwi, method: str) -> None:
    verts, faces, lips = biwi
    n = verts.shape[0]
    pre = LaplacianPreconditioner(faces, n, 20.0, method=method)
    x = verts[None].clone().requires_grad_(True)
    spike = torch.zeros(1, n, 3)
    spike[0, int(lips[0]), 2] = 1.0
    (pre(x) * spike).sum().backward()
    g = x.grad[0, :, 2]
    # a single spike becomes a bump: the centre keeps well under half, its ring neighbours get a share
    ring = faces[(faces == int(lips[0])).any(dim=1)].unique()
    neighbours = ring[ring != int(lips[0])]
    assert 0 < float(g[int(lips[0])]) < 0.5
    assert bool((g[neighbours] > 0).all())
    # descent direction: <g, P g> > 0; total "mass" is preserved (1ᵀ(I+λL)⁻¹ = 1ᵀ)
    assert float((spike[0, :, 2] * g).sum()) > 0
    assert float(g.sum()) == pytest.approx(1.0, rel=1e-4)


def test_strength_zero_and_no_grad_are_identities() -> None:
    vertices = torch.randn(1, 4, 3, requires_grad=True)
    assert LaplacianPreconditioner(SQUARE_FACES, 4, 0.0)(vertices) is vertices
    frozen = torch.randn(1, 4, 3)
    assert LaplacianPreconditioner(SQUARE_FACES, 4, 1.0)(frozen) is frozen
    with pytest.raises(ValueError, match=r"\(\.\.\., 4, 3\)"):
        LaplacianPreconditioner(SQUARE_FACES, 4, 1.0)(torch.zeros(1, 5, 3, requires_grad=True))


def test_direct_and_conjugate_gradient_solves_agree_on_the_real_topology(biwi) -> None:
    verts, faces, _ = biwi
    n = verts.shape[0]
    grad = torch.randn(2, n, 3, generator=torch.Generator().manual_seed(1))
    direct = LaplacianPreconditioner(faces, n, 50.0, method="direct").solve(grad)
    cg = LaplacianPreconditioner(faces, n, 50.0, method="cg", tol=1e-8).solve(grad)
    torch.testing.assert_close(cg, direct, rtol=1e-4, atol=1e-5 * float(direct.abs().max()))


def test_float32_gradients_are_solved_in_single_precision_to_float_accuracy(biwi) -> None:
    verts, faces, _ = biwi
    n = verts.shape[0]
    grad = torch.randn(3, n, 3, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    pre = LaplacianPreconditioner(faces, n, 50.0, method="direct")
    double = pre.solve(grad)
    single = pre.solve(grad.float())
    assert single.dtype == torch.float32 and double.dtype == torch.float64
    assert set(pre._lu) == {np.float32, np.float64}  # one factorisation per precision, kept
    scale = float(double.abs().max())
    torch.testing.assert_close(single.double(), double, rtol=1e-4, atol=1e-5 * scale)
