import numpy as np
import pytest
import torch

from mesh_renderer import (
    FIXED_CROPS,
    MouthCrop,
    OrthographicCamera,
    lip_sheets,
    locate_mouth,
    mouth_window_offsets,
    render_mouth_video,
    resample_matrix,
    resampled_length,
    temporal_resample,
    to_lipreader_input,
)


def test_resampled_length_by_hand():
    assert resampled_length(30, 30, 25) == 25  # frames at 0 .. 29/30 s -> 25 fps times 0 .. 24/25 s
    assert resampled_length(31, 30, 25) == 26  # 30/30 s = 1 s is also an output time
    assert resampled_length(25, 25, 25) == 25
    assert resampled_length(1, 30, 25) == 1


def test_resample_exact_on_linear_signals_and_differentiable():
    t_in = torch.arange(61, dtype=torch.float64) / 30.0
    a = torch.tensor([0.3, -1.2], dtype=torch.float64)
    b = torch.tensor([2.0, 0.5], dtype=torch.float64)
    x = (a + b * t_in[:, None]).unsqueeze(0).requires_grad_(True)  # (1, T, 2) linear in time
    y = temporal_resample(x, 30.0, 25.0, dim=1)
    t_out = torch.arange(y.shape[1], dtype=torch.float64) / 25.0
    torch.testing.assert_close(y[0], a + b * t_out[:, None])
    y.sum().backward()
    # every output frame draws weight 1 in total, so the input gradient sums to the output count
    assert x.grad.sum().item() == pytest.approx(2 * y.shape[1])


def test_resample_matrix_rows_by_hand():
    m = resample_matrix(4, 30.0, 25.0)  # u_j = 1.2 j: 0, 1.2, 2.4
    expected = torch.tensor([[1, 0, 0, 0], [0, 0.8, 0.2, 0], [0, 0, 0.6, 0.4]])
    torch.testing.assert_close(m, expected)


def test_lipreader_normalisation_by_hand():
    img = torch.zeros(1, 2, 4, 4, 4)
    img[..., 0], img[..., 1], img[..., 2] = 0.2, 0.6, 1.0
    out = to_lipreader_input(img)
    gray = 0.2989 * 0.2 + 0.587 * 0.6 + 0.114 * 1.0
    assert out.shape == (1, 2, 1, 4, 4)
    assert out[0, 0, 0, 0, 0].item() == pytest.approx((gray - 0.421) / 0.165, rel=1e-5)
    out4 = to_lipreader_input(img, MouthCrop.av_guidance())
    assert out4[0, 0, 0, 0, 0].item() == pytest.approx((gray - 0.421) / 0.4, rel=1e-5)


def test_locate_mouth_and_window_offsets_by_hand():
    cam = OrthographicCamera(scale=1.0, image_size=224)
    v = torch.zeros(1, 2, 4, 3)
    v[0, 0, :, :2] = torch.tensor([[-0.2, -0.3], [0.2, -0.3], [0.0, -0.2], [0.5, 0.5]])
    v[0, 1, :, :2] = v[0, 0, :, :2] + torch.tensor([0.1, 0.0])
    lips = [0, 1, 2]
    per_frame = locate_mouth(v, lips, cam, per="frame")
    # bbox centre x 0 (frame 0), 0.1 (frame 1); y -0.25 -> pixel 112 + 0.25 * 112 = 140
    torch.testing.assert_close(per_frame[0], torch.tensor([[112.0, 140.0], [123.2, 140.0]]))
    seq = locate_mouth(v, lips, cam)
    torch.testing.assert_close(seq[0, 0], torch.tensor([117.6, 140.0]))
    off = mouth_window_offsets(torch.tensor([117.6, 140.0]))
    # 96 box from round(117.6 - 48) = 70 (col), round(140 - 48) = 92 (row); the centre 88 starts 4 further
    assert off.tolist() == [96, 74]
    # the AV-guidance BIWI crop rows 107:203, cols 68:164 is the box of centre (116, 155)
    assert tuple((mouth_window_offsets(torch.tensor([116.0, 155.0])) - 4).tolist()) == FIXED_CROPS["biwi"]
    with pytest.raises(ValueError, match="lip_indices must lie in"):
        locate_mouth(v, [0, 9], cam)


def test_render_mouth_video_shape_and_content():
    v, f, lips = lip_sheets(rows=8, cols=12, opening=0.12)
    seq = v.expand(2, 9, -1, -1)
    out = render_mouth_video(seq, f, lips, OrthographicCamera(scale=0.4), fps_in=30.0)
    assert out.shape == (2, resampled_length(9, 30, 25), 1, 88, 88)
    gray = out[0, 0, 0] * 0.165 + 0.421
    # mouth opening (black background) in the middle, lit lips above and below
    assert gray[44, 44].item() < 0.05
    assert gray[30, 44].item() > 0.5 and gray[58, 44].item() > 0.5


def test_chunked_rendering_matches_and_backend_errors():
    v, f, lips = lip_sheets(rows=6, cols=10, opening=0.1)
    seq = v.expand(1, 5, -1, -1) + 0.02 * torch.arange(5.0).view(1, 5, 1, 1)
    cam = OrthographicCamera(scale=0.4)
    whole = render_mouth_video(seq, f, lips, cam, fps_in=25.0, per="frame")
    chunked = render_mouth_video(seq, f, lips, cam, fps_in=25.0, per="frame", chunk_frames=2)
    torch.testing.assert_close(chunked, whole)
    with pytest.raises(ValueError, match="chunk_frames"):
        render_mouth_video(seq, f, lips, cam, fps_in=25.0, chunk_frames=0)
    with pytest.raises(ValueError, match=r"\(B, T, V, 3\)"):
        render_mouth_video(seq[0], f, lips, cam, fps_in=25.0)


def test_render_mouth_video_real_biwi_topology(biwi, golden):
    verts, faces, lips = biwi
    seq = verts.expand(1, 2, -1, -1)
    out = render_mouth_video(seq, faces, lips, OrthographicCamera.preset("biwi"), fps_in=25.0)
    assert out.shape == (1, 2, 1, 88, 88)
    gray = (out[0, 0, 0] * 0.165 + 0.421).clamp(0, 1)
    golden("biwi_mouth_88", (gray * 255).round().to(torch.uint8).numpy())
    # the lip-region box spans nose to chin: the face fills the crop down to the chin outline
    assert float((gray[:60] > 0.3).float().mean()) > 0.97
    assert float((gray[-4:] < 0.05).float().mean()) > 0.9
    assert np.isfinite(out.numpy()).all()


def _biwi_mouth(biwi, **kwargs):
    verts, faces, lips = biwi
    cam = OrthographicCamera.preset("biwi", image_size=224)
    seq = verts.expand(3, -1, -1)[None].clone()
    return render_mouth_video(seq, faces, lips, cam, fps_in=25.0, fps_out=25.0, faces_per_pixel=2, **kwargs)


def test_constant_vertex_colours_equal_the_default_albedo(biwi):
    grey = torch.full((biwi[0].shape[0], 3), 180 / 255)
    torch.testing.assert_close(_biwi_mouth(biwi, vertex_colors=grey), _biwi_mouth(biwi), atol=1e-5, rtol=0)
    dark_lips = grey.clone()
    dark_lips[biwi[2]] = 0.2
    assert _biwi_mouth(biwi, vertex_colors=dark_lips).mean() < _biwi_mouth(biwi).mean() - 0.05
    with pytest.raises(ValueError, match="vertex_colors must have shape"):
        _biwi_mouth(biwi, vertex_colors=grey[:10])


def test_culling_back_faces_keeps_what_the_camera_sees(biwi):
    # a real head seen from the front: back faces lie behind front faces, so the mouth crop is the same
    # wherever a front face covers the pixel; only the soft fringe of silhouettes may differ
    full, culled = _biwi_mouth(biwi), _biwi_mouth(biwi, cull_backfaces=True)
    same = (full - culled).abs() < 1e-4
    assert same.float().mean() > 0.97
    verts, faces, _ = biwi
    cam = OrthographicCamera.preset("biwi", image_size=224)
    screen = cam(verts[None])[0]
    a, b, c = (screen[faces[:, i], :2] for i in range(3))
    area2 = (b - a)[:, 0] * (c - a)[:, 1] - (c - a)[:, 0] * (b - a)[:, 1]
    assert (area2 > 0).float().mean() > 0.02  # there is something to cull (4 % of BIWI faces away)
