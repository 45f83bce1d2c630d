import json
from pathlib import Path

from typer.testing import CliRunner

from talkbench.cli import app

runner = CliRunner()


def test_data_info_on_generated_corpus(tiny_corpus: Path) -> None:
    res = runner.invoke(app, ["data", "info", str(tiny_corpus), "--check", "--json"])
    assert res.exit_code == 0, res.output
    report = json.loads(res.output)
    assert report["train"]["sequences"] == 8 and report["val"]["sequences"] == 2
    assert report["test"]["subjects"] == ["synth11", "synth12"]
    assert report["pool"]["sequences"] == 8 and report["train"]["frames"] > 0
    assert report["check"]["passed"] and report["check"]["sequences"] == 8 + 2 + 2 + 8
    res = runner.invoke(app, ["data", "info", str(tiny_corpus), "--check"])
    assert res.exit_code == 0, res.output
    assert res.output.splitlines()[-1] == (
        f"check passed: all {report['check']['sequences']} sequences load (vertices, audio, alignments)"
    )


def test_data_info_errors_name_the_problem(tmp_path: Path) -> None:
    res = runner.invoke(app, ["data", "info", str(tmp_path), "--protocol", "nope"])
    assert res.exit_code == 1 and "unknown protocol" in res.output
    res = runner.invoke(app, ["data", "info", str(tmp_path), "--protocol", "vocaset"])
    assert res.exit_code == 1 and "vertices_npy" in res.output


def test_convert_vocaset_and_align_commands(raw_vocaset: dict, tmp_path: Path) -> None:
    out = tmp_path / "proc"
    res = runner.invoke(app, ["data", "convert-vocaset", str(raw_vocaset["root"]), str(out)])
    assert res.exit_code == 0, res.output
    assert "wrote 16 sequences" in res.output
    res = runner.invoke(app, ["data", "info", str(out), "--protocol", "vocaset", "--json"])
    assert json.loads(res.output)["val"]["sequences"] == 2


def test_data_synth_rejects_unknown_size(tmp_path: Path) -> None:
    res = runner.invoke(app, ["data", "synth", str(tmp_path / "x"), "--size", "huge"])
    assert res.exit_code == 1 and "unknown size" in res.output


def test_align_command_writes_cached_alignments(tiny_corpus: Path, tmp_path: Path) -> None:
    import shutil

    root = tmp_path / "real"
    (root / "wav").mkdir(parents=True)
    for name in ("synth11_s001", "synth12_s001"):
        shutil.copy(tiny_corpus / "wav" / f"{name}.wav", root / "wav")
    res = runner.invoke(app, ["data", "align", str(root), "--transcripts", str(tiny_corpus / "transcripts")])
    assert res.exit_code == 0, res.output
    assert "aligned 2 of 2" in res.output
    payload = json.loads((root / "alignments" / "synth11_s001.json").read_text())
    truth = (tiny_corpus / "transcripts" / "synth11.txt").read_text().splitlines()[0]
    assert payload["transcript"] == truth and [w[0] for w in payload["words"]] == truth.split()
    assert payload["source"] == "pocketsphinx forced alignment"


class _RunsCode:
    """Pickles to a call of ``os.system`` (what a malicious pickle carries)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.marker}",))


def _main(argv: list[str]) -> int:
    from talkbench.cli import main

    try:
        main(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def test_data_info_malicious_templates_is_one_line(tmp_path: Path, capsys) -> None:
    import pickle

    root = tmp_path / "voca"
    (root / "vertices_npy").mkdir(parents=True)
    (root / "templates.pkl").write_bytes(pickle.dumps(_RunsCode(tmp_path / "pwned")))
    code = _main(["data", "info", str(root), "--protocol", "vocaset"])
    err = capsys.readouterr().err
    assert code == 1
    assert str(root / "templates.pkl") in err and "posix.system" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "pwned").exists()


def _truncated_checkpoint(tmp_path: Path) -> Path:
    import torch

    good = tmp_path / "good.pt"
    torch.save({"step": 3, "model": {"w": torch.zeros(64, 64)}}, good)
    bad = tmp_path / "cell-s0.pt"
    bad.write_bytes(good.read_bytes()[:300])
    return bad


def test_train_and_eval_with_truncated_checkpoint_print_one_line(tmp_path: Path, capsys, monkeypatch) -> None:
    import pytest

    import talkbench.run
    from talkbench.training.checkpoint import CheckpointError, load_training_state

    bad = _truncated_checkpoint(tmp_path)

    def prepare(*args, **kwargs):  # the grid's first checkpoint read (resume) meets the bad file
        return load_training_state(bad)

    monkeypatch.setattr(talkbench.run, "prepare", prepare)
    for argv in (
        ["train", "--animator", "faceformer", "-p", "smoke"],
        ["eval", "-p", "smoke", "--results", str(tmp_path / "res")],
    ):
        code = _main(argv)
        err = capsys.readouterr().err
        assert code == 1, err
        assert "Traceback" not in err and len(err.strip().splitlines()) == 1
        assert str(bad) in err and "truncated or corrupt" in err and "training checkpoint" in err
    with pytest.raises(CheckpointError, match=r"cell-s0\.pt"):
        _main(["--debug", "train", "--animator", "faceformer", "-p", "smoke"])


def test_unexpected_errors_name_their_type(tmp_path: Path, capsys, monkeypatch) -> None:
    import talkbench.run

    def prepare(*args, **kwargs):
        raise IndexError("pop from empty list")

    monkeypatch.setattr(talkbench.run, "prepare", prepare)
    assert _main(["train", "--animator", "faceformer", "-p", "smoke"]) == 1
    err = capsys.readouterr().err
    assert "error: IndexError: pop from empty list" in err and "--debug" in err
    assert "Traceback" not in err
