"""A real browser for tests: Debian's Chromium, headless, driven by Selenium.

It never skips: where Chromium or its driver is missing the test fails saying how to install
them (`make test` installs both with apt-get where it can).  Selenium is pointed at the installed driver, so its
own manager never tries to download one.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
# Headless, and quiet: no sandbox (tests run as root in CI), no network of its own, no updates,
# no sync, no first-run pages.
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1280,1024")


@contextmanager
def chromium() -> Iterator[WebDriver]:
    """A fresh headless Chromium (its own profile directory), quit afterwards."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    missing = [path for path in (CHROMIUM, CHROMEDRIVER) if not Path(path).exists()]
    if missing:
        pytest.fail(f"{', '.join(missing)} missing: install Debian's browser with "
                    "`apt-get install -y chromium chromium-driver` (`make test` does, as root)", pytrace=False)
    profile = tempfile.mkdtemp(prefix="latchkey-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*FLAGS, f"--user-data-dir={profile}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def open_page(driver: WebDriver, html: str, folder: Path) -> None:
    """Show `html` as an auditor would: a file opened from disk."""
    path = folder / "page.html"
    path.write_text(html, encoding="utf-8")
    driver.get(path.as_uri())
