"""`pm export`: the corpus in tests/export_corpus exported to each target matches its golden
files, and what it writes passes each engine's own checker: Kubernetes' API schemas
(kubernetes-validate, offline), the Compose Specification's JSON schema (as check-jsonschema
ships it) and `systemd-analyze verify`.

Regenerate the golden files after a deliberate change with
    PM_UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_export.py
and read the diff before committing it (tests/export_corpus/README.md).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from helpers import EXPORT_CORPUS

from pm.export import source, targets
from pm.export.container import Options
from pm.export.notes import Notes

CORPUS = EXPORT_CORPUS
GOLDEN = CORPUS / "golden"
PLACEHOLDER = "@CORPUS@"
#: The PATH the exports run with, so the interpreters in systemd units are the same anywhere.
PATH = "/usr/bin:/bin"
#: The Kubernetes versions the manifests are checked against (kubernetes-validate ships both).
K8S_VERSIONS = ("1.30.0", "1.37.0")

#: Corpus file -> how it is exported (the same for every target).
CASES: dict[str, dict[str, str | None]] = {
    "web.json": {"env_name": "production", "image": None},  # each app names its image
    "jobs.yaml": {"env_name": None, "image": None},  # no image at all: placeholder, warned
    "shared.config.js": {"env_name": "staging", "image": "registry.example.com/shop:3"},
    "edge.yaml": {"env_name": None, "image": None},
}
TARGETS = ("kubernetes", "compose", "systemd")


def render(file: str, target: str) -> dict[str, str]:
    """The export's files plus warnings.txt, as the CLI would write them."""
    case = CASES[file]
    notes = Notes()
    path = str(CORPUS / file)
    apps = source.from_file(path, case["env_name"], None, notes)
    options = Options(case["image"], "/app", case["env_name"], str(CORPUS))
    files = targets.export(target, apps, options, notes, file)
    files["warnings.txt"] = "".join(f"{line}\n" for line in notes.lines)
    return files


def _needs(file: str) -> list[pytest.MarkDecorator]:
    return [pytest.mark.needs("node")] if file.endswith(".js") else []


CASE_PARAMS = [
    pytest.param(file, target, marks=_needs(file), id=f"{file}-{target}")
    for file in CASES
    for target in TARGETS
]


@pytest.fixture
def fixed_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", f"{PATH}:{os.path.dirname(shutil.which('node') or '/usr/bin')}")


@pytest.mark.parametrize(("file", "target"), CASE_PARAMS)
def test_matches_golden_files(file: str, target: str, fixed_path: None) -> None:
    files = {
        name: text.replace(str(CORPUS), PLACEHOLDER) for name, text in render(file, target).items()
    }
    folder = GOLDEN / file / target
    if os.environ.get("PM_UPDATE_GOLDEN"):
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        for name, text in files.items():
            (folder / name).write_text(text)
    golden = {path.name: path.read_text() for path in sorted(folder.iterdir())}
    assert sorted(files) == sorted(golden)
    for name, text in files.items():
        assert text == golden[name], f"{folder / name} differs: PM_UPDATE_GOLDEN=1 rewrites it"


@pytest.mark.parametrize("file", [pytest.param(f, marks=_needs(f)) for f in CASES])
def test_kubernetes_manifests_validate(file: str, fixed_path: None) -> None:
    import kubernetes_validate

    kinds = set()
    for name, text in render(file, "kubernetes").items():
        if name == "warnings.txt":
            continue
        for document in yaml.safe_load_all(text):
            kinds.add(document["kind"])
            for version in K8S_VERSIONS:
                kubernetes_validate.validate(document, version, strict=True)
    assert kinds & {"Deployment", "CronJob", "Job"}


def test_kubernetes_validation_can_fail() -> None:
    """The checker refuses a field the API does not have: a pass means something."""
    import kubernetes_validate

    text = (GOLDEN / "web.json" / "kubernetes" / "web.yaml").read_text()
    document = next(yaml.safe_load_all(text))
    document["spec"]["template"]["spec"]["containers"][0]["restartDelay"] = 250
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(document, K8S_VERSIONS[0], strict=True)


def _check_compose(paths: list[Path]) -> subprocess.CompletedProcess[str]:
    checker = Path(sys.executable).parent / "check-jsonschema"
    return subprocess.run(
        [str(checker), "--builtin-schema", "vendor.compose-spec", *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_compose_files_validate(tmp_path: Path, fixed_path: None) -> None:
    """Every corpus file's compose.yaml (JS ones where node is here) in one checker run."""
    paths = []
    for file in CASES:
        if file.endswith(".js") and shutil.which("node") is None:
            continue
        path = tmp_path / f"{file}.compose.yaml"
        path.write_text(render(file, "compose")["compose.yaml"])
        paths.append(path)
    result = _check_compose(paths)
    assert result.returncode == 0, result.stdout + result.stderr
    broken = tmp_path / "broken.compose.yaml"
    data = yaml.safe_load(paths[0].read_text())
    next(iter(data["services"].values()))["restart_delay"] = "250ms"
    broken.write_text(yaml.safe_dump(data))
    assert _check_compose([broken]).returncode != 0  # the schema does refuse unknown keys


@pytest.mark.needs("systemd-analyze")
@pytest.mark.parametrize("file", [pytest.param(f, marks=_needs(f)) for f in CASES])
def test_systemd_units_verify(file: str, tmp_path: Path, fixed_path: None) -> None:
    files = render(file, "systemd")
    units = [tmp_path / name for name in files if name != "warnings.txt"]
    for path in units:
        path.write_text(files[path.name])
    result = subprocess.run(
        ["systemd-analyze", "verify", *map(str, units)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert [
        line
        for line in result.stderr.splitlines()
        if str(tmp_path) in line or ".service" in line or ".socket" in line or ".timer" in line
    ] == []


@pytest.mark.needs("systemd-analyze")
def test_systemd_verify_can_fail(tmp_path: Path) -> None:
    unit = tmp_path / "broken.service"
    unit.write_text("[Service]\nExecStart=/nonexistent/app\n")
    result = subprocess.run(
        ["systemd-analyze", "verify", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0 and "broken.service" in result.stderr
