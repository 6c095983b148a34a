"""The Airflow 3 UI driven in headless Chromium (Playwright, with the Debian chromium)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.conftest import required_program

DAG_ID = "retune_demo_regression"


def chromium_path() -> str:
    return required_program("chromium", "chromium-browser", debian_package="chromium")


class AirflowUI:
    """Signed in as the admin user of the simple auth manager; screenshots go to ``shots``."""

    def __init__(self, url: str, airflow_home: str, shots: Path) -> None:
        self.url, self.shots = url, shots
        passwords = Path(airflow_home) / "simple_auth_manager_passwords.json.generated"
        self.password = json.loads(passwords.read_text())["admin"]
        self.last_report_href = self.last_answer_page = ""

    def __enter__(self) -> AirflowUI:
        from playwright.sync_api import sync_playwright

        self._playwright = sync_playwright().start()
        self._browser = self._playwright.chromium.launch(
            executable_path=chromium_path(), args=["--no-sandbox"]
        )
        self.page = self._browser.new_page(viewport={"width": 1400, "height": 1000})
        self.page.set_default_timeout(60_000)
        self.page.goto(f"{self.url}/")
        self.page.locator("input[name=username]").fill("admin")
        self.page.locator("input[name=password]").fill(self.password)
        self.page.locator("button[type=submit]").click()
        self.page.wait_for_url(f"{self.url}/", timeout=60_000)
        return self

    def __exit__(self, *_: object) -> None:
        self._browser.close()
        self._playwright.stop()

    def open_trigger_dialog(self) -> Any:
        self.page.goto(f"{self.url}/dags/{DAG_ID}")
        self.page.get_by_role("button", name="Trigger").first.click()
        dialog = self.page.get_by_role("dialog")
        dialog.get_by_text("Run Parameters").wait_for()
        return dialog

    def typed_into_the_form(self, name: str, value: str) -> str:
        """What the Params form keeps of ``value`` typed into field ``name``."""
        dialog = self.open_trigger_dialog()
        field = dialog.locator(f"input[name=element_{name}]")
        field.fill(value)
        field.blur()
        self.page.wait_for_timeout(500)
        kept = field.input_value()
        self.page.screenshot(path=str(self.shots / f"ui-form-{name}.png"))
        self.page.keyboard.press("Escape")
        return kept

    def trigger_with_json(self, changes: dict[str, Any]) -> str:
        """Trigger with the conf JSON edited (Advanced Options); return the dialog's error."""
        dialog = self.open_trigger_dialog()
        dialog.get_by_text("Advanced Options").click()
        dialog.locator(".monaco-editor").first.click()
        self.page.keyboard.press("Control+A")
        self.page.keyboard.press("Delete")
        self.page.keyboard.insert_text(json.dumps(changes))  # the rest: the Params' defaults
        dialog.get_by_role("button", name="Trigger").click()
        error = dialog.get_by_text("400 Bad Request")
        error.wait_for()
        self.page.screenshot(path=str(self.shots / "ui-rejected.png"))
        text = str(dialog.inner_text())
        self.page.keyboard.press("Escape")
        return text

    def trigger_with_the_form(self, values: dict[str, str]) -> None:
        dialog = self.open_trigger_dialog()
        for name, value in values.items():
            field = dialog.locator(f"input[name=element_{name}]")
            field.fill(value)
            field.blur()
        self.page.screenshot(path=str(self.shots / "ui-trigger.png"))
        dialog.get_by_role("button", name="Trigger").click()
        dialog.wait_for(state="hidden")

    def answer_required_action(self, dag_id: str, run_id: str, task_id: str, option: str) -> str:
        """Pick ``option`` on the task's Required Actions page; return what the page showed
        before. When the page did not confirm the answer, ``last_answer_page`` holds what
        it showed after."""
        from urllib.parse import quote

        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        url = f"{self.url}/dags/{dag_id}/runs/{quote(run_id, safe='')}/tasks/{task_id}"
        self.page.goto(f"{url}/required_actions")
        button = self.page.get_by_role("button", name=option, exact=True)
        button.wait_for()
        text = str(self.page.locator("body").inner_text())
        link = self.page.get_by_role("link", name="The run's report")
        self.last_report_href = str(link.first.get_attribute("href")) if link.count() else ""
        self.page.screenshot(path=str(self.shots / f"ui-approval-{option.lower()}.png"))
        button.click()
        done = self.page.get_by_text(f"{task_id} response successful").first
        try:
            done.wait_for()
        except PlaywrightTimeout:
            # The toast is only a hint (it fades, and a loaded machine may miss it): the
            # caller checks the task's state; what the page said is kept for its message.
            self.last_answer_page = str(self.page.locator("body").inner_text())
        else:
            self.last_answer_page = ""
        self.page.screenshot(path=str(self.shots / f"ui-approval-{option.lower()}-done.png"))
        return text
