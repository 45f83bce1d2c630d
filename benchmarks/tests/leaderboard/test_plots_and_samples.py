"""Plot labels never overlap (boxes measured by matplotlib's renderer); per-sample alignments."""

from __future__ import annotations

import itertools

import matplotlib.pyplot as plt
import pytest
from matplotlib.text import Text

from talkbench.leaderboard.plots import _RC, guidance_figure, lve_vs_cer_figure
from talkbench.leaderboard.samples import alignment


def _cell(mean, std=0.01):
    return {"mean": mean, "std": std}


def _intersect(a, b):
    return min(a.x1, b.x1) > max(a.x0, b.x0) and min(a.y1, b.y1) > max(a.y0, b.y0)


def _crowded_table(n=16):
    # n runs squeezed into 2 % of the CER range and 1 % of the LVE range, plus two far-away rows that
    # stretch the axes (as the template does on the real grid)
    rows = [
        {"kind": "method", "label": f"Animator number {i // 4}", "guidance": ("baseline", "+AV", "+phonetic",
                                                                              "+AV +phonetic")[i % 4],
         "cells": {"cer": _cell(30.0 + 0.15 * (i % 5)), "lve": _cell(2.0 + 0.004 * i)}}
        for i in range(n)
    ]
    rows += [
        {"kind": "template", "label": "template", "guidance": "baseline",
         "cells": {"cer": _cell(70.0), "lve": _cell(4.8)}},
        {"kind": "ground truth", "label": "ground truth", "guidance": "baseline",
         "cells": {"cer": _cell(0.5), "lve": _cell(0.0)}},
    ]
    columns = [{"metric": "lve", "header": "LVE ×10⁻⁵ m² (max_sq)", "best": "lower"},
               {"metric": "cer", "header": "CER % (utterance)", "best": "lower"}]
    guidance_rows = [
        {"animator": f"Animator number {i}", "guidance": g,
         "cells": {m: {"baseline": _cell(2.0), "guided": _cell(2.0 + 0.01 * i), "improved": None}
                   for m in ("lve", "cer")}}
        for i in range(6) for g in ("+AV", "+AV vs +Lrlv", "+phonetic", "+AV +phonetic")
    ]
    return {"protocol": "synth", "columns": columns, "rows": rows, "guidance_rows": guidance_rows}


def test_scatter_labels_do_not_overlap_in_a_crowded_cluster():
    table = _crowded_table()
    methods = [r for r in table["rows"] if r["kind"] == "method"]
    with plt.rc_context(_RC):
        fig, labels = lve_vs_cer_figure(table)
        try:
            renderer = fig.canvas.get_renderer()
            fig.canvas.draw()
            # the text's own box (an Annotation's extent would include its leader line)
            boxes = [Text.get_window_extent(t, renderer) for t in labels]
            assert [t.get_text() for t in labels][:2] == ["Animator number 0", "Animator number 0 +AV"]
            assert len(boxes) == len(methods)  # the bracketing rows are bounds, not labelled points
            for a, b in itertools.combinations(boxes, 2):
                assert not _intersect(a, b), (a, b)
            # every label stays inside the axes and off every marker
            ax = fig.axes[0]
            frame = ax.get_window_extent(renderer)
            points = [ax.transData.transform((r["cells"]["cer"]["mean"], r["cells"]["lve"]["mean"]))
                      for r in methods]
            for box in boxes:
                assert frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1
                assert not any(box.contains(x, y) for x, y in points)
            # the template (CER 70, LVE 4.8) does not set the axes: the methods' cluster fills them
            (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
            assert x1 < 70.0 and y1 < 4.8 and (y1 - y0) < 0.5
            # the ground truth is drawn: a vertical line at its CER (0.5), inside the axes
            verticals = [line for line in ax.get_lines() if len(set(line.get_xdata())) == 1]
            assert any(line.get_xdata()[0] == 0.5 for line in verticals) and x0 <= 0.5
            # one colour per animator, the same for every guidance of that animator
            colours = {}
            for container in ax.containers:
                colour = container.lines[0].get_color()
                colours.setdefault(colour, 0)
                colours[colour] += 1
            assert sorted(colours.values()) == [4, 4, 4, 4]
            notes = fig.get_supxlabel()
            assert "ground-truth renders, CER 0.5" in notes and "template above the chart: LVE 4.80" in notes
        finally:
            plt.close(fig)


def test_guidance_panel_labels_do_not_overlap():
    table = _crowded_table()
    with plt.rc_context(_RC):
        fig = guidance_figure(table)
        try:
            fig.canvas.draw()
            renderer = fig.canvas.get_renderer()
            ax = fig.axes[0]
            ticks = [t for t in ax.get_yticklabels() if t.get_text()]
            assert len(ticks) == len(table["guidance_rows"]) == 24
            assert ticks[0].get_text() == "Animator number 0 +AV"
            boxes = [t.get_window_extent(renderer) for t in ticks]
            titles = [a.title.get_window_extent(renderer) for a in fig.axes]
            xlabels = [a.xaxis.label.get_window_extent(renderer) for a in fig.axes]
            texts = boxes + titles + xlabels + [fig._suptitle.get_window_extent(renderer)]
            for a, b in itertools.combinations(texts, 2):
                assert not _intersect(a, b), (a, b)
        finally:
            plt.close(fig)


def test_alignment_marks_substitutions_deletions_insertions():
    # reference "bin blue at f two now"; the reading drops "at", replaces "two" by "tree", adds "please"
    a = alignment("Bin blue at F two now", "bin BLUE f tree now please")
    assert a["reference"] == "bin blue at f two now" and a["hypothesis"] == "bin blue f tree now please"
    assert a["words"] == [
        {"op": "equal", "ref": "bin", "hyp": "bin"},
        {"op": "equal", "ref": "blue", "hyp": "blue"},
        {"op": "delete", "ref": "at", "hyp": ""},
        {"op": "equal", "ref": "f", "hyp": "f"},
        {"op": "substitute", "ref": "two", "hyp": "tree"},
        {"op": "equal", "ref": "now", "hyp": "now"},
        {"op": "insert", "ref": "", "hyp": "please"},
    ]
    assert a["counts"]["words"] == {"S": 1, "D": 1, "I": 1, "H": 4, "N": 6}
    # characters: the spans re-assemble both strings exactly
    assert "".join(o["ref"] for o in a["chars"]) == a["reference"]
    assert "".join(o["hyp"] for o in a["chars"]) == a["hypothesis"]
    c = a["counts"]["chars"]
    assert c["N"] == len(a["reference"]) and c["H"] + c["S"] + c["D"] == c["N"]
    assert alignment("   ", "anything") is None


@pytest.mark.parametrize("ref,hyp", [("abc", "abc"), ("lay red", "")])
def test_alignment_edge_cases(ref, hyp):
    a = alignment(ref, hyp)
    ops = {o["op"] for o in a["words"]}
    assert ops == ({"equal"} if ref == hyp else {"delete"})
