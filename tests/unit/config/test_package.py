"""The version `pm list` shows for an app: the nearest package.json above its script, found the
way PM2 finds it (the script's folder, then each parent; the first that parses ends it)."""

from __future__ import annotations

from pathlib import Path

from pm.config.package import package_version


def test_the_package_json_next_to_the_script(tmp_path: Path) -> None:
    (tmp_path / "package.json").write_text('{"name": "api", "version": "1.4.2"}')
    (tmp_path / "app.js").write_text("")
    assert package_version(str(tmp_path / "app.js"), "/") == "1.4.2"


def test_a_parent_folder_and_any_language(tmp_path: Path) -> None:
    (tmp_path / "package.json").write_text('{"version": "0.9.1"}')
    (tmp_path / "sub" / "deeper").mkdir(parents=True)
    assert package_version(str(tmp_path / "sub" / "deeper" / "w.py"), "/") == "0.9.1"


def test_the_nearest_that_parses_wins_with_or_without_a_version(tmp_path: Path) -> None:
    (tmp_path / "package.json").write_text('{"version": "2.0.0"}')
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "package.json").write_text("{not json")  # skipped, as PM2 skips it
    assert package_version(str(tmp_path / "a" / "x.js"), "/") == "2.0.0"
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "package.json").write_text('{"name": "no-version"}')
    assert package_version(str(tmp_path / "b" / "x.js"), "/") is None


def test_a_command_line_looks_from_its_cwd(tmp_path: Path) -> None:
    (tmp_path / "package.json").write_text('\ufeff{"version": "3.1.0"}')  # a BOM, as PM2 allows
    assert package_version("npm run start", str(tmp_path)) == "3.1.0"

