"""Fixtures of the mesh-renderer tests: small scenes and the real BIWI topology."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

GOLDEN_DIR = Path(__file__).parent / "data" / "golden"


def pytest_configure(config: pytest.Config) -> None:
    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))


@pytest.fixture(scope="session")
def biwi(shared_fixtures: Path) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(vertices (V, 3) float32, faces (F, 3) int64, lip ids) of the real BIWI topology and lve.txt."""
    import trimesh

    mesh = trimesh.load(shared_fixtures / "biwi" / "BIWI.ply", process=False)
    lips = np.array(
        [int(s) for s in (shared_fixtures / "biwi" / "lve.txt").read_text().replace(",", " ").split()]
    )
    return (
        torch.tensor(np.asarray(mesh.vertices), dtype=torch.float32),
        torch.tensor(np.asarray(mesh.faces), dtype=torch.int64),
        torch.tensor(lips, dtype=torch.int64),
    )


def compare_golden(name: str, image: np.ndarray, mean_tol: float = 1.0, frac_tol: float = 0.01) -> None:
    """Compare a uint8 image with ``golden/<name>.png``.

    Passes when the mean absolute difference is below ``mean_tol`` grey levels and fewer than ``frac_tol`` of
    the pixels differ by more than 24 levels (edge pixels may flip between platforms). With ``DEBUG=1`` the
    rendered image is written as ``golden/DEBUG_<name>.png``; with ``MESH_RENDERER_UPDATE_GOLDEN=1`` the
    golden file itself is (re)written.
    """
    from PIL import Image

    path = GOLDEN_DIR / f"{name}.png"
    if os.environ.get("DEBUG"):
        Image.fromarray(image).save(GOLDEN_DIR / f"DEBUG_{name}.png")
    if os.environ.get("MESH_RENDERER_UPDATE_GOLDEN"):
        Image.fromarray(image).save(path)
    if not path.is_file():
        raise AssertionError(f"golden image {path} is missing; create it with MESH_RENDERER_UPDATE_GOLDEN=1")
    golden = np.asarray(Image.open(path))
    assert golden.shape == image.shape, f"{name}: shape {image.shape} != golden {golden.shape}"
    diff = np.abs(golden.astype(np.int32) - image.astype(np.int32))
    assert diff.mean() < mean_tol, f"{name}: mean abs difference {diff.mean():.3f} >= {mean_tol}"
    frac = float((diff > 24).mean())
    assert frac < frac_tol, f"{name}: {frac:.4f} of the pixels differ by more than 24 levels"


@pytest.fixture
def golden():
    """The :func:`compare_golden` function."""
    return compare_golden
