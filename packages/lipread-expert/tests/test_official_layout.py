"""Parameter counts, key names and shapes of the ``base`` readers against the official layouts.

The expected keys and shapes are written out here from the reference text (``methods.md`` §2.2–2.8:
module names of auto_avsr @ 8acf580 and the dimensions of the resnet_conformer config), not taken
from the model code. Models are built on the ``meta`` device (no memory is allocated).
"""

from __future__ import annotations

import pytest
import torch

from lipread_expert import (
    LipReader,
    detect_layout,
    load_official_checkpoint,
    load_official_state_dict,
    to_main_layout,
)

ODIM = 5049
D, HEADS, FF, LAYERS, DLAYERS, KERNEL, FUSION = 768, 12, 3072, 12, 6, 31, 8192
CH = (64, 128, 256, 512)

# Official totals (methods.md §2.7 / §2.8).
OFFICIAL_COUNTS = {"video": 250_383_410, "audio": 243_049_202, "audiovisual": 443_977_138}
OFFICIAL_ENTRIES = {"video": 767, "audio": 767, "audiovisual": 1380}


def _bn(prefix: str, c: int) -> dict[str, tuple[int, ...]]:
    return {
        f"{prefix}.weight": (c,), f"{prefix}.bias": (c,), f"{prefix}.running_mean": (c,),
        f"{prefix}.running_var": (c,), f"{prefix}.num_batches_tracked": (),
    }


def _ln(prefix: str) -> dict[str, tuple[int, ...]]:
    return {f"{prefix}.weight": (D,), f"{prefix}.bias": (D,)}


def _linear(prefix: str, out: int, inp: int, bias: bool = True) -> dict[str, tuple[int, ...]]:
    keys = {f"{prefix}.weight": (out, inp)}
    if bias:
        keys[f"{prefix}.bias"] = (out,)
    return keys


def _trunk(prefix: str, kernel: tuple[int, ...]) -> dict[str, tuple[int, ...]]:
    keys: dict[str, tuple[int, ...]] = {}
    cin = CH[0]
    for layer, cout in enumerate(CH, start=1):
        for block in (0, 1):
            p = f"{prefix}.layer{layer}.{block}"
            block_in = cin if block == 0 else cout
            keys[f"{p}.conv1.weight"] = (cout, block_in, *kernel)
            keys.update(_bn(f"{p}.bn1", cout))
            keys[f"{p}.conv2.weight"] = (cout, cout, *kernel)
            keys.update(_bn(f"{p}.bn2", cout))
            if block == 0 and layer > 1:
                keys[f"{p}.downsample.0.weight"] = (cout, block_in, *(1 for _ in kernel))
                keys.update(_bn(f"{p}.downsample.1", cout))
        cin = cout
    return keys


def _encoder(prefix: str, visual: bool) -> dict[str, tuple[int, ...]]:
    keys: dict[str, tuple[int, ...]] = {}
    f = f"{prefix}.frontend"
    if visual:
        keys[f"{f}.frontend3D.0.weight"] = (64, 1, 5, 7, 7)
        keys.update(_bn(f"{f}.frontend3D.1", 64))
        keys.update(_trunk(f"{f}.trunk", (3, 3)))
    else:
        keys[f"{f}.trunk.conv1.weight"] = (64, 1, 80)
        keys.update(_bn(f"{f}.trunk.bn1", 64))
        keys.update(_trunk(f"{f}.trunk", (3,)))
    keys.update(_linear(f"{prefix}.embed.0", D, 512))
    for n in range(LAYERS):
        b = f"{prefix}.encoders.{n}"
        for name in ("linear_q", "linear_k", "linear_v", "linear_out"):
            keys.update(_linear(f"{b}.self_attn.{name}", D, D))
        keys.update(_linear(f"{b}.self_attn.linear_pos", D, D, bias=False))
        keys[f"{b}.self_attn.pos_bias_u"] = (HEADS, D // HEADS)
        keys[f"{b}.self_attn.pos_bias_v"] = (HEADS, D // HEADS)
        for ff in ("feed_forward", "feed_forward_macaron"):
            keys.update(_linear(f"{b}.{ff}.w_1", FF, D))
            keys.update(_linear(f"{b}.{ff}.w_2", D, FF))
        keys[f"{b}.conv_module.pointwise_cov1.weight"] = (2 * D, D, 1)
        keys[f"{b}.conv_module.pointwise_cov1.bias"] = (2 * D,)
        keys[f"{b}.conv_module.depthwise_conv.weight"] = (D, 1, KERNEL)
        keys[f"{b}.conv_module.depthwise_conv.bias"] = (D,)
        keys.update(_bn(f"{b}.conv_module.norm", D))
        keys[f"{b}.conv_module.pointwise_cov2.weight"] = (D, D, 1)
        keys[f"{b}.conv_module.pointwise_cov2.bias"] = (D,)
        for norm in ("norm_ff", "norm_mha", "norm_ff_macaron", "norm_conv", "norm_final"):
            keys.update(_ln(f"{b}.{norm}"))
    keys.update(_ln(f"{prefix}.after_norm"))
    return keys


def _decoder_and_ctc() -> dict[str, tuple[int, ...]]:
    keys: dict[str, tuple[int, ...]] = {"decoder.embed.0.weight": (ODIM, D)}
    for n in range(DLAYERS):
        b = f"decoder.decoders.{n}"
        for att in ("self_attn", "src_attn"):
            for name in ("linear_q", "linear_k", "linear_v", "linear_out"):
                keys.update(_linear(f"{b}.{att}.{name}", D, D))
        keys.update(_linear(f"{b}.feed_forward.w_1", FF, D))
        keys.update(_linear(f"{b}.feed_forward.w_2", D, FF))
        for norm in ("norm1", "norm2", "norm3"):
            keys.update(_ln(f"{b}.{norm}"))
    keys.update(_ln("decoder.after_norm"))
    keys.update(_linear("decoder.output_layer", ODIM, D))
    keys.update(_linear("ctc.ctc_lo", ODIM, D))
    return keys


def expected_8acf580(modality: str) -> dict[str, tuple[int, ...]]:
    keys = _encoder("encoder", visual=modality != "audio")
    if modality == "audiovisual":
        keys.update(_encoder("aux_encoder", visual=False))
        keys.update(_linear("fusion.fc1", FUSION, 2 * D))
        keys.update(_bn("fusion.bn1", FUSION))
        keys.update(_linear("fusion.fc2", D, FUSION))
    keys.update(_decoder_and_ctc())
    return keys


def expected_main(modality: str) -> dict[str, tuple[int, ...]]:
    """Current auto_avsr main: ``frontend.*`` and ``proj_encoder.*`` (methods.md §2.8)."""
    out = {}
    for key, shape in expected_8acf580(modality).items():
        if key.startswith("encoder.frontend."):
            key = key[len("encoder.") :]
        elif key.startswith("encoder.embed.0."):
            key = "proj_encoder." + key[len("encoder.embed.0.") :]
        out[key] = shape
    return out


def _is_parameter(key: str) -> bool:
    return not key.endswith(("running_mean", "running_var", "num_batches_tracked"))


def _count(shapes: dict[str, tuple[int, ...]]) -> int:
    return sum(torch.Size(s).numel() for k, s in shapes.items() if _is_parameter(k))


@pytest.fixture(scope="module", params=["video", "audio", "audiovisual"])
def base_model(request: pytest.FixtureRequest) -> LipReader:
    with torch.device("meta"):
        return LipReader.from_preset("base", request.param, ODIM)


@pytest.mark.parametrize("modality", ["video", "audio", "audiovisual"])
def test_expected_layout_from_reference_adds_up(modality: str) -> None:
    """The key list written here reproduces the reference's counts on its own."""
    shapes = expected_8acf580(modality)
    assert len(shapes) == OFFICIAL_ENTRIES[modality]
    assert _count(shapes) == OFFICIAL_COUNTS[modality]


def test_base_parameter_count_equals_official(base_model: LipReader) -> None:
    n = sum(p.numel() for p in base_model.parameters())
    assert n == OFFICIAL_COUNTS[base_model.modality]


def test_base_state_dict_matches_8acf580_layout(base_model: LipReader) -> None:
    got = {k: tuple(v.shape) for k, v in base_model.state_dict().items()}
    want = expected_8acf580(base_model.modality)
    assert sorted(set(want) - set(got)) == []
    assert sorted(set(got) - set(want)) == []
    assert {k: s for k, s in got.items() if want[k] != s} == {}


def _meta_state_dict(shapes: dict[str, tuple[int, ...]]) -> dict[str, torch.Tensor]:
    return {
        k: torch.empty(s, device="meta", dtype=torch.long if k.endswith("tracked") else torch.float32)
        for k, s in shapes.items()
    }


def test_both_official_layouts_load_into_base(base_model: LipReader) -> None:
    layouts = {"8acf580": expected_8acf580(base_model.modality)}
    if base_model.modality != "audiovisual":
        layouts["main"] = expected_main(base_model.modality)
    for name, shapes in layouts.items():
        sd = _meta_state_dict(shapes)
        assert detect_layout(sd) == name
        report = load_official_state_dict(base_model, sd, assign=True)
        assert report.ok, str(report)
        assert report.layout == name
        assert report.loaded == OFFICIAL_ENTRIES[base_model.modality]


def test_main_layout_is_refused_for_audiovisual() -> None:
    with torch.device("meta"):
        model = LipReader.from_preset("base", "audiovisual", ODIM)
    sd = _meta_state_dict(expected_main("video"))
    with pytest.raises(ValueError, match="video or audio models only"):
        load_official_state_dict(model, sd, assign=True)


def test_mismatch_report_names_every_problem() -> None:
    with torch.device("meta"):
        model = LipReader.from_preset("base", "video", ODIM)
    shapes = expected_8acf580("video")
    del shapes["encoder.encoders.3.self_attn.pos_bias_u"]
    shapes["encoder.encoders.3.self_attn.extra_thing"] = (3,)
    shapes["ctc.ctc_lo.weight"] = (5000, D)
    sd = _meta_state_dict(shapes)
    with pytest.raises(ValueError) as err:
        load_official_state_dict(model, sd, assign=True)
    text = str(err.value)
    assert "encoder.encoders.3.self_attn.pos_bias_u" in text
    assert "encoder.encoders.3.self_attn.extra_thing" in text
    assert "ctc.ctc_lo.weight" in text and "(5000, 768)" in text
    report = load_official_state_dict(model, sd, strict=False, assign=True)
    assert report.missing == ["encoder.encoders.3.self_attn.pos_bias_u"]
    assert report.unexpected == ["encoder.encoders.3.self_attn.extra_thing"]
    assert report.shape_mismatched == [("ctc.ctc_lo.weight", (5000, D), (ODIM, D))]
    assert report.loaded == OFFICIAL_ENTRIES["video"] - 2


def test_values_survive_a_round_trip_through_the_main_layout() -> None:
    torch.manual_seed(0)
    src = LipReader.from_preset("nano", "video", 7)
    dst = LipReader.from_preset("nano", "video", 7)
    main = to_main_layout(src.state_dict())
    assert "proj_encoder.weight" in main and "frontend.frontend3D.0.weight" in main
    assert not any(k.startswith(("encoder.frontend.", "encoder.embed.")) for k in main)
    report = load_official_state_dict(dst, main)
    assert report.ok and report.layout == "main"
    for key, value in src.state_dict().items():
        assert torch.equal(value, dst.state_dict()[key]), key


def test_legacy_espnet_prefixes_are_renamed() -> None:
    torch.manual_seed(0)
    src = LipReader.from_preset("nano", "audio", 7)
    legacy = {}
    for key, value in src.state_dict().items():
        key = key.replace("encoder.embed.", "encoder.input_layer.")
        key = key.replace("encoder.after_norm.", "encoder.norm.")
        key = key.replace("decoder.after_norm.", "decoder.output_norm.")
        legacy[key] = value
    dst = LipReader.from_preset("nano", "audio", 7)
    report = load_official_state_dict(dst, legacy)
    assert report.ok and report.renamed == 6
    assert torch.equal(dst.encoder.after_norm.weight, src.encoder.after_norm.weight)
    assert torch.equal(dst.decoder.after_norm.bias, src.decoder.after_norm.bias)


def test_lightning_checkpoint_file_loads_with_weights_only(tmp_path) -> None:
    torch.manual_seed(0)
    src = LipReader.from_preset("nano", "video", 7)
    path = tmp_path / "model.ckpt"
    torch.save({"state_dict": {"model." + k: v for k, v in src.state_dict().items()}, "epoch": 3}, path)
    dst = LipReader.from_preset("nano", "video", 7)
    report = load_official_checkpoint(dst, path)
    assert report.ok
    assert torch.equal(dst.ctc.ctc_lo.weight, src.ctc.ctc_lo.weight)
    with pytest.raises(FileNotFoundError, match=r"missing\.pth"):
        load_official_checkpoint(dst, tmp_path / "missing.pth")


def test_meta_device_model_gets_real_tensors_equal_to_the_checkpoint(tmp_path) -> None:
    """Without assign=True, load_state_dict into a meta model copies into nothing: the loader must assign."""
    torch.manual_seed(0)
    src = LipReader.from_preset("nano", "audiovisual", 7)
    path = tmp_path / "model.pth"
    torch.save(src.state_dict(), path)
    with torch.device("meta"):
        dst = LipReader.from_preset("nano", "audiovisual", 7)
    assert all(t.is_meta for t in dst.state_dict().values())
    report = load_official_checkpoint(dst, path)  # no assign argument: found out from the model
    assert report.ok and report.loaded == len(src.state_dict())
    want = src.state_dict()
    for name, t in [*dst.named_parameters(), *dst.named_buffers()]:
        assert not t.is_meta, f"{name} stayed on the meta device"
        assert torch.equal(t, want[name]), name
    dst.eval(), src.eval()
    video = torch.randn(1, 5, 1, 88, 88)
    audio = torch.randn(1, 5 * 640)
    lengths = torch.tensor([5])
    torch.testing.assert_close(
        dst.encode(video=video, audio=audio, video_lengths=lengths, audio_lengths=lengths * 640).features,
        src.encode(video=video, audio=audio, video_lengths=lengths, audio_lengths=lengths * 640).features,
    )


def test_meta_device_model_with_a_non_persistent_buffer_is_refused() -> None:
    src = LipReader.from_preset("nano", "video", 7)
    with torch.device("meta"):
        dst = LipReader.from_preset("nano", "video", 7)
        dst.register_buffer("scratch", torch.zeros(3), persistent=False)
    with pytest.raises(ValueError, match=r"built on the meta device .*\['scratch'\]"):
        load_official_state_dict(dst, src.state_dict())
    assert all(t.is_meta for t in dst.state_dict().values())  # refused before loading anything
