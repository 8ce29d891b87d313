"""_ext/package_code.py: the chapters show the package's code without its docstrings."""

from __future__ import annotations

import ast
import sys

import pytest
from conftest import ROOT

sys.path.insert(0, str(ROOT / "_ext"))
import package_code  # noqa: E402


@pytest.mark.parametrize("dotted", ["lossnotes._regression.l1_loss",
                                    "lossnotes._core.apply_reduction",
                                    "lossnotes.torchcheck.Agreement"])
def test_the_code_is_whole_and_its_docstring_gone(dotted: str) -> None:
    target = package_code.resolve(dotted)
    code, path, first = package_code.code_without_docstring(target)
    tree = ast.parse(code.replace("\n    ", "\n") if code.startswith("    ") else code)
    definition = tree.body[0]
    assert definition.name == dotted.rsplit(".", 1)[-1]
    assert ast.get_docstring(definition) is None  # gone, and the rest still parses
    assert target.__doc__.strip().splitlines()[0] not in code
    assert path.endswith(".py") and first > 0


def test_public_names_link_to_the_api_reference() -> None:
    from lossnotes import _regression

    assert package_code.public_name(_regression.l1_loss) == "lossnotes.l1_loss"
    assert package_code.public_name(_regression.l1_loss_grad) == "lossnotes.grad.l1_loss"
    assert package_code.public_name(_regression._l1) is None

