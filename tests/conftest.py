"""Hooks for the whole suite.

Outside CI a test may skip, with a one-line reason: the tests that read ``../shared`` skip in a clone
that has none beside it, and the end-to-end tests skip without root and Slurm. CI has both, so a
skip there means a test did not run: the run fails and names each skipped test.
"""

from __future__ import annotations

import os

import pytest


def _skipped(config: pytest.Config) -> list[pytest.TestReport | pytest.CollectReport]:
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    return list(reporter.stats.get("skipped", [])) if reporter is not None else []


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if not os.environ.get("CI") or hasattr(session.config, "workerinput"):
        return  # xdist's workers report to the controller, which decides
    if _skipped(session.config) and exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    skipped = _skipped(config)
    if not os.environ.get("CI") or not skipped:
        return
    terminalreporter.section("CI runs every test", red=True)
    terminalreporter.line(
        f"{len(skipped)} skipped under CI=true, so this run fails: CI has ../shared beside the clone, "
        "root and Slurm (scripts/setup.sh). Make each test below run, or run without CI=true."
    )
    for report in skipped:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        terminalreporter.line(f"  {report.nodeid}: {reason}")
