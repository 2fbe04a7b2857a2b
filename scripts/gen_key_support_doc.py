"""Regenerate docs/config-keys.md from src/corral/config/data/key_support.txt.

Run after changing the data file:  .venv/bin/python scripts/gen_key_support_doc.py
(tests/unit/config/test_key_support.py fails while the committed doc is stale).
"""

from __future__ import annotations

from pathlib import Path

from corral.config.key_support import render_markdown

DOC = Path(__file__).resolve().parents[1] / "docs" / "config-keys.md"

if __name__ == "__main__":
    DOC.write_text(render_markdown())
    print(f"wrote {DOC}")
