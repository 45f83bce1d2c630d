"""The AV term alone moves the animator: gradients flow through renderer and expert into its parameters."""

from __future__ import annotations

import numpy as np
import torch

from facial_animator import AnimatorInput
from lipread_expert import CharTokenizer, LipReader
from talkbench.config import GuidanceConfig, RenderConfig, load_config
from talkbench.datasets.synth import build_face
from talkbench.guidance import AVGuidance
from talkbench.renders import input_spec_for
from talkbench.training.animator import build_animator_for


def _setup(seed: int = 0):
    torch.manual_seed(seed)
    config = load_config("smoke")
    face = build_face()
    spec = next(a for a in config.animators if a.registry == "faceformer")
    model = build_animator_for(spec, face.num_vertices, 8, 30.0)
    # FaceFormer zero-initialises its output layer (official code); give it small random weights so
    # that gradients reach the layers below it as well
    torch.nn.init.normal_(model.vertice_map_r.weight, std=1e-4)
    tok = CharTokenizer()
    render: RenderConfig = config.render
    expert = LipReader.from_preset("nano", "audiovisual", tok.vocab_size, input_spec=input_spec_for(render))
    guidance = AVGuidance(
        expert, tok, torch.as_tensor(face.faces), face.region("lips"), render, GuidanceConfig()
    )
    frames = 20
    template = torch.from_numpy(face.vertices.astype(np.float32))
    batch = AnimatorInput(
        audio=torch.randn(1, frames * 16000 // 30) * 0.1,
        template=template[None],
        style=torch.tensor([0]),
        target=template[None, None].repeat(1, frames, 1, 1),
        transcript=["BIN BLUE AT F TWO NOW"],
        fps=30.0,
    )
    return model, guidance, batch


def test_av_term_alone_sends_gradient_into_the_animator() -> None:
    model, guidance, batch = _setup()
    out = model(batch)
    pred = out.vertices
    pred.retain_grad()
    terms = guidance(pred, 30.0, batch.audio, batch.transcript)
    assert torch.isfinite(terms.loss) and terms.loss > 0
    terms.loss.backward()
    # through the renderer: the predicted vertices get a gradient, concentrated on the visible mouth
    g = pred.grad.abs().sum(dim=(0, 1, 3))
    assert g.sum() > 0
    lips = torch.as_tensor(guidance.lip_indices)
    assert g[lips].sum() > 0
    # into the animator: output layer, decoder and audio encoder
    named = dict(model.named_parameters())
    for name in (
        "vertice_map_r.weight",
        "transformer_decoder.layers.0.linear1.weight",
        "audio_feature_map.weight",
    ):
        grad = named[name].grad
        assert grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0, name


def test_one_step_on_the_av_term_alone_changes_the_animator() -> None:
    model, guidance, batch = _setup(1)
    before = {k: v.detach().clone() for k, v in model.named_parameters()}
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    terms = guidance(model(batch).vertices, 30.0, batch.audio, batch.transcript)
    terms.loss.backward()
    opt.step()
    changed = [k for k, v in model.named_parameters() if not torch.equal(v, before[k])]
    assert "vertice_map_r.weight" in changed and "audio_feature_map.weight" in changed


def test_renders_reach_the_expert_at_25_fps() -> None:
    _, guidance, batch = _setup()
    video = guidance.mouth_video(batch.target, 30.0)
    # 20 frames at 30 fps last 2/3 s: 16 frames at 25 fps (mesh_renderer.resampled_length rule: floor + 1)
    from mesh_renderer import resampled_length

    assert video.shape[1] == resampled_length(20, 30.0, 25.0)
    assert video.shape[2:] == (1, 44, 44)


def _laplacian_by_hand(faces: np.ndarray, n: int) -> np.ndarray:
    """D − A of the mesh's edge graph, built with plain loops (independent of mesh_renderer)."""
    adjacency = np.zeros((n, n))
    for a, b, c in faces:
        for i, j in ((a, b), (b, c), (c, a)):
            adjacency[i, j] = adjacency[j, i] = 1.0
    return np.diag(adjacency.sum(1)) - adjacency


def test_smoothing_replaces_the_vertex_gradient_by_the_sobolev_solve() -> None:
    model, raw, batch = _setup(2)
    strength = 5.0
    smooth = AVGuidance(
        raw.expert,
        raw.tokenizer,
        raw.faces,
        raw.lip_indices.numpy(),
        raw.render,
        GuidanceConfig(av_gradient_smoothing=strength),
    )
    raw.expert.eval()  # no dropout: both passes see the same expert
    vertices = model(batch).vertices.detach()
    grads = []
    for guidance in (raw, smooth):
        v = vertices.clone().requires_grad_(True)
        terms = guidance(v, 30.0, batch.audio, batch.transcript)
        grads.append((float(terms.loss.detach()), torch.autograd.grad(terms.loss, v)[0]))
    (loss_raw, g_raw), (loss_smooth, g_smooth) = grads
    assert loss_raw == loss_smooth  # the forward pass is untouched
    faces = raw.faces.numpy()
    n = vertices.shape[2]
    system = np.eye(n) + strength * _laplacian_by_hand(faces, n)
    expected = np.linalg.solve(system, g_raw[0].permute(1, 0, 2).reshape(n, -1).double().numpy())
    got = g_smooth[0].permute(1, 0, 2).reshape(n, -1).double().numpy()
    scale = np.abs(expected).max()
    assert scale > 0
    np.testing.assert_allclose(got, expected, atol=1e-4 * scale)
    # smoother: the high-frequency energy <g, L g> / <g, g> drops
    lap = _laplacian_by_hand(faces, n)
    g0 = g_raw[0].permute(1, 0, 2).reshape(n, -1).double().numpy()

    def roughness(g: np.ndarray) -> float:
        return float(np.sum(g * (lap @ g)) / np.sum(g * g))

    assert roughness(got) < 0.2 * roughness(g0)
