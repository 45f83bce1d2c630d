"""Headless Chromium opens the built leaderboard: table rows, sorting, plots, escaping, screenshot.

Needs a Chromium binary and a matching chromedriver (Debian: ``apt-get install chromium
chromium-driver``); paths can be given with ``TALKBENCH_CHROMIUM`` / ``TALKBENCH_CHROMEDRIVER``.
Skipped with the reason when either is absent. With ``TALKBENCH_DOCS_SCREENSHOT=1`` the screenshot is
also copied to ``docs/images/leaderboard.png``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from talkbench.leaderboard import build_site

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
    header = browser.find_element(By.CSS_SELECTOR, '#runs-synth th[data-col="4"]')
    assert header.text.startswith("LVE ×10⁻⁵ m² (max_sq)")
    header.click()
    assert header.get_attribute("aria-sort") == "ascending"
    # levels from the fixture: gt 0, A+AV 0.8, A 0.9, B+AV 1.1, evil 2.0 ... template 3.0 (LVE ∝ level)
    order = [(a, g) for a, g in zip(_column(browser, "runs-synth", 0), _column(browser, "runs-synth", 2))]
    assert order == [
        ("ground truth", "baseline"), ("fixture-A", "+AV"), ("fixture-A", "baseline"),
        ("fixture-B", "+AV"), ("fixture-B", "baseline"), (EVIL, "baseline"), ("template", "baseline"),
    ]
    values = [float(v.split(" ± ")[0]) for v in _column(browser, "runs-synth", 4)]
    assert values == sorted(values)
    header.click()
    assert header.get_attribute("aria-sort") == "descending"
    values = [float(v.split(" ± ")[0]) for v in _column(browser, "runs-synth", 4)]
    assert values == sorted(values, reverse=True)
    # a text column sorts alphabetically
    browser.find_element(By.CSS_SELECTOR, '#runs-synth th[data-col="3"]').click()
    assert _column(browser, "runs-synth", 3)[0].startswith("a-av")

    # the BIWI table holds only paper-reported LVE / FDD; sorting works on them too
    assert len(browser.find_elements(By.CSS_SELECTOR, "#runs-biwi-test-a th[data-col]")) == 6
    browser.find_element(By.CSS_SELECTOR, '#runs-biwi-test-a th[data-col="4"]').click()
    biwi_order = ["SelfTalk", "CodeTalker", "FaceFormer", "MeshTalk", "VOCA"]  # LVE 4.25 < 4.79 < 5.31 < ...
    assert _column(browser, "runs-biwi-test-a", 0) == biwi_order
    assert _column(browser, "runs-biwi-test-a", 4)[0] == "4.2485"

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
