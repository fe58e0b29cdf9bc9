"""End to end: render the whole gallery, serve it on localhost, open every
page in headless Chromium and check that every image loaded (no broken
image, no 404), then take a screenshot of the index.

Needs Debian's ``chromium`` and ``chromium-driver`` and the ``selenium``
package (``.ci/install-browser.sh`` installs them); skipped with the reason
when one is missing.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import tempfile
import threading
from pathlib import Path

import pytest

import actlab

pytestmark = pytest.mark.browser

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--window-size=1280,900", "--hide-scrollbars",
)


def _browser() -> tuple[str, str]:
    """``(browser, driver)`` paths, or skip saying what is missing."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        pytest.skip("selenium is not installed (run .ci/install-browser.sh)")
    browser = next((p for p in map(shutil.which, BROWSERS) if p), None)
    driver = shutil.which("chromedriver") or next(
        (p for p in ("/usr/lib/chromium/chromedriver", "/usr/bin/chromedriver") if os.path.exists(p)), None)
    if browser is None or driver is None:
        pytest.skip("no headless Chromium found (apt-get install chromium chromium-driver; see .ci/install-browser.sh)")
    return browser, driver


class _Handler(http.server.SimpleHTTPRequestHandler):
    log: list[tuple[str, int]] = []

    def log_request(self, code="-", size="-"):
        self.log.append((self.path, int(code) if str(code).isdigit() else 0))

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def site():
    from actlab.plot.gallery import render_gallery

    out = Path(tempfile.mkdtemp(prefix="actlab-gallery-"))
    # one process: this test process has run torch.compile, jax and numba
    # before, whose threads a forked worker would inherit half-initialised
    result = render_gallery(out, progress=False, processes=1)
    assert not result.errors, result.errors
    log: list[tuple[str, int]] = []
    handler = type("Handler", (_Handler,), {"log": log})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(handler, directory=str(out)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", out, log
    finally:
        server.shutdown()
        server.server_close()
        shutil.rmtree(out, ignore_errors=True)


@pytest.fixture(scope="module")
def driver():
    browser, chromedriver = _browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="actlab-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    d = webdriver.Chrome(service=Service(executable_path=chromedriver), options=options)
    d.set_page_load_timeout(60)
    try:
        yield d
    finally:
        d.quit()
        shutil.rmtree(profile, ignore_errors=True)


_IMAGES = """
return Array.from(document.images).map(i => [i.getAttribute('src'), i.complete, i.naturalWidth]);
"""


def _load(driver, url):
    from selenium.webdriver.support.ui import WebDriverWait

    driver.get(url)
    WebDriverWait(driver, 30).until(lambda d: d.execute_script(
        "return document.readyState === 'complete' && Array.from(document.images).every(i => i.complete)"))
    return driver.execute_script(_IMAGES)


_WIDTHS = "return [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
_OVERFLOWING_CARDS = """
return Array.from(document.querySelectorAll('article.card'))
  .filter(c => c.scrollWidth > c.clientWidth + 1 || c.getBoundingClientRect().right > window.innerWidth)
  .map(c => c.id);
"""
_CARDS_WITHOUT_THUMBNAIL = """
return Array.from(document.querySelectorAll('article.card')).filter(c => {
  const i = c.querySelector('img.thumb');
  return !i || !i.complete || i.naturalWidth === 0;
}).map(c => c.id);
"""


def test_no_horizontal_scroll_and_every_card_has_its_thumbnail(site, driver):
    """At 1280 px no page scrolls sideways and no card overflows its grid cell
    (long names such as binary_cross_entropy_with_logits wrap); every card
    of the index shows a thumbnail that loaded."""
    base, out, _ = site
    for page in ("index.html", "comparisons.html", *sorted(f"f/{p.name}" for p in (out / "f").glob("*.html"))):
        _load(driver, f"{base}/{page}")
        scroll, client = driver.execute_script(_WIDTHS)
        assert scroll <= client, f"{page} scrolls sideways: {scroll} px of content in {client} px"
    _load(driver, f"{base}/index.html")
    assert driver.execute_script("return window.innerWidth") == 1280
    assert not driver.execute_script(_OVERFLOWING_CARDS)
    assert not driver.execute_script(_CARDS_WITHOUT_THUMBNAIL)


def test_every_page_loads_every_image(site, driver, tmp_path):
    base, out, log = site
    pages = ["index.html", "comparisons.html", *sorted(f"f/{p.name}" for p in (out / "f").glob("*.html"))]
    assert len(pages) == len(actlab.registry()) + 2
    broken = []
    n_images = 0
    for page in pages:
        images = _load(driver, f"{base}/{page}")
        n_images += len(images)
        broken += [(page, src) for src, complete, width in images if not complete or width == 0]
        if page == "index.html":
            cards = driver.execute_script("return document.querySelectorAll('article.card').length")
            assert cards == len(actlab.registry())
    assert not broken, f"broken images: {broken[:10]}"
    assert n_images > 3 * len(actlab.registry())
    errors = [(path, code) for path, code in log if code >= 400]
    assert not errors, f"HTTP errors: {errors[:10]}"
    # every link on the index leads to a page that exists
    driver.get(f"{base}/index.html")
    links = driver.execute_script("return Array.from(document.links).map(a => a.getAttribute('href'))")
    local = {h.split("#")[0] for h in links if h and not h.startswith(("http:", "https:", "#"))}
    assert all((out / h).is_file() for h in local), sorted(h for h in local if not (out / h).is_file())

_RESOURCES = "return performance.getEntriesByType('resource').map(r => r.name)"


def test_nothing_is_fetched_from_elsewhere(site, driver):
    base, out, _ = site
    for page in ("index.html", "comparisons.html", "f/gelu.html"):
        _load(driver, f"{base}/{page}")
        resources = driver.execute_script(_RESOURCES)
        assert resources, page
        foreign = [r for r in resources if not r.startswith(base)]
        assert not foreign, f"{page} loads {foreign}"


def test_screenshot_of_the_index(site, driver, tmp_path):
    base, _, _ = site
    _load(driver, f"{base}/index.html")
    shot = tmp_path / "gallery-index.png"
    assert driver.save_screenshot(str(shot))
    data = shot.read_bytes()
    assert data[:4] == b"\x89PNG" and len(data) > 20_000
    target = os.environ.get("ACTLAB_SCREENSHOT")
    if target:  # keep a copy: ACTLAB_SCREENSHOT=docs/img/gallery-index.png writes the README's picture
        Path(target).write_bytes(data)
