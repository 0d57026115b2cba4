"""A real install (the container image) holds everything the editable install finds in the
tree: every package and subpackage, every template and every top-level module.
(Subpackages such as `api.routes` were once missing from the wheel; only the editable
install hid it.)"""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TOP = ("domain", "activities", "workflows", "api", "commands")


def test_the_wheel_holds_every_module_and_template(tmp_path):
    # Built from a copy: setuptools reuses a `build/` directory, which could hold files
    # an earlier, different configuration put there.
    source = tmp_path / "src"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(
        ".venv", ".git", ".data", "build", "*.egg-info", "__pycache__", ".*_cache"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                    "-w", str(tmp_path), str(source)], check=True,
                   capture_output=True, timeout=300)
    [wheel] = tmp_path.glob("tempodesk-*.whl")
    packed = set(zipfile.ZipFile(wheel).namelist())
    wanted = {str(p.relative_to(REPO)) for top in TOP for p in (REPO / top).rglob("*")
              if p.suffix in (".py", ".j2") and "__pycache__" not in p.parts}
    wanted |= {p.name for p in REPO.glob("*.py")}  # worker, cli, ...: py-modules
    assert wanted and wanted <= packed, sorted(wanted - packed)
