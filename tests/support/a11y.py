"""An accessibility audit of the page a Playwright test is on: axe-core (vendored under
``support/vendor/axe-core``, injected by the test, never served by Corral) with the WCAG 2.1 A/AA
rules and axe's best practices; ``violations(page)`` is every rule the page breaks, as text."""

from __future__ import annotations

from pathlib import Path
from typing import Any

AXE = Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]


def inject(context: Any) -> None:
    """Make axe available in every page of a browser context (an init script: the page's own
    content-security policy, which allows only Corral's scripts, does not apply to it)."""
    context.add_init_script(script=AXE.read_text(encoding="utf-8"))


def violations(page: Any) -> list[str]:
    """Each violated rule with its impact, help text and the first few offending elements."""
    script = "(t) => axe.run(document, {runOnly: {type: 'tag', values: t}, resultTypes: ['violations']})"
    result = page.evaluate(script, TAGS)
    out = []
    for rule in result["violations"]:
        targets = ["/".join(map(str, node["target"])) for node in rule["nodes"][:5]]
        out.append(f"{rule['id']} ({rule['impact']}): {rule['help']} -> {targets}")
    return out


__all__ = ["AXE", "TAGS", "inject", "violations"]
