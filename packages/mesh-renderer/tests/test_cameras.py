import math

import pytest
import torch

from mesh_renderer import OrthographicCamera, PerspectiveCamera


def test_orthographic_preset_maps_points_by_hand():
    cam = OrthographicCamera.preset("vocaset")  # s = 8, 224 x 224
    pts = torch.tensor([[0.0, 0.0, 0.0], [0.1, 0.05, 0.02]])
    out = cam(pts)
    # origin -> image centre, depth 10; (0.1, 0.05): X = 0.8, Y = 0.4 -> px 112 + 0.8 * 112,
    # py 112 - 0.4 * 112
    expected = torch.tensor([[112.0, 112.0, 10.0], [201.6, 67.2, 10.0 - 8 * 0.02]])
    torch.testing.assert_close(out, expected)


def test_biwi_preset_and_translation():
    cam = OrthographicCamera(scale=1.6, translation=(0.1, -0.2), image_size=(100, 200))
    out = cam(torch.tensor([[0.0, 0.0, 0.5]]))
    # X = 1.6 * 0.1 = 0.16, Y = 1.6 * -0.2 = -0.32; NDC unit = min(100, 200) / 2 = 50 pixels
    torch.testing.assert_close(out, torch.tensor([[100 + 0.16 * 50, 50 + 0.32 * 50, 10 - 0.8]]))
    assert OrthographicCamera.preset("biwi").scale == 1.6


def test_perspective_projection_by_hand():
    cam = PerspectiveCamera(fov=90.0, distance=2.0, image_size=224)  # f = 1
    out = cam(torch.tensor([[0.5, -0.25, 1.0]]))  # depth = 1 -> X = 0.5, Y = -0.25
    torch.testing.assert_close(out, torch.tensor([[112 + 56.0, 112 + 28.0, 1.0]]))
    cam60 = PerspectiveCamera(fov=60.0, distance=3.0, image_size=100)
    f = 1 / math.tan(math.radians(30))
    out = cam60(torch.tensor([[0.3, 0.0, 0.0]]))
    assert out[0, 0].item() == pytest.approx(50 + f * 0.1 * 50, rel=1e-5)


def test_camera_errors():
    with pytest.raises(ValueError, match="unknown camera preset"):
        OrthographicCamera.preset("flame")
    with pytest.raises(ValueError, match="fov"):
        PerspectiveCamera(fov=0.0)
    with pytest.raises(ValueError, match=r"\(\.\.\., V, 3\)"):
        OrthographicCamera()(torch.zeros(4, 2))
