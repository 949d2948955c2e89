"""`make run` writes a local `.env` so that every manage.py command of the README works."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def make_env(tmp_path):
    shutil.copy(ROOT / "Makefile", tmp_path / "Makefile")
    result = subprocess.run(
        ["make", ".env", f"PYTHON={sys.executable}"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    lines = (tmp_path / ".env").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines)


def test_it_writes_a_debug_env_with_generated_secrets(tmp_path):
    first = make_env(tmp_path)
    assert first["DJANGO_DEBUG"] == "true"
    assert len(first["DJANGO_SECRET_KEY"]) >= 50
    assert len(first["PANEL_TOKEN"]) >= 20
    other = tmp_path / "other"
    other.mkdir()
    assert make_env(other)["DJANGO_SECRET_KEY"] != first["DJANGO_SECRET_KEY"]


def test_it_never_overwrites_an_existing_env(tmp_path):
    (tmp_path / ".env").write_text("DJANGO_DEBUG=false\n")
    assert make_env(tmp_path) == {"DJANGO_DEBUG": "false"}


def test_manage_py_runs_with_what_it_wrote(tmp_path):
    values = make_env(tmp_path)
    env = {"PATH": os.environ["PATH"], "DJANGO_SETTINGS_MODULE": "crm_project.settings", **values}
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


def test_the_env_file_is_ignored_by_git():
    assert ".env" in (ROOT / ".gitignore").read_text().splitlines()
