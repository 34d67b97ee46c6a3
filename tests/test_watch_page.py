"""backprop_html's page in a real browser (headless Chromium through Selenium), offline:
pressing "next" through every step of the tutorial's first example shows, at each step, the node
backprop_steps names, the grads it records, and which nodes are still pending.

Skips where selenium, Chromium or chromedriver is missing (Debian: apt-get install chromium
chromium-driver; pip install selenium)."""

from __future__ import annotations

import io
import os
import re
import shutil

import pytest
from helpers import chapter

from micrograd_c import Value, backprop_html, backprop_steps, watch
from micrograd_c.viz import _num

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


@pytest.fixture(scope="module")
def browser():
    """A headless Chromium with the network emulated offline; skips if there is none."""
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.common.exceptions import WebDriverException

    binary = next((shutil.which(b) for b in BROWSERS if shutil.which(b)), None)
    driver_path = shutil.which("chromedriver")
    if binary is None or driver_path is None:
        pytest.skip(
            "no Chromium and chromedriver (Debian: apt-get install chromium chromium-driver)"
        )
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--window-size=1200,700",
    ):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # the browser is not ours to instrument: no sanitizer runtime preloaded into it
    env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD"}
    try:
        driver = webdriver.Chrome(
            service=webdriver.ChromeService(executable_path=driver_path, env=env), options=options
        )
    except WebDriverException as exc:
        pytest.skip(f"Chromium would not start: {exc.msg}")
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd(
        "Network.emulateNetworkConditions",
        {"offline": True, "latency": 0, "downloadThroughput": -1, "uploadThroughput": -1},
    )
    yield driver
    driver.quit()


def layouts():
    """Graphviz's layout where it can run here, and the page's own always."""
    dot = pytest.param(
        "dot",
        marks=pytest.mark.skipif(not watch._dot_available(), reason="no graphviz package or `dot`"),
    )
    return [dot, "own"]


def expected_states(steps, root, root_name):
    """Per position 0..n: {name: (grad text, state)} as the page must show them."""
    names = {root: root_name}
    for s in steps:
        names.update({s.node: s.name, **{e.child: e.name for e in s.edges}})
    grads = {name: 1.0 if v is root else v.grad for v, name in names.items()}
    parents: dict[str, list[int]] = {}
    for p, s in enumerate(steps, 1):
        for e in s.edges:
            parents.setdefault(e.name, []).append(p)
    own = {s.name: p for p, s in enumerate(steps, 1)}
    out = []
    for p in range(len(steps) + 1):
        if p:
            for e in steps[p - 1].edges:
                grads[e.name] = e.grad_after
        states = {}
        for name, grad in grads.items():
            before = [q for q in parents.get(name, []) if q <= p]
            state = (
                "current"
                if own.get(name) == p
                else "pending"
                if name != names[root] and not before
                else "final"
                if len(before) == len(parents.get(name, []))
                else "partial"
            )
            states[name] = (f"grad {_num(grad)}", state)
        out.append(states)
    return out


def shown(driver):
    """{name: (grad text, state)} for every Value node the page draws."""
    return driver.execute_script("""
        const out = {};
        document.querySelectorAll('g[data-name]').forEach((g) => {
          const t = g.querySelectorAll('text');
          out[g.dataset.name] = [t[t.length - 1].textContent, g.dataset.state];
        });
        return out;""")


@pytest.mark.parametrize("layout", layouts())
def test_next_through_every_step_of_the_chapters_example(browser, layout, tmp_path, monkeypatch):
    monkeypatch.setattr(watch, "_dot_available", lambda: layout == "dot")
    z, names = chapter()
    steps = backprop_steps(z, names)
    page = backprop_html(z, tmp_path / "backprop.html", names)
    text = page.path.read_text(encoding="utf-8")
    assert not re.search(r"https?:", text), "the page must not name any URL"
    assert not re.search(r"<(link|img|iframe)\b|\bsrc=", text), "nothing loaded from outside"
    browser.get(page.path.resolve().as_uri())
    by_id = browser.find_element
    want = expected_states(steps, z, "z")
    assert set(want[0]) == {"x", "y", "b", "v2", "z"}
    for p in range(len(steps) + 1):
        if p:
            by_id("id", "next").click()
        assert browser.execute_script("return document.getElementById('slider').value") == str(p)
        got = shown(browser)
        assert {k: tuple(v) for k, v in got.items()} == want[p], f"position {p}"
        current = browser.execute_script(
            "return [...document.querySelectorAll('g.current[data-name]')].map(g => g.dataset.name)"
        )
        assert current == ([steps[p - 1].name] if p else [])
        active = browser.execute_script("return document.querySelectorAll('g.edge.active').length")
        assert active == (len(steps[p - 1].edges) + 1 if p else 0)
        rows = browser.execute_script(
            "return [...document.querySelectorAll('#rows tr')].filter(r => !r.hidden).length"
        )
        assert rows == p
    explain = by_id("id", "explain").text
    assert "∂(x·y)/∂x = y = 3.0" in explain and "∂(x·y)/∂y = x = 2.0" in explain
    by_id("id", "next").click()  # past the end: stays on the last step
    assert by_id("id", "position").text == f"step {len(steps)} of {len(steps)}"
    png = browser.get_screenshot_as_png()
    by_id("id", "prev").click()
    assert by_id("id", "position").text == f"step {len(steps) - 1} of {len(steps)}"
    by_id("tag name", "body").send_keys("\ue014")  # the right arrow key
    assert by_id("id", "position").text == f"step {len(steps)} of {len(steps)}"
    errors = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, errors
    image = pytest.importorskip("PIL.Image").open(io.BytesIO(png)).convert("RGB")
    colours = image.getcolors(maxcolors=1 << 20)
    assert colours and len(colours) > 20, "the screenshot is blank"
    assert any(rgb == (0xFF, 0xC9, 0x8F) for _, rgb in colours), "no node drawn as current"


def test_a_leaf_root_page_has_no_steps(browser, tmp_path):
    v = Value(4.0)
    page = backprop_html(v, tmp_path / "leaf.html", {v: "v"})
    browser.get(page.path.resolve().as_uri())
    assert browser.execute_script("return document.getElementById('slider').max") == "0"
    assert "The root is a leaf" in browser.find_element("id", "explain").text
    assert shown(browser) == {"v": ["grad 1.0", "final"]}


def test_the_page_works_inline_as_jupyter_shows_it(browser, tmp_path):
    z, names = chapter()
    page = backprop_html(z, tmp_path / "backprop.html", names)
    notebook = tmp_path / "notebook.html"  # an output cell: the object's _repr_html_
    notebook.write_text(
        f"<!DOCTYPE html><html><body>{page._repr_html_()}</body></html>", encoding="utf-8"
    )
    browser.get(notebook.resolve().as_uri())
    browser.switch_to.frame(browser.find_element("tag name", "iframe"))
    try:
        browser.find_element("id", "next").click()
        assert browser.find_element("id", "position").text == "step 1 of 2"
        assert shown(browser)["v2"] == ["grad 1.0", "final"]
    finally:
        browser.switch_to.default_content()
