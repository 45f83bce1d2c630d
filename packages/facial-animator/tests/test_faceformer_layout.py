"""FaceFormer state_dict layout, parameter counts and official-checkpoint loading.

The expected keys and shapes are written out from the reference table of the official
``vocaset.pth`` / ``biwi.pth`` (baselines.md §2.2), independently of the model code.
"""

from __future__ import annotations

import pytest
import torch

from facial_animator import build_animator
from facial_animator.models.faceformer import FaceFormer


def official_layout(d: int, v3: int, subjects: int, ppe_len: int) -> dict[str, tuple[int, ...]]:
    a = "audio_encoder."
    keys: dict[str, tuple[int, ...]] = {a + "masked_spec_embed": (768,)}
    fe = a + "feature_extractor.conv_layers."
    keys[fe + "0.conv.weight"] = (512, 1, 10)
    keys[fe + "0.layer_norm.weight"] = (512,)
    keys[fe + "0.layer_norm.bias"] = (512,)
    for i in (1, 2, 3, 4):
        keys[fe + f"{i}.conv.weight"] = (512, 512, 3)
    for i in (5, 6):
        keys[fe + f"{i}.conv.weight"] = (512, 512, 2)
    fp = a + "feature_projection."
    keys.update({fp + "layer_norm.weight": (512,), fp + "layer_norm.bias": (512,),
                 fp + "projection.weight": (768, 512), fp + "projection.bias": (768,)})
    en = a + "encoder."
    keys.update({en + "pos_conv_embed.conv.bias": (768,), en + "pos_conv_embed.conv.weight_g": (1, 1, 128),
                 en + "pos_conv_embed.conv.weight_v": (768, 48, 128),
                 en + "layer_norm.weight": (768,), en + "layer_norm.bias": (768,)})
    for i in range(12):
        p = en + f"layers.{i}."
        for proj in ("q_proj", "k_proj", "v_proj", "out_proj"):
            keys[p + f"attention.{proj}.weight"] = (768, 768)
            keys[p + f"attention.{proj}.bias"] = (768,)
        for norm in ("layer_norm", "final_layer_norm"):
            keys[p + f"{norm}.weight"] = (768,)
            keys[p + f"{norm}.bias"] = (768,)
        keys[p + "feed_forward.intermediate_dense.weight"] = (3072, 768)
        keys[p + "feed_forward.intermediate_dense.bias"] = (3072,)
        keys[p + "feed_forward.output_dense.weight"] = (768, 3072)
        keys[p + "feed_forward.output_dense.bias"] = (768,)
    keys.update({"audio_feature_map.weight": (d, 768), "audio_feature_map.bias": (d,),
                 "vertice_map.weight": (d, v3), "vertice_map.bias": (d,), "PPE.pe": (1, ppe_len, d)})
    dl = "transformer_decoder.layers.0."
    for attn in ("self_attn", "multihead_attn"):
        keys[dl + f"{attn}.in_proj_weight"] = (3 * d, d)
        keys[dl + f"{attn}.in_proj_bias"] = (3 * d,)
        keys[dl + f"{attn}.out_proj.weight"] = (d, d)
        keys[dl + f"{attn}.out_proj.bias"] = (d,)
    keys.update({dl + "linear1.weight": (2 * d, d), dl + "linear1.bias": (2 * d,),
                 dl + "linear2.weight": (d, 2 * d), dl + "linear2.bias": (d,)})
    for n in (1, 2, 3):
        keys[dl + f"norm{n}.weight"] = (d,)
        keys[dl + f"norm{n}.bias"] = (d,)
    keys.update({"vertice_map_r.weight": (v3, d), "vertice_map_r.bias": (v3,)})
    keys["obj_vector.weight"] = (d, subjects)
    return keys


LAYOUTS = {
    "vocaset": official_layout(64, 15069, 8, 630),
    "biwi": official_layout(128, 70110, 6, 625),
}
# trainable / total parameters in millions (baselines.md §2.1)
COUNTS = {"vocaset": (92.2, 96.4), "biwi": (108.5, 112.7)}


@pytest.mark.parametrize("dataset", ["vocaset", "biwi"])
def test_state_dict_keys_and_shapes_equal_official(dataset):
    expected = LAYOUTS[dataset]
    assert len(expected) == 237
    with torch.device("meta"):
        model = build_animator("faceformer", dataset=dataset)
    got = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert set(got) == set(expected), (set(got) ^ set(expected))
    assert got == expected


@pytest.mark.parametrize("dataset", ["vocaset", "biwi"])
def test_parameter_counts_match_reference(dataset):
    with torch.device("meta"):
        model = build_animator("faceformer", dataset=dataset)
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad) / 1e6
    total = sum(p.numel() for p in model.parameters()) / 1e6
    assert (round(trainable, 1), round(total, 1)) == COUNTS[dataset]


def test_zero_initialised_output_layer_and_bias_free_style():
    model = FaceFormer("vocaset", num_vertices=10, audio_encoder="logmel")
    assert torch.count_nonzero(model.vertice_map_r.weight) == 0
    assert torch.count_nonzero(model.vertice_map_r.bias) == 0
    assert model.obj_vector.bias is None


@pytest.mark.parametrize("dataset", ["vocaset", "biwi"])
def test_official_checkpoint_loads_strictly(dataset, tmp_path):
    torch.manual_seed(0)
    # random small tensors, a distinct constant per large one (fast to write and to compare)
    state = {
        k: torch.randn(shape) if torch.Size(shape).numel() < 10**6 else torch.full(shape, 0.5 + i / 1000)
        for i, (k, shape) in enumerate(LAYOUTS[dataset].items())
    }
    path = tmp_path / f"{dataset}.pth"
    torch.save(state, path)
    with torch.device("meta"):  # no weight initialisation: the checkpoint provides every tensor
        model = FaceFormer(dataset, max_seq_len=1200)  # a longer PPE buffer than the checkpoint's
    model.load_official_checkpoint(path)
    loaded = model.state_dict()
    assert all(t.device.type == "cpu" for t in loaded.values())
    for key, value in state.items():
        assert torch.equal(loaded[key].flatten()[::101], value.flatten()[::101]), key
    del loaded
    reloaded = state
    # torch's parametrized weight-norm names load too
    renamed = dict(reloaded)
    prefix = "audio_encoder.encoder.pos_conv_embed.conv."
    renamed[prefix + "parametrizations.weight.original0"] = renamed.pop(prefix + "weight_g")
    renamed[prefix + "parametrizations.weight.original1"] = renamed.pop(prefix + "weight_v")
    model.load_state_dict(renamed, strict=True)
    prefix = "audio_encoder.encoder.pos_conv_embed.conv."
    assert torch.equal(model.state_dict()[prefix + "weight_v"], reloaded[prefix + "weight_v"])


def test_checkpoint_errors_name_the_problem(tmp_path):
    model = FaceFormer("vocaset", num_vertices=5, audio_encoder="logmel")
    with pytest.raises(FileNotFoundError, match="not found"):
        model.load_official_checkpoint(tmp_path / "missing.pth")
    state = model.state_dict()
    state["obj_vector.weight"] = torch.zeros(64, 6)
    torch.save(state, tmp_path / "wrong_subjects.pth")
    with pytest.raises(ValueError, match="num_styles"):
        model.load_official_checkpoint(tmp_path / "wrong_subjects.pth")
    state = model.state_dict()
    state.pop("obj_vector.weight")
    state["extra.weight"] = torch.zeros(1)
    torch.save(state, tmp_path / "partial.pth")
    with pytest.raises(ValueError, match=r"missing keys \['obj_vector.weight'\].*unexpected keys \['extra"):
        model.load_official_checkpoint(tmp_path / "partial.pth")
