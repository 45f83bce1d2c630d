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
