"""Component documents are parsed and checked before anything is built: every problem says the
component and the line, and each action renders the bash a build node runs."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from corral.errors import BadRequestError
from corral.images.actions import step_script
from corral.images.components import parse_component

DOC = """\
name: Tools
schemaVersion: 1.0
parameters:
  - Greeting: {type: string, default: hello}
phases:
  - name: build
    steps:
      - name: Say
        action: ExecuteBash
        maxAttempts: 2
        timeoutSeconds: 30
        onFailure: Continue
        inputs:
          commands: ["echo {{ Greeting }} > $OUT/said"]
      - name: Write
        action: CreateFile
        inputs:
          - path: $OUT/file
            content: "a 'quoted' line"
  - name: test
    steps:
      - name: Check
        action: ExecuteBash
        inputs:
          commands: ["grep -q hello $OUT/said"]
"""


def test_a_document_gives_its_phases_steps_and_substituted_inputs() -> None:
    doc = parse_component(DOC, label="component 1 (tools.yaml)")
    assert doc.name == "Tools"
    assert [p for p, _ in doc.phases] == ["build", "test"]
    say, write = doc.steps("build")
    assert (say.max_attempts, say.timeout_s, say.on_failure, say.line) == (2, 30, "Continue", 8)
    assert say.inputs == {"commands": ["echo hello > $OUT/said"]}
    assert write.action == "CreateFile" and doc.steps("validate") == ()


def test_rendered_steps_run_under_bash(tmp_path: Path) -> None:
    doc = parse_component(DOC.replace("$OUT", str(tmp_path)), label="c")
    for step in (*doc.steps("build"), *doc.steps("test")):
        script = step_script(step)
        assert script is not None
        subprocess.run(["bash", "-c", script], check=True)
    assert (tmp_path / "said").read_text() == "hello\n"
    assert (tmp_path / "file").read_text() == "a 'quoted' line"


def test_a_plain_script_is_one_build_step() -> None:
    doc = parse_component("#!/bin/bash\necho hi\n", label="c")
    (step,) = doc.steps("build")
    assert step.action == "ExecuteScript" and "base64 -d" in (step_script(step) or "")


HEAD = "schemaVersion: 1.0\nphases:\n  - name: build\n    steps:\n      - name: A\n"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("schemaVersion: 1.0\nphases: [\n", "line 3: not valid YAML"),
        ("schemaVersion: 1.0\nname: x\n", "line 1: 'phases' is required"),
        ("schemaVersion: 2.0\nphases: []\n", "schemaVersion '2.0' is not supported"),
        (
            "schemaVersion: 1.0\nphases:\n  - name: deploy\n    steps: [{name: a, action: ExecuteBash}]\n",
            "line 3: unknown phase 'deploy'",
        ),
        (
            HEAD + "        inputs: {}\n",
            "line 5: phase 'build': a step has no 'action'",
        ),
        (
            HEAD + "        action: Explode\n",
            "action 'Explode' is not supported",
        ),
        (
            HEAD + "        action: ExecuteBash\n"
            "        inputs: {commands: [x]}\n        timeoutSeconds: -3\n",
            "timeoutSeconds is -3",
        ),
        (
            HEAD + "        action: ExecuteBash\n        inputs: {command: [x]}\n",
            "ExecuteBash input lacks commands",
        ),
        (
            HEAD + "        action: ExecuteBash\n        inputs: {commands: ['{{ Nope }}']}\n",
            "'{{ Nope }}' names no parameter",
        ),
        (
            "schemaVersion: 1.0\nparameters:\n  - P: {type: string}\nphases: []\n",
            "parameter 'P' has no default",
        ),
    ],
)
def test_bad_documents_get_a_located_error(text: str, expected: str) -> None:
    with pytest.raises(BadRequestError) as caught:
        parse_component(text, label="component 2 (s3://bucket/tools.yaml)")
    assert caught.value.message.startswith("Bad Request: component 2 (s3://bucket/tools.yaml)")
    assert expected in caught.value.message


FILES = """\
schemaVersion: 1.0
phases:
  - name: build
    steps:
      - name: Folder
        action: CreateFolder
        inputs:
          - path: $OUT/a/b
            permissions: "0750"
      - name: File
        action: CreateFile
        inputs:
          - path: $OUT/a/b/f
            content: "one"
      - name: Append
        action: AppendFile
        inputs:
          - path: $OUT/a/b/f
            content: " two"
      - name: Copy
        action: CopyFile
        inputs:
          - source: $OUT/a/b/f
            destination: $OUT/c/g
      - name: Move
        action: MoveFile
        inputs:
          - source: $OUT/c/g
            destination: $OUT/d/h
      - name: Mode
        action: SetFilePermissions
        inputs:
          - path: $OUT/d/h
            permissions: "0600"
      - name: CopyDir
        action: CopyFolder
        inputs:
          - source: $OUT/a
            destination: $OUT/e
      - name: Gone
        action: DeleteFile
        inputs:
          - path: $OUT/a/b/f
      - name: GoneDir
        action: DeleteFolder
        inputs:
          - path: $OUT/a
            force: true
      - name: Binary
        action: ExecuteBinary
        inputs:
          path: /bin/sh
          arguments: ["-c", "echo ran > $OUT/binary"]
"""


def test_file_and_folder_actions_do_what_image_builder_says(tmp_path: Path) -> None:
    doc = parse_component(FILES.replace("$OUT", str(tmp_path)), label="c")
    for step in doc.steps("build"):
        script = step_script(step)
        assert script is not None, step.action
        subprocess.run(["bash", "-c", script], check=True)
    assert (tmp_path / "d" / "h").read_text() == "one two"
    assert oct((tmp_path / "d" / "h").stat().st_mode & 0o777) == "0o600"
    assert (tmp_path / "e" / "b" / "f").read_text() == "one two"
    assert not (tmp_path / "a").exists() and not (tmp_path / "c" / "g").exists()
    assert (tmp_path / "binary").read_text() == "ran\n"
