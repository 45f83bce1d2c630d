"""Headless Chromium opens the built leaderboard: table rows, sorting, plots, escaping, screenshot.

Needs a Chromium binary and a matching chromedriver (Debian: ``apt-get install chromium
chromium-driver``); paths can be given with ``TALKBENCH_CHROMIUM`` / ``TALKBENCH_CHROMEDRIVER``.
Skipped with the reason when either is absent. With ``TALKBENCH_DOCS_SCREENSHOT=1`` the screenshot is
also copied to ``docs/images/leaderboard.png``.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from talkbench.leaderboard import build_site, build_tables, collect_results, render_index

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (test extra)")
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402

REPO_ROOT = Path(__file__).resolve().parents[3]
EVIL = "<script>window.__pwned=1</script>"


def _find(env: str, *names: str) -> str | None:
    if os.environ.get(env):
        return os.environ[env]
    return next((p for n in names if (p := shutil.which(n))), None)


@pytest.fixture(scope="module")
def browser():
    chromium = _find("TALKBENCH_CHROMIUM", "chromium", "chromium-browser", "google-chrome")
    driver_path = _find("TALKBENCH_CHROMEDRIVER", "chromedriver")
    if chromium is None or driver_path is None:
        pytest.skip(
            "headless Chromium test needs chromium and chromedriver on PATH "
            "(Debian: apt-get install chromium chromium-driver; or set TALKBENCH_CHROMIUM / "
            f"TALKBENCH_CHROMEDRIVER); found chromium={chromium}, chromedriver={driver_path}"
        )
    options = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1400,1100", "--force-device-scale-factor=1"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    options.binary_location = chromium
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


def _column(driver, table: str, col: int) -> list[str]:
    rows = driver.find_elements(By.CSS_SELECTOR, f"#{table} tbody tr")
    return [r.find_elements(By.TAG_NAME, "td")[col].text for r in rows]


def test_site_in_headless_chromium(browser, tmp_path, fx):
    results = fx.write_grid(tmp_path / "results", evil_name=EVIL)
    site = tmp_path / "site"
    build_site(results, site)
    browser.get((site / "index.html").as_uri())
    assert browser.title == "talkbench leaderboard"

    # table rows: ground truth first, template last, the injected name shown as text
    labels = _column(browser, "runs-synth", 0)
    assert labels == ["ground truth", EVIL, "fixture-A", "fixture-A", "fixture-B", "fixture-B", "template"]
    assert browser.execute_script("return typeof window.__pwned") == "undefined"
    assert browser.find_elements(By.CSS_SELECTOR, "#runs-synth tbody script") == []

    # sort by LVE (lower is better: ascending first), then descending on the second click
    header = browser.find_element(By.CSS_SELECTOR, '#runs-synth th[data-col="3"]')
    assert header.text.split() == ["LVE", "?", "×10⁻⁵", "m²", "max_sq"]  # "?": its glossary entry
    header.click()
    assert header.get_attribute("aria-sort") == "ascending"
    # levels from the fixture: gt 0, A+AV 0.8, A 0.9, B+AV 1.1, evil 2.0 ... template 3.0 (LVE ∝ level)
    order = [(a, g) for a, g in zip(_column(browser, "runs-synth", 0), _column(browser, "runs-synth", 1))]
    assert order == [
        ("ground truth", "–"), ("fixture-A", "+AV"), ("fixture-A", "baseline"),
        ("fixture-B", "+AV"), ("fixture-B", "baseline"), (EVIL, "baseline"), ("template", "–"),
    ]
    values = [float(v.split()[0]) for v in _column(browser, "runs-synth", 3)]
    assert values == sorted(values)
    header.click()
    assert header.get_attribute("aria-sort") == "descending"
    values = [float(v.split()[0]) for v in _column(browser, "runs-synth", 3)]
    assert values == sorted(values, reverse=True)
    # a text column sorts alphabetically
    browser.find_element(By.CSS_SELECTOR, '#runs-synth th[data-col="2"]').click()
    assert _column(browser, "runs-synth", 2)[0].startswith("a-av")

    # the BIWI table holds only paper-reported LVE / FDD; sorting works on them too
    assert len(browser.find_elements(By.CSS_SELECTOR, "#runs-biwi-test-a th[data-col]")) == 5
    browser.find_element(By.CSS_SELECTOR, '#runs-biwi-test-a th[data-col="3"]').click()
    biwi_order = ["SelfTalk", "CodeTalker", "FaceFormer", "MeshTalk", "VOCA"]  # LVE 4.25 < 4.79 < 5.31 < ...
    assert _column(browser, "runs-biwi-test-a", 0) == biwi_order
    assert _column(browser, "runs-biwi-test-a", 3)[0] == "4.2485"

    # plots are present and decoded by the browser
    sizes = browser.execute_script(
        "return Array.from(document.querySelectorAll('figure.plot img'))"
        ".map(function (i) { return [i.getAttribute('src'), i.naturalWidth]; });"
    )
    assert sorted(s for s, _ in sizes) == ["plots/synth-guidance.svg", "plots/synth-lve-vs-cer.svg"]
    assert all(w > 100 for _, w in sizes)

    browser.get((site / "index.html").as_uri())  # unsorted page for the screenshot
    shot = tmp_path / "leaderboard.png"
    assert browser.save_screenshot(str(shot))
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    if os.environ.get("TALKBENCH_DOCS_SCREENSHOT") == "1":
        target = REPO_ROOT / "docs" / "images" / "leaderboard.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(shot, target)


def test_best_signed_fdd_is_the_one_nearest_zero(browser, tmp_path, fx):
    # FDD per run (×1e-7) = 0.59·level + shift: far 1.0·0.59 − 2.0 = −1.41 (the most negative),
    # near 1.0·0.59 − 0.8 = −0.21 (nearest 0), A 0.9·0.59 = +0.531, B 1.3·0.59 = +0.767
    results = tmp_path / "results"
    fx.write_run(results, "template", level=3.0, n_wrong=5, kind="template", animator="template")
    fx.write_run(results, "a", level=0.9, animator="fixture-A")
    fx.write_run(results, "b", level=1.3, animator="fixture-B")
    fx.write_run(results, "far", level=1.0, animator="fixture-far", fdd_shift=-2.0)
    fx.write_run(results, "near", level=1.0, animator="fixture-near", fdd_shift=-0.8)
    site = tmp_path / "site"
    build_site(results, site)
    browser.get((site / "index.html").as_uri())
    headers = browser.find_elements(By.CSS_SELECTOR, "#runs-synth th[data-col]")
    by_col = {int(h.get_attribute("data-col")): h for h in headers}
    fdd_col = next(c for c, h in by_col.items() if h.text.startswith("FDD"))
    assert by_col[fdd_col].text.splitlines()[0] == "FDD →0 ?"
    rows = browser.find_elements(By.CSS_SELECTOR, "#runs-synth tbody tr")
    bold = [r.find_elements(By.TAG_NAME, "td")[0].text for r in rows
            if "best" in (r.find_elements(By.TAG_NAME, "td")[fdd_col].get_attribute("class") or "")]
    assert bold == ["fixture-near"]
    values = {r.find_elements(By.TAG_NAME, "td")[0].text: float(
        r.find_elements(By.TAG_NAME, "td")[fdd_col].text.split()[0]) for r in rows}
    assert values["fixture-far"] == min(v for k, v in values.items() if k != "template")
    # the first click sorts by distance from 0: nearest first among the methods
    by_col[fdd_col].click()
    order = [n for n in _column(browser, "runs-synth", 0) if n != "template"]
    assert order == ["fixture-near", "fixture-A", "fixture-B", "fixture-far"]
    # LVE / template: the template row is 1.00
    ratio = dict(zip(_column(browser, "runs-synth", 0), _column(browser, "runs-synth", len(headers) - 1)))
    assert ratio["template"].startswith("1.00")


_FITS = """
var doc = document.documentElement;
return {
  doc: [doc.scrollWidth, doc.clientWidth],
  tables: Array.from(document.querySelectorAll('table.runs')).map(function (t) {
    var r = t.getBoundingClientRect();
    return [t.id, t.scrollWidth, t.parentElement.clientWidth, r.left, r.right];
  })
};
"""


def _image_width(driver, css: str) -> int:
    """The natural width of the first image matching ``css`` once it has loaded: 0 when it fails to
    load, -1 when there is none."""
    return driver.execute_async_script(
        """var done = arguments[arguments.length - 1];
        var img = document.querySelector(arguments[0]);
        if (!img) { done(-1); return; } if (img.complete) { done(img.naturalWidth); return; }
        img.onload = function () { done(img.naturalWidth); }; img.onerror = function () { done(0); };""",
        css,
    )


def _assert_fits(driver, width=1400):
    fit = driver.execute_script(_FITS)
    assert fit["doc"][0] <= fit["doc"][1], fit
    for tid, scroll, box, left, right in fit["tables"]:
        assert scroll <= box, (tid, scroll, box)  # no horizontal scrolling inside the table's box
        assert left >= 0 and right <= width, (tid, left, right)  # the whole table is on screen


def _assert_no_page_scroll(driver, url: str, width: int = 390) -> None:
    """At a ``width``-px window (a phone) the page has no horizontal scroll; tables scroll in their boxes."""
    driver.set_window_size(width, 900)
    try:
        driver.get(url)
        widths = driver.execute_script("return [document.documentElement.scrollWidth, window.innerWidth];")
        assert widths[0] <= widths[1], widths
    finally:
        driver.set_window_size(1400, 1100)


def _with_temporal_columns(tables):
    """Copies of LVE / CER columns and cells as mtm, slcc, loc (the page is generic over metrics)."""
    for t in tables:
        cols = {c["metric"]: c for c in t["columns"]}
        if "lve" not in cols:
            continue
        extra = []
        for name, like in (("mtm", "lve"), ("slcc", "cer"), ("loc", "cer")):
            extra.append(dict(cols[like], metric=name, short=name.upper(), group="temporal",
                              group_title="temporal lip sync", header=f"{name.upper()} (test)",
                              scale_text="ms" if name == "mtm" else "", variant="dtw"))
            for r in t["rows"]:
                if like in r["cells"]:
                    r["cells"][name] = dict(r["cells"][like], value_text="-12.345", std_text="± 10.123")
        vertex = [c for c in t["columns"] if c["group"] == "vertex"]
        t["columns"] = vertex + extra + [c for c in t["columns"] if c["group"] != "vertex"]
        t["groups"] = [g for g in t["groups"] if g["id"] == "vertex"] + [
            {"id": "temporal", "title": "temporal lip sync", "span": 3}
        ] + [g for g in t["groups"] if g["id"] != "vertex"]
    return tables


def test_page_fits_1400px_posters_load_and_rows_open_their_samples(browser, tmp_path, fx):
    results = fx.write_grid(tmp_path / "results", evil_name=EVIL)
    # a long-named animator and a run id that make wide cells
    fx.write_run(results, "joint-audio-text-av-phonetic", level=1.0, animator="Joint audio-text regressor",
                 guidance={"av": True, "phonetic": True}, video=fx.tiny_video())
    site = tmp_path / "site"
    build_site(results, site)
    assert browser.get_window_size()["width"] == 1400
    browser.get((site / "index.html").as_uri())
    _assert_fits(browser)

    # every video has a poster, and every poster loads as an image
    videos = browser.find_elements(By.CSS_SELECTOR, "video")
    assert len(videos) == 2
    posters = [v.get_attribute("poster") for v in videos]
    assert all(p and p.endswith("/poster.png") for p in posters)
    widths = browser.execute_async_script(
        """var done = arguments[arguments.length - 1];
        var urls = Array.from(document.querySelectorAll('video')).map(function (v) { return v.poster; });
        Promise.all(urls.map(function (u) { return new Promise(function (ok) {
          var img = new Image(); img.onload = function () { ok(img.naturalWidth); };
          img.onerror = function () { ok(0); }; img.src = u; }); })).then(done);"""
    )
    assert widths == [48, 48]

    # a row's run link opens its per-sample page: one row per (seed, item), transcripts and alignment
    link = browser.find_element(By.CSS_SELECTOR, '#runs-synth a.samples[href="runs/synth/b-base/index.html"]')
    link.click()
    assert browser.current_url.endswith("runs/synth/b-base/index.html")
    items = browser.find_elements(By.CSS_SELECTOR, "#items tbody tr")
    assert len(items) == 2 * len(fx.REFS)
    first = items[0].text
    ref, hyp = fx.REFS[0], fx.hypothesis(fx.REFS[0], 3)  # fixture-B: 3 wrong words at seed 0
    assert ref in first and hyp in first
    subs = [e.text for e in items[0].find_elements(By.CSS_SELECTOR, ".words .sub")]
    assert len(subs) == 3 and subs[0].split() == [ref.split()[0], hyp.split()[0]]
    _assert_fits(browser)
    assert browser.execute_script(
        "return document.querySelector('video').poster.endsWith('/poster.png')")

    # nine metric columns (temporal ones included) still fit at 1400 px, in their groups
    tables = _with_temporal_columns(build_tables(collect_results(results), []))
    page = render_index(tables, {t["protocol"]: {} for t in tables})
    (site / "index.html").write_text(page, encoding="utf-8")
    browser.get((site / "index.html").as_uri())
    heads = [h.text.split()[0] for h in browser.find_elements(By.CSS_SELECTOR, "#runs-synth th.metric")]
    assert heads == ["LVE", "FDD", "MVE", "MTM", "SLCC", "LOC", "CER", "WER"]
    groups = [h.text for h in browser.find_elements(By.CSS_SELECTOR, "#runs-synth th.group")]
    assert groups == ["vertex error", "temporal lip sync", "lip reading"]
    _assert_fits(browser)
    shot = tmp_path / "nine.png"
    assert browser.save_screenshot(str(shot))


def test_glossary_tooltips_captions_and_a_phone_screen(browser, tmp_path, fx):
    """Every metric header links to a glossary entry that defines it, keeps its direction in its tooltip
    once the sort script has run, plots carry real captions, bracketing rows have no guidance, the videos
    show their length, and at 390 px nothing widens the page; no console errors (favicon included)."""
    results = fx.write_grid(tmp_path / "results")
    fx.write_run(results, "a-video", level=1.0, animator="fixture-V", video=fx.tiny_video())
    site = tmp_path / "site"
    build_site(results, site)
    browser.get((site / "index.html").as_uri())

    heads = browser.find_elements(By.CSS_SELECTOR, "th.metric")
    assert heads
    for th in heads:
        metric = th.get_attribute("data-metric")
        link = th.find_element(By.CSS_SELECTOR, "a.gloss")
        assert link.get_attribute("href").endswith(f"#glossary-{metric}")
        entry = browser.find_elements(By.ID, f"glossary-{metric}")
        assert len(entry) == 1, metric
        words = th.text.split()
        assert entry[0].text.split()[0] == (words[1] if words[0] == "Δ" else words[0]), (metric, th.text)
        definition = entry[0].find_element(By.XPATH, "following-sibling::dd[1]").text
        assert len(definition) > 80, (metric, definition)
        tip = th.get_attribute("title")
        assert tip.endswith("click to sort") and any(
            d in tip for d in ("lower is better", "higher is better", "closer to 0 is better")
        ), tip
    # the glossary link opens the entry and does not sort the table
    lve = browser.find_element(By.CSS_SELECTOR, '#runs-synth th[data-metric="lve"]')
    lve.find_element(By.CSS_SELECTOR, "a.gloss").click()
    assert lve.get_attribute("aria-sort") is None
    assert browser.current_url.endswith("#glossary-lve")

    captions = [c.text for c in browser.find_elements(By.CSS_SELECTOR, "figure.plot figcaption")]
    assert len(captions) == 2 and all(len(c.split()) > 6 for c in captions), captions
    rows = browser.find_elements(By.CSS_SELECTOR, "#runs-synth tbody tr")
    guidance = {r.find_elements(By.TAG_NAME, "td")[0].text: r.find_elements(By.TAG_NAME, "td")[1].text
                for r in rows}
    assert guidance["ground truth"] == "–" and guidance["template"] == "–"
    videos = browser.find_elements(By.CSS_SELECTOR, "video")
    assert {v.get_attribute("preload") for v in videos} == {"metadata"}
    duration = browser.execute_async_script(
        """var done = arguments[arguments.length - 1]; var v = document.querySelector('video');
        if (v.readyState >= 1) { done(v.duration); } else {
          v.onloadedmetadata = function () { done(v.duration); }; v.onerror = function () { done(-1); }; }"""
    )
    assert duration > 0

    severe = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert severe == [], severe

    _assert_no_page_scroll(browser, (site / "index.html").as_uri())


def test_the_committed_site_fits_1400px_and_a_phone(browser):
    """The committed leaderboard (real rows, real interval texts) at 1400 px: no table wider than its
    box; at 390 px: no horizontal page scroll (tables scroll inside their boxes)."""
    index = REPO_ROOT / "leaderboard" / "site" / "index.html"
    if not index.is_file():
        pytest.skip(f"no committed site at {index}")
    browser.get(index.as_uri())
    _assert_fits(browser)
    _assert_no_page_scroll(browser, index.as_uri())


def test_a_per_sample_page_sorts_and_filters_with_each_metric_direction(browser, tmp_path, fx):
    results = fx.write_grid(tmp_path / "results")
    site = tmp_path / "site"
    build_site(results, site)
    browser.get((site / "runs" / "synth" / "b-base" / "index.html").as_uri())
    heads = {h.get_attribute("data-metric"): h
             for h in browser.find_elements(By.CSS_SELECTOR, "#items th[data-metric]")}
    assert {"lve", "fdd", "cer"} <= set(heads)
    assert "lower is better" in heads["lve"].get_attribute("title")
    assert "closer to 0 is better" in heads["fdd"].get_attribute("title")
    col = {m: i for i, m in enumerate(
        h.get_attribute("data-metric") for h in browser.find_elements(By.CSS_SELECTOR, "#items thead th"))}

    def values(metric: str) -> list[float]:
        return [float(r.find_elements(By.TAG_NAME, "td")[col[metric]].text)
                for r in browser.find_elements(By.CSS_SELECTOR, "#items tbody tr") if r.is_displayed()]

    heads["lve"].click()  # lower is better: best (smallest) first
    lve = values("lve")
    assert lve == sorted(lve) and len(set(lve)) > 1
    heads["lve"].click()
    assert values("lve") == sorted(lve, reverse=True)
    heads["fdd"].click()  # signed: by the distance from 0, nearest first
    fdd = values("fdd")
    assert [abs(x) for x in fdd] == sorted(abs(x) for x in fdd)

    n = len(browser.find_elements(By.CSS_SELECTOR, "#items tbody tr"))
    browser.find_element(By.ID, "seed").send_keys("1")
    shown = [r for r in browser.find_elements(By.CSS_SELECTOR, "#items tbody tr") if r.is_displayed()]
    assert 0 < len(shown) < n and all(r.find_elements(By.TAG_NAME, "td")[0].text == "1" for r in shown)
    browser.find_element(By.ID, "filter").send_keys(fx.REFS[1].split()[-1])
    shown = [r for r in browser.find_elements(By.CSS_SELECTOR, "#items tbody tr") if r.is_displayed()]
    assert len(shown) == 1 and fx.REFS[1] in shown[0].text
    assert browser.find_element(By.ID, "shown").text == f"1 of {n} items"
    severe = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert severe == [], severe


def test_ground_truth_sorts_as_its_exact_values(browser, tmp_path, fx):
    """The ground-truth row shows "–" for vertex metrics (not measured: 0 by definition) and sorts as
    that exact value: first by LVE ascending, where the template comes last."""
    import json

    results = fx.write_grid(tmp_path / "results")
    # as on a real grid, the ground-truth row measures only what it can (no vertex errors)
    gt = results / "synth" / "gt"
    records = [json.loads(line) for line in (gt / "per_sample.jsonl").read_text().splitlines()]
    for r in records:
        r["metrics"] = {k: v for k, v in r["metrics"].items() if k in ("cer", "wer")}
    res = json.loads((gt / "result.json").read_text())
    res["metrics"] = {k: v for k, v in res["metrics"].items() if k in ("cer", "wer")}
    (gt / "per_sample.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    (gt / "result.json").write_text(json.dumps(res))
    site = tmp_path / "site"
    build_site(results, site)
    browser.get((site / "index.html").as_uri())
    th = browser.find_element(By.CSS_SELECTOR, '#runs-synth th[data-metric="lve"]')
    col = int(th.get_attribute("data-col"))
    th.click()
    labels = _column(browser, "runs-synth", 0)
    assert labels[0] == "ground truth" and labels[-1] == "template"
    assert _column(browser, "runs-synth", col)[0] == "–"
    th.click()  # descending: the template first, the ground truth last
    labels = _column(browser, "runs-synth", 0)
    assert labels[0] == "template" and labels[-1] == "ground truth"


def test_the_committed_site_has_curves_findings_models_and_its_build(browser):
    """On the committed leaderboard: the build's commit and date, the findings and model tables of the
    reproduced protocol, and on every trained run's page its training curves (an image that loads)."""
    import json

    index = REPO_ROOT / "leaderboard" / "site" / "index.html"
    if not index.is_file():
        pytest.skip(f"no committed site at {index}")
    browser.get(index.as_uri())
    commit = browser.find_element(By.CSS_SELECTOR, "code.build-commit").get_attribute("title")
    assert len(commit) == 40 and all(c in "0123456789abcdef" for c in commit)
    for protocol in ("synth-head",):
        assert browser.find_elements(By.ID, f"findings-{protocol}")
        rows = browser.find_elements(By.CSS_SELECTOR, f"#models-table-{protocol} tbody tr")
        assert len(rows) >= 4 and all(r.find_elements(By.TAG_NAME, "td")[2].text != "–" for r in rows)
        # the shipped judge's and expert's learning curves, from their manifests
        links = browser.find_elements(By.CSS_SELECTOR, f"#protocol-{protocol} a[href^='plots/reader-']")
        assert sorted(a.text for a in links) == ["its learning curve"] * 2
        hrefs = sorted(a.get_attribute("href").rsplit("/", 1)[1] for a in links)
        assert hrefs == ["reader-synth-av-v2.svg", "reader-synth-video-v2.svg"]
        for href in hrefs:
            assert (index.parent / "plots" / href).read_text(encoding="utf-8").startswith("<?xml")
    data = json.loads((REPO_ROOT / "leaderboard" / "site" / "data" / "leaderboard.json").read_text())
    trained = [r["run_id"] for t in data["tables"] for r in t["rows"] if r["kind"] == "method"]
    assert trained
    for run_id in trained:
        page = index.parent / "runs" / "synth-head" / run_id / "index.html"
        browser.get(page.as_uri())
        assert _image_width(browser, "figure.curves img") > 300, run_id


def test_the_committed_site_has_the_lambda_av_sweep(browser):
    """The committed leaderboard links to its sweeps page, which holds the committed λav sweep of
    FaceFormer (``leaderboard/sweeps/lambda-av-sweep``): one table row per swept value of the
    committed results, its dose-response plot loading, every cell an interval."""
    import json

    sweeps = REPO_ROOT / "leaderboard" / "sweeps" / "lambda-av-sweep"
    index = REPO_ROOT / "leaderboard" / "site" / "index.html"
    if not sweeps.is_dir() or not index.is_file():
        pytest.skip(f"no committed sweep at {sweeps} or no committed site")
    values = sorted(
        json.loads(p.read_text())["sweep"]["guidance.lambda_av"]
        for p in sweeps.rglob("result.json")
        if json.loads(p.read_text()).get("sweep")
    )
    assert len(values) == 5, values
    browser.get(index.as_uri())
    browser.find_element(By.CSS_SELECTOR, "a[href='sweeps.html']").click()
    section = browser.find_element(By.CSS_SELECTOR, "section[id]")
    rows = section.find_elements(By.CSS_SELECTOR, "tbody tr")
    assert sorted(float(r.find_elements(By.TAG_NAME, "td")[0].text) for r in rows) == values
    for row in rows:
        cells = row.find_elements(By.TAG_NAME, "td")[2:]
        interval = r"[+-]\d+\.\d+ \[[+-]\d+\.\d+, [+-]\d+\.\d+\]"
        assert cells and all(re.fullmatch(interval, c.text) for c in cells)
    assert _image_width(browser, "section img") > 300
    _assert_fits(browser)
    assert not [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
