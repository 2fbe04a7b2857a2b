"""What an image cluster's host-side programs look like (pure renderers)."""

from __future__ import annotations

from pathlib import Path

import pytest

from corral.errors import ProviderError
from corral.providers.local import _files, _imageroot
from corral.providers.local._layout import ClusterLayout


def test_images_are_the_default_host_opts_out_other_values_are_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(_imageroot.NODE_ROOT_ENV, raising=False)
    assert _imageroot.requested()
    monkeypatch.setenv(_imageroot.NODE_ROOT_ENV, "host")
    assert not _imageroot.requested()
    monkeypatch.setenv(_imageroot.NODE_ROOT_ENV, "image")
    assert _imageroot.requested()
    monkeypatch.setenv(_imageroot.NODE_ROOT_ENV, "docker")
    with pytest.raises(ProviderError, match="not 'host' or 'image'"):
        _imageroot.requested()


def test_a_slurm_wrapper_runs_the_images_command_in_the_heads_root_from_the_callers_directory() -> None:
    layout = ClusterLayout(Path("/state"), "c1")
    text = _imageroot.render_slurm_wrapper(layout, "squeue")
    assert "pid=$(cat /state/clusters/c1/head/holder.pid)" in text
    assert 'nsenter -t "$pid" --mount --root --' in text
    assert text.rstrip().endswith('sh "$PWD" /usr/bin/squeue "$@"')


def test_a_slurm_program_leaves_the_heads_root_through_the_clusters_anchor() -> None:
    layout = ClusterLayout(Path("/state"), "c1")
    leave = _imageroot.leave_head(layout)
    text = _files.render_wrapper(layout, "/venv/bin/python", "suspend", {"PATH": "/x"}, leave=leave)
    last = text.splitlines()[-1]
    assert last.startswith(
        f'exec nsenter -t "$(cat {layout.run_dir}/host-anchor.pid)" --mount -- /usr/bin/env -i'
    )
    assert "PATH=/x" in last and "/venv/bin/python -m corral.daemons.suspend" in last
    plain = _files.render_wrapper(layout, "/venv/bin/python", "suspend").splitlines()[-1]
    assert plain.startswith("exec /usr/bin/env -i ")
