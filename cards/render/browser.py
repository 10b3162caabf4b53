"""Render cards to PNG with the official Adaptive Cards JS renderer in headless Debian Chromium.

The page (``index.html``) loads npm ``adaptivecards`` 3.0.6, ``markdown-it`` and the Teams container CSS from
``node_modules`` (installed at build time with ``npm ci`` in this folder), applies the Teams light or dark host config,
and reports every parse event and ``validateProperties()`` event. Any such event is an error here: a card that the
official renderer complains about is not shipped. Every remote request is aborted, except the app's own image URLs
that the caller serves from memory (``images``), so renders are offline and reproducible (font pinned to Liberation
Sans, DPR 1).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from cards.validate import host_config

RENDER_DIR = Path(__file__).resolve().parent
PAGE = RENDER_DIR / "index.html"
NODE_MODULES = RENDER_DIR / "node_modules"
REQUIRED_ASSETS = (
    "adaptivecards/dist/adaptivecards.min.js",
    "markdown-it/dist/markdown-it.min.js",
    "adaptivecards-designer/dist/containers/teams-container-light.css",
    "adaptivecards-designer/dist/containers/teams-container-dark.css",
)
DEFAULT_WIDTH = 500  # a phone-width Teams card
#: The font families index.html pins for every element (see there), and their Debian packages; snapshots depend on them.
PINNED_FONTS = {"Liberation Sans": "fonts-liberation", "DejaVu Sans": "fonts-dejavu-core"}
THEMES = ("light", "dark")


def chromium_path() -> Path:
    return Path(os.environ.get("PLI_CHROMIUM", "/usr/bin/chromium"))


def _font_installed(family: str) -> bool:
    fc_list = shutil.which("fc-list")
    if fc_list is None:
        return False
    out = subprocess.run([fc_list, family, "family"], capture_output=True, text=True, check=False).stdout
    return family in out


def missing_prerequisites() -> list[str]:
    """What is missing to render here, each with the command that installs it (empty when ready)."""
    missing = []
    if not chromium_path().exists():
        missing.append(f"Chromium not found at {chromium_path()}: apt-get install -y chromium")
    for family, package in PINNED_FONTS.items():
        if not _font_installed(family):
            missing.append(f"font {family!r} not installed: apt-get install -y {package}")
    absent = [a for a in REQUIRED_ASSETS if not (NODE_MODULES / a).exists()]
    if absent:
        missing.append(f"renderer assets missing ({absent[0]} ...): cd {RENDER_DIR} && npm ci")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing.append("Python package playwright missing: pip install playwright")
    return missing


class RenderError(RuntimeError):
    """The renderer is not available, or it reported problems with a card."""


@dataclass(frozen=True, slots=True)
class Rendered:
    png: bytes
    events: tuple[str, ...]  # parse and validation events, "Event: message"
    broken_images: tuple[str, ...]
    html: str


class CardRenderer:
    """One headless Chromium for many renders (start-up about 1 s; a render with its PNG about 0.1 s).

    Playwright's sync API installs a running event loop on the thread that starts it, which would break any asyncio
    code (and pytest-asyncio tests) on that thread for as long as the browser lives. So every Playwright call runs on
    one private worker thread, and the caller's thread never sees Playwright's loop. This also makes the renderer
    usable from async code (its calls block).
    """

    def __init__(self, images: Mapping[str, bytes] | None = None):
        self._images = dict(images or {})
        self._pool: ThreadPoolExecutor | None = None
        self._pw = None
        self._context = None
        self._page = None
        self._profile: str | None = None

    def __enter__(self) -> CardRenderer:
        problems = missing_prerequisites()
        if problems:
            raise RenderError("cannot render cards here: " + "; ".join(problems))
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="card-render")
        try:
            self._pool.submit(self._start).result()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _start(self) -> None:
        from playwright.sync_api import sync_playwright

        self._profile = tempfile.mkdtemp(prefix="pli-card-render-")
        self._pw = sync_playwright().start()
        self._context = self._pw.chromium.launch_persistent_context(
            self._profile,
            executable_path=str(chromium_path()),
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
                "--disable-sync",
                "--font-render-hinting=none",
                # Belt and braces behind the route below: anything not fulfilled from memory goes nowhere.
                "--proxy-server=http://127.0.0.1:9",
            ],
            device_scale_factor=1,
            # Not offline=True: it would also fail the app images we fulfil from memory in _route.
        )
        self._page = self._context.new_page()
        self._page.route(lambda url: url.startswith(("http://", "https://")), self._route)
        self._page.goto(PAGE.as_uri())
        self._page.wait_for_function("() => !!(window.AdaptiveCards && window.renderCard)")

    def _route(self, route) -> None:
        url = route.request.url
        if url in self._images:
            route.fulfill(status=200, content_type="image/png", body=self._images[url])
        else:
            route.abort()

    def _stop(self) -> None:
        try:
            if self._context is not None:
                self._context.close()
        finally:
            if self._pw is not None:
                self._pw.stop()
            self._context = self._pw = self._page = None

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._pool is not None:
            try:
                self._pool.submit(self._stop).result()
            finally:
                self._pool.shutdown(wait=True)
                self._pool = None
        if self._profile:
            shutil.rmtree(self._profile, ignore_errors=True)
            self._profile = None

    def render(self, card: dict, theme: str = "light", width: int = DEFAULT_WIDTH) -> Rendered:
        if self._pool is None:
            raise RenderError("use CardRenderer as a context manager")
        return self._pool.submit(self._render, card, theme, width).result()

    def _render(self, card: dict, theme: str, width: int) -> Rendered:
        result = self._page.evaluate(
            "a => window.renderCard(a)",
            {"card": card, "hostConfig": host_config(theme), "width": width, "theme": theme},
        )
        events = tuple(f"{e['event']}: {e['message']}" for e in [*result["parseEvents"], *result["validationEvents"]])
        png = self._page.locator("#frame").screenshot(animations="disabled")
        return Rendered(png, events, tuple(result["brokenImages"]), result["html"])


def render_cards(
    cards: Mapping[str, dict],
    out_dir: Path | str,
    themes: Iterable[str] = THEMES,
    *,
    width: int = DEFAULT_WIDTH,
    images: Mapping[str, bytes] | None = None,
) -> list[Path]:
    """Write ``<name>-<theme>.png`` for every card and theme; raises RenderError if the renderer reports anything.

    Safe to call from async code (it blocks): Playwright runs on the renderer's own thread.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    problems: list[str] = []
    with CardRenderer(images) as renderer:
        for name, card in cards.items():
            for theme in themes:
                rendered = renderer.render(card, theme, width)
                problems += [f"{name} ({theme}): {e}" for e in rendered.events]
                problems += [f"{name} ({theme}): image did not load: {u}" for u in rendered.broken_images]
                path = out / f"{name}-{theme}.png"
                path.write_bytes(rendered.png)
                written.append(path)
    if problems:
        raise RenderError("the Adaptive Cards renderer reported problems:\n" + "\n".join(problems))
    return written
