"""The gallery touches only the files it wrote: a second run replaces its
own figures, removes the ones it no longer draws, and leaves every other
file in the folder alone; bad output paths are clear CLI errors."""

from __future__ import annotations

import pytest

pytest.importorskip("matplotlib")

import actlab  # noqa: E402
from actlab.cli import main  # noqa: E402
from actlab.plot.gallery import MANIFEST, render_gallery  # noqa: E402


def _render(out, names):
    return render_gallery(out, progress=False, processes=1, entries=[actlab.get(n) for n in names])


def test_second_run_keeps_foreign_files_and_drops_stale_figures(tmp_path):
    for sub in ("fig", "f", "math", "thumb"):
        (tmp_path / sub).mkdir()
        (tmp_path / sub / "mine.txt").write_text("not the gallery's")
    (tmp_path / "notes.md").write_text("mine")
    _render(tmp_path, ["relu", "sigmoid"])
    listed = (tmp_path / MANIFEST).read_text().split()
    assert any("relu" in p for p in listed) and not any("mine" in p for p in listed)
    _render(tmp_path, ["relu"])
    files = {p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()}
    for sub in ("fig", "f", "math", "thumb"):
        assert f"{sub}/mine.txt" in files
    assert "notes.md" in files
    assert not any("sigmoid" in f for f in files if f.startswith(("fig/", "f/")))
    assert any("relu" in f for f in files if f.startswith("f/"))


def test_manifest_cannot_reach_outside_the_folder(tmp_path):
    outside = tmp_path / "precious.txt"
    outside.write_text("keep")
    site = tmp_path / "site"
    site.mkdir()
    (site / MANIFEST).write_text("../precious.txt\n")
    _render(site, ["relu"])
    assert outside.read_text() == "keep"


def test_out_naming_a_file_or_an_impossible_path_is_a_clear_error(tmp_path, capsys):
    f = tmp_path / "a_file"
    f.write_text("x")
    assert main(["gallery", "--out", str(f), "--quiet"]) == 2
    assert "out must be a folder" in capsys.readouterr().err
    assert main(["gallery", "--out", str(f / "below"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "error:" in err and "Traceback" not in err
