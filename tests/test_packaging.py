"""The wheel ships every package of the source tree.

The repository maps folders to import names (frontend/ -> llgrad, compiler/ -> llgrad.compiler,
runtime/ -> llgrad.runtime) with an explicit package list in pyproject.toml; a folder missing from
that list installs fine in editable mode and breaks a plain `pip install .` (the native back end
once did: llgrad.compiler.codegen was missing). These checks read the list, not the installed copy.
"""
import pathlib
import tomllib

ROOT = pathlib.Path(__file__).resolve().parents[1]
ROOTS = {"frontend": "llgrad", "compiler": "llgrad.compiler", "runtime": "llgrad.runtime"}


def setuptools_config():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def source_packages():
    """Import name -> folder of every folder holding an __init__.py under the three roots."""
    found = {}
    for folder, name in ROOTS.items():
        for init in sorted((ROOT / folder).rglob("__init__.py")):
            rel = init.parent.relative_to(ROOT / folder)
            found[".".join((name,) + rel.parts)] = init.parent.relative_to(ROOT).as_posix()
    return found


def test_every_source_package_is_listed_with_its_folder():
    config = setuptools_config()
    expected = source_packages()
    missing = sorted(set(expected) - set(config["packages"]))
    assert not missing, f"add {missing} to [tool.setuptools] packages in pyproject.toml"
    for name, folder in expected.items():
        assert config["package-dir"].get(name) == folder, (
            f'[tool.setuptools.package-dir] needs "{name}" = "{folder}"')


def test_listed_packages_exist():
    config = setuptools_config()
    for name in config["packages"]:
        folder = ROOT / config["package-dir"][name]
        assert (folder / "__init__.py").is_file(), f"{name} is listed but {folder} is no package"


def test_package_data_files_exist():
    config = setuptools_config()
    for pattern in config["package-data"]["llgrad"]:
        assert list((ROOT / "frontend").glob(pattern)), f"package-data {pattern} matches nothing"


def test_license_files_and_typed_marker_ship():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for name in project["license-files"]:
        assert (ROOT / name).is_file(), f"license-files lists {name}, which does not exist"
    assert "py.typed" in setuptools_config()["package-data"]["llgrad"], (
        "the py.typed marker must ship, or type checkers ignore llgrad's annotations")
    assert (ROOT / "frontend" / "py.typed").is_file()
