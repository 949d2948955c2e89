"""The API's Swagger UI in a real browser, under its Content-Security-Policy."""

import pytest

pytestmark = pytest.mark.django_db(transaction=True)

# Registered before the page's own scripts run; the browser fires the event for every blocked
# script, style, image or request.
RECORD_VIOLATIONS = """
window.cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.cspViolations.push(event.violatedDirective + " " + event.blockedURI);
});
"""


def test_the_docs_work_without_breaking_their_policy(page, live_server):
    page.add_init_script(RECORD_VIOLATIONS)
    response = page.goto(f"{live_server.url}/api/docs/")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    # Rendered by Swagger UI from the schema it fetched.
    page.get_by_text("/api/v1/customers/{external_id}/").first.wait_for()
    page.locator(".opblock-summary").first.click()
    page.get_by_role("button", name="Try it out").click()
    with page.expect_response(lambda r: "/api/v1/customers/" in r.url) as sent:
        page.get_by_role("button", name="Execute").click()
    # No token was given: the API refused it, and the page showed the answer.
    assert sent.value.status == 401
    page.locator(".live-responses-table .response-col_status", has_text="401").wait_for()
    assert page.evaluate("window.cspViolations") == []
