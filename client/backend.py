"""The build backend of clearnode-client (PEP 517): a wheel and an sdist of the client SDK.

What it ships is computed, not listed: every module of `[tool.clearnode-client]
packages` and every module of this repository they import, at module level or inside a
function, transitively (`compute_modules`, read from the source with `ast`), so the
distribution cannot miss a module the SDK gained, nor carry one it dropped. Reaching a
package of `never` (the node, consensus) fails the build with the chain of imports that
led there. It runs on the standard library alone (`requires = []`), so building needs
no download and no other build tool: `pip install ./client`, `pip wheel ./client`, or
`python -m build client` (an sdist holding the same modules, whose wheel is the same).
"""

from __future__ import annotations

import ast
import base64
import email.message
import gzip
import hashlib
import io
import re
import tarfile
import tomllib
import zipfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
FIXED_TIME = (1980, 1, 1, 0, 0, 0)
"""Every archived file's time: the same sources build the same bytes."""
WHEEL_TAG = "py3-none-any"


class BuildError(Exception):
    """The SDK imports what it may not ship, or a module it imports is not in the source."""


def get_source_root() -> Path:
    """Where the modules are: the repository (client/'s parent) or, building from an
    sdist, the sdist itself (which holds them beside this file)."""
    return HERE if (HERE / "clearnode" / "client").is_dir() else HERE.parent


def read_project(config_dir: Path = HERE) -> dict[str, Any]:
    config: dict[str, Any] = tomllib.loads((config_dir / "pyproject.toml").read_text())
    return config


def find_module(root: Path, name: str) -> Path | None:
    """The file of module `name` under `root` (a package's `__init__.py`), or None."""
    base = root.joinpath(*name.split("."))
    for path in (base / "__init__.py", base.with_suffix(".py")):
        if path.is_file():
            return path
    return None


def get_imports(root: Path, name: str, path: Path, type_checking: bool = True) -> set[str]:
    """The modules `name` (at `path`) imports, wherever the statement is; `from a import
    b` counts `a` and, when it is a module, `a.b`. `type_checking=False` leaves out what
    an `if TYPE_CHECKING:` block imports (for annotations only, never at run time)."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    tree = ast.parse(path.read_text(), filename=str(path))
    skipped = (
        set()
        if type_checking
        else {
            id(inner)
            for node in ast.walk(tree)
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
            for inner in ast.walk(node)
        }
    )
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parts, *([node.module] if node.module else [])])
            found.add(base)
            found.update(
                f"{base}.{alias.name}"
                for alias in node.names
                if find_module(root, f"{base}.{alias.name}") is not None
            )
    return found


def get_local_packages(root: Path) -> set[str]:
    """The repository's own top-level packages."""
    return {p.parent.name for p in root.glob("*/__init__.py")}


def get_module_name(root: Path, path: Path) -> str:
    """The dotted name of the module at `path` (a package's name for its `__init__.py`)."""
    return ".".join(path.relative_to(root).with_suffix("").parts).removesuffix(".__init__")


def compute_modules(root: Path, packages: list[str], never: list[str]) -> dict[str, Path]:
    """Every module the SDK ships, by name: those of `packages` and what they import of
    the repository's own packages, transitively, with each one's parent packages."""
    local = get_local_packages(root)
    start = [
        get_module_name(root, path)
        for package in packages
        for path in sorted(root.joinpath(*package.split(".")).rglob("*.py"))
    ]
    came_from: dict[str, str] = {name: "" for name in start}
    modules: dict[str, Path] = {}
    todo = list(start)
    while todo:
        name = todo.pop()
        if name in modules or name.split(".")[0] not in local:
            continue
        if name.split(".")[0] in never:
            raise BuildError(f"the SDK may not ship {name}: {describe_chain(came_from, name)}")
        path = find_module(root, name)
        if path is None:
            raise BuildError(f"no module {name} in {root}: {describe_chain(came_from, name)}")
        modules[name] = path
        parents = [".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)]
        for found in [*parents, *get_imports(root, name, path)]:
            came_from.setdefault(found, name)
            todo.append(found)
    return dict(sorted(modules.items()))


def describe_chain(came_from: dict[str, str], name: str) -> str:
    chain = [name]
    while came_from.get(chain[-1]):
        chain.append(came_from[chain[-1]])
    return " <- ".join(chain)


def get_files(config_dir: Path = HERE, root: Path | None = None) -> dict[str, bytes]:
    """The distribution's files by their path in it: the modules and the data files."""
    root = get_source_root() if root is None else root
    tool = read_project(config_dir)["tool"]["clearnode-client"]
    modules = compute_modules(root, tool["packages"], tool["never"])
    names = [str(path.relative_to(root)) for path in modules.values()] + list(tool["data"])
    return {name: (root / name).read_bytes() for name in sorted(names)}


def get_metadata(project: dict[str, Any], readme: str) -> str:
    """Core metadata 2.1 (the wheel's METADATA, the sdist's PKG-INFO)."""
    meta = email.message.Message()
    meta["Metadata-Version"] = "2.1"
    meta["Name"] = project["name"]
    meta["Version"] = project["version"]
    meta["Summary"] = project["description"]
    meta["Requires-Python"] = project["requires-python"]
    for requirement in project["dependencies"]:
        meta["Requires-Dist"] = requirement
    for extra, requirements in project.get("optional-dependencies", {}).items():
        meta["Provides-Extra"] = extra
        for requirement in requirements:
            meta["Requires-Dist"] = f'{requirement}; extra == "{extra}"'
    meta["Description-Content-Type"] = "text/markdown"
    meta.set_payload(readme)
    return meta.as_string()


def get_distribution_name(project: dict[str, Any]) -> str:
    """The name as archive file names spell it (PEP 427: runs of -_. become _)."""
    return re.sub(r"[-_.]+", "_", project["name"]).lower()


def build_wheel(
    wheel_directory: str,
    config_settings: dict[str, Any] | None = None,
    metadata_directory: str | None = None,
) -> str:
    """PEP 517: write the wheel into `wheel_directory`; its file name."""
    project = read_project()["project"]
    stem = f"{get_distribution_name(project)}-{project['version']}"
    info = f"{stem}.dist-info"
    files = get_files()
    readme = (HERE / project["readme"]).read_text()
    files[f"{info}/METADATA"] = get_metadata(project, readme).encode()
    files[f"{info}/WHEEL"] = (
        f"Wheel-Version: 1.0\nGenerator: clearnode-client backend\n"
        f"Root-Is-Purelib: true\nTag: {WHEEL_TAG}\n"
    ).encode()
    tops = sorted({name.split("/")[0] for name in files if "/" in name} - {info})
    files[f"{info}/top_level.txt"] = "".join(f"{top}\n" for top in tops).encode()
    record = [f"{name},sha256={get_digest(data)},{len(data)}" for name, data in files.items()]
    files[f"{info}/RECORD"] = "\n".join([*record, f"{info}/RECORD,,", ""]).encode()
    wheel_name = f"{stem}-{WHEEL_TAG}.whl"
    with zipfile.ZipFile(Path(wheel_directory) / wheel_name, "w") as wheel:
        for name, data in files.items():
            entry = zipfile.ZipInfo(name, FIXED_TIME)
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o644 << 16
            wheel.writestr(entry, data)
    return wheel_name


def build_sdist(sdist_directory: str, config_settings: dict[str, Any] | None = None) -> str:
    """PEP 517: write the sdist into `sdist_directory` (this directory's files and the
    modules, laid out as in the repository); its file name."""
    project = read_project()["project"]
    stem = f"{get_distribution_name(project)}-{project['version']}"
    readme = (HERE / project["readme"]).read_text()
    files = {
        "PKG-INFO": get_metadata(project, readme).encode(),
        "pyproject.toml": (HERE / "pyproject.toml").read_bytes(),
        "backend.py": (HERE / "backend.py").read_bytes(),
        project["readme"]: readme.encode(),
        **get_files(),
    }
    sdist_name = f"{stem}.tar.gz"
    with (
        open(Path(sdist_directory) / sdist_name, "wb") as raw,
        gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as packed,
        tarfile.open(fileobj=packed, mode="w", format=tarfile.PAX_FORMAT) as sdist,
    ):
        for name, data in sorted(files.items()):
            entry = tarfile.TarInfo(f"{stem}/{name}")
            entry.size, entry.mode = len(data), 0o644
            sdist.addfile(entry, io.BytesIO(data))
    return sdist_name


def get_digest(data: bytes) -> str:
    """RECORD's hash: urlsafe base64 of the SHA-256, unpadded."""
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
