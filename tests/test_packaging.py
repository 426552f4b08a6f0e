"""What ``pip install`` users get: metadata, declared dependencies, and a wheel that trains.

The wheel test builds the package from a copy of the sources, installs it with ``--no-deps`` into
a fresh venv that borrows this environment's site-packages (torch, Lightning, ...) through a
``.pth`` line, and runs the ``codec-train`` console script from an empty folder.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

from codec.errors import DISTRIBUTION

ROOT = Path(__file__).resolve().parent.parent
#: import name -> distribution, where they differ
DIST_OF = {"yaml": "pyyaml", "hydra": "hydra-core"}
#: imported but provided by a declared distribution (omegaconf comes with hydra-core)
PROVIDED = {"omegaconf"}
#: where an interpreter would import ``codec`` from (without importing it: torch is slow)
FIND_CODEC = "import importlib.util as u; print(u.find_spec('codec').origin)"


def project() -> dict:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def dist_names(requirements: list[str]) -> set[str]:
    """``["torch>=2.4", "speech-token-codec[lm]"]`` -> ``{"torch", "speech-token-codec"}``."""
    names = set()
    for req in requirements:
        for stop in "<>=![; ":
            req = req.split(stop)[0]
        names.add(req.strip().lower())
    return names


def third_party_imports() -> set[str]:
    """Top-level names of every non-stdlib module imported anywhere in ``codec/``."""
    found = set()
    for path in (ROOT / "codec").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                found.add(node.module.split(".")[0])
    return {name for name in found if name not in sys.stdlib_module_names and name != "codec"}


def test_metadata_names_the_distribution_and_licence() -> None:
    meta = project()
    assert meta["name"] == DISTRIBUTION  # the name the install hints print
    assert meta["license"] == "MIT" and meta["license-files"] == ["LICENSE"]
    assert "MIT License" in (ROOT / "LICENSE").read_text()
    assert meta["scripts"]["codec-train"] == "codec.lightning.train:main"


def test_every_import_is_declared_and_nothing_unused() -> None:
    meta = project()
    core = dist_names(meta["dependencies"])
    extras = {k: dist_names(v) for k, v in meta["optional-dependencies"].items()}
    declared = core.union(*extras.values())
    used = {DIST_OF.get(name, name) for name in third_party_imports() - PROVIDED}
    assert used <= declared, f"imported but not declared: {sorted(used - declared)}"
    assert core <= used, f"declared but never imported: {sorted(core - used)}"
    assert "librosa" not in core and "scipy" in core
    assert extras["lm"] == {"pyarrow"} and DISTRIBUTION in extras["dev"]  # dev includes [lm]


def build_wheel(tmp: Path) -> Path:
    """A wheel built offline from a copy of the sources (the checkout stays untouched)."""
    src = tmp / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, src / name)
    shutil.copytree(ROOT / "codec", src / "codec", ignore=shutil.ignore_patterns("__pycache__"))
    cmd = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation"]
    subprocess.run([*cmd, "-w", str(tmp / "dist"), str(src)], check=True, timeout=300)
    (wheel,) = (tmp / "dist").glob("*.whl")
    return wheel


def venv_with_wheel(tmp: Path, wheel: Path) -> Path:
    """A fresh venv holding only ``wheel``; its other imports come from this environment."""
    env_dir = tmp / "venv"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    # A plain path line: this environment's packages, but not its .pth hooks (the editable codec).
    (Path(site) / "borrowed.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    install = [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps"]
    subprocess.run([*install, str(wheel)], check=True, timeout=300)
    return env_dir


@pytest.mark.slow
def test_wheel_ships_configs_and_model_and_codec_train_runs(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path)
    names = set(zipfile.ZipFile(wheel).namelist())
    conf = {p.relative_to(ROOT).as_posix() for p in (ROOT / "codec/conf").rglob("*.yaml")}
    assert conf and conf <= names, sorted(conf - names)
    model = "codec/bundled/speech-16k-6kbps/"
    assert {model + "config.json", model + "model.safetensors", model + "README.md"} <= names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)

    env_dir = venv_with_wheel(tmp_path, wheel)
    work = tmp_path / "work"  # empty: no train.py, no conf/, no codec/ beside it
    work.mkdir()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "HYDRA_FULL_ERROR": "0"}
    env.pop("PYTHONPATH", None)
    where = subprocess.run(
        [str(env_dir / "bin/python"), "-c", FIND_CODEC],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert where.startswith(str(env_dir)), where  # the wheel's codec, not the checkout's
    speech = ROOT / "assets" / "speech"
    overrides = ["experiment=debug", "trainer.max_steps=2", "logger=none"]
    overrides += [f"data.train={speech / 'train'}", f"data.val={speech / 'val'}"]
    proc = subprocess.run(
        [str(env_dir / "bin/codec-train"), *overrides],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    export = work / "runs" / "debug" / "export"  # runs/<experiment> under the cwd, as train.py
    assert (export / "model.safetensors").is_file() and (export / "config.json").is_file()
