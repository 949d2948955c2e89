"""Real-browser tests: Debian's Chromium driven by Playwright against a live server.

Nothing is downloaded: Playwright is pointed at /usr/bin/chromium (CHROMIUM_PATH to change it).
Outside CI the tests skip when Chromium is missing; in CI (CI=true) that is a failure.
`make screenshots` runs them with UPDATE_SCREENSHOTS=1 to refresh the pictures in docs/img.
"""

import os
from pathlib import Path

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "img"
INSTALL_HINT = "install it with: sudo apt-get install chromium fonts-wqy-microhei"

# Playwright's sync API keeps an event loop running in this thread; the ORM calls the tests make
# to set up and check data are ordinary synchronous calls all the same.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        message = f"Chromium not found at {CHROMIUM}: {INSTALL_HINT}"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser, settings):
    # The simulator (same origin) frames the panel, as Easemob's workbench does.
    settings.SIMULATOR_ENABLED = True
    settings.PANEL_FRAME_ANCESTORS = [*settings.PANEL_FRAME_ANCESTORS, "'self'"]
    context = browser.new_context(viewport={"width": 1280, "height": 800}, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


@pytest.fixture
def staff_page(page, live_server, django_user_model, client):
    """A browser page logged in to the admin as a superuser."""
    user = django_user_model.objects.create_superuser("boss", "boss@example.com", "pw-123456")
    client.force_login(user)
    session = client.cookies["sessionid"].value
    page.context.add_cookies([{"name": "sessionid", "value": session, "url": live_server.url}])
    return page


@pytest.fixture
def screenshot(tmp_path):
    """Save a screenshot: into docs/img with UPDATE_SCREENSHOTS=1 (`make screenshots`), else
    into the test's temporary folder, so that a test run leaves the work tree as it was."""
    folder = SCREENSHOTS if os.environ.get("UPDATE_SCREENSHOTS") else tmp_path

    def save(page, name):
        folder.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(folder / name), full_page=False)

    return save
