"""pyproject.toml declares its licence the way current setuptools wants it, so
`make install` builds without a deprecation warning."""

import tomllib
from pathlib import Path
from typing import Any

from packaging.licenses import canonicalize_license_expression
from packaging.requirements import Requirement
from packaging.version import Version

PYPROJECT = Path(__file__).parents[2] / "pyproject.toml"
# The first setuptools that reads `project.license` as an SPDX expression.
SPDX_LICENSE_SETUPTOOLS = Version("77")


def _pyproject() -> dict[str, Any]:
    return tomllib.loads(PYPROJECT.read_text())


def test_license_is_an_spdx_expression() -> None:
    license_ = _pyproject()["project"]["license"]
    assert isinstance(license_, str), "a table is deprecated: use the SPDX string"
    assert canonicalize_license_expression(license_) == license_


def test_no_license_classifier_beside_the_expression() -> None:
    classifiers = _pyproject()["project"].get("classifiers", [])
    assert not [c for c in classifiers if c.startswith("License ::")]


def test_build_requires_a_setuptools_that_reads_the_expression() -> None:
    requires = _pyproject()["build-system"]["requires"]
    [setuptools] = [r for r in map(Requirement, requires) if r.name == "setuptools"]
    floor = min(Version(spec.version) for spec in setuptools.specifier)
    assert floor >= SPDX_LICENSE_SETUPTOOLS
