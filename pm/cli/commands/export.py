"""`pm export <kubernetes|compose|systemd> [file|running]`: the apps described for another
engine (pm/export does the mapping; this reads the running list and writes the files)."""

from __future__ import annotations

import os
from pathlib import Path

import click

from pm.cli import render
from pm.cli.base import client
from pm.errors import ConfigError, PMError

#: Looked for in the current folder when no source is named, PM2's name first.
DEFAULT_FILES = (
    "ecosystem.config.js",
    "ecosystem.config.cjs",
    "ecosystem.config.mjs",
    "ecosystem.json",
    "ecosystem.yaml",
    "ecosystem.yml",
)


@click.command("export", context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("target", metavar="<kubernetes|compose|systemd>")
@click.argument("source", required=False, metavar="[file|running]")
@click.option(
    "-o",
    "--output",
    "out_dir",
    metavar="DIR",
    help="Write the files into DIR (created if needed) instead of printing them.",
)
@click.option(
    "--image",
    metavar="IMAGE",
    help="Image of every app without an 'image' attribute (kubernetes, compose).",
)
@click.option("--env", "env_name", metavar="NAME", help="Apply env_<NAME> from the file.")
@click.option("--only", metavar="A,B", help="Only these apps.")
@click.option(
    "--workdir",
    default="/app",
    show_default=True,
    metavar="DIR",
    help="Where the image holds the ecosystem file's folder (kubernetes, compose).",
)
def export(
    target: str,
    source: str | None,
    out_dir: str | None,
    image: str | None,
    env_name: str | None,
    only: str | None,
    workdir: str,
) -> None:
    """Write Kubernetes manifests, a compose file or systemd units for the apps of an
    ecosystem file or of the running list.

    Anything a target cannot express is listed as a warning naming the app and the
    attribute. See docs/beyond-one-machine.md for the mapping, attribute by attribute.
    """
    from pm.export import source as sources
    from pm.export.container import Options
    from pm.export.notes import Notes
    from pm.export.targets import export as run_export
    from pm.export.targets import target_name

    name = target_name(target)
    if not workdir.startswith("/"):
        raise ConfigError(f"--workdir must be an absolute path, got {workdir!r}")
    wanted = [item for item in only.split(",") if item] if only else None
    notes = Notes()
    if source == "running":
        if env_name:
            raise ConfigError(
                "--env applies to a file: the running apps have their environment already"
            )
        apps = sources.from_jlist(client().call("list"), wanted)
        options = Options(image, workdir, None, os.getcwd())
        origin = "the running list"
    else:
        path = source or _default_file()
        apps = sources.from_file(path, env_name, wanted, notes)
        options = Options(image, workdir, env_name, str(Path(path).resolve().parent))
        origin = Path(path).name
    if not apps:
        raise PMError(f"{origin}: no app to export")
    files = run_export(name, apps, options, notes, origin)
    _write(files, name, out_dir)
    for line in notes.lines:
        click.echo(render.warn(line), err=True)


def _default_file() -> str:
    for name in DEFAULT_FILES:
        if os.path.isfile(name):
            return name
    raise ConfigError(
        "no ecosystem file here (ecosystem.config.js, ecosystem.json, "
        "ecosystem.yaml...): name one, or export `running`"
    )


def _write(files: dict[str, str], target: str, out_dir: str | None) -> None:
    if out_dir is None:
        if target == "kubernetes":
            click.echo("---\n".join(files.values()), nl=False)
        else:
            click.echo(
                "\n".join(
                    f"# {name}\n{text}" if target == "systemd" else text
                    for name, text in files.items()
                ),
                nl=False,
            )
        return
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text)
        click.echo(f"[PM] wrote {folder / name}")
