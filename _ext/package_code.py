"""Show a function of the package in a chapter: its code, without its docstring.

``literalinclude`` with ``:pyobject:`` copies a whole function, docstring included, and the
docstrings repeat what the chapter around them has just said (the CTC chapter showed 171 lines
of them).  In a chapter::

    ```{package-code} lossnotes._regression.l1_loss
    ```

shows the function's code from its ``def`` line (decorators included) with the docstring left
out, and above it a line linking the public name (``lossnotes.l1_loss``, or
``lossnotes.grad.l1_loss`` for ``l1_loss_grad``) to its entry in the API reference, where the
docstring is.  A class or a method (``lossnotes._ctc._Lattice.forward``) works the same way.
The page is read again when the module's file changes, and a name that is not there fails the
build.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import textwrap
from typing import Any

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

try:  # the link to the API reference is api_links' own kind of cross-reference
    from api_links import _function_xref
except ImportError:  # pragma: no cover - always importable from _ext/
    _function_xref = None


def resolve(dotted: str) -> Any:
    """The object a dotted path names: the longest importable module, then attributes."""
    parts = dotted.split(".")
    for split in range(len(parts), 0, -1):
        try:
            target = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        for attribute in parts[split:]:
            target = getattr(target, attribute)
        return target
    raise ImportError(f"no module in {dotted!r}")


def code_without_docstring(target: Any) -> tuple[str, str, int]:
    """The source of ``target`` without its docstring: ``(code, file, first line)``."""
    lines, first = inspect.getsourcelines(target)
    tree = ast.parse(textwrap.dedent("".join(lines)))
    definition = tree.body[0]
    body = definition.body
    if (
        body
        and isinstance(body[0], ast.Expr)
        and isinstance(body[0].value, ast.Constant)
        and isinstance(body[0].value.value, str)
    ):
        start, end = body[0].lineno - 1, body[0].end_lineno
        lines = lines[:start] + lines[end:]
    return "".join(lines).rstrip() + "\n", inspect.getsourcefile(target), first


def public_name(target: Any) -> str | None:
    """The name the package exports ``target`` under, if any."""
    import lossnotes
    import lossnotes.grad

    for module in (lossnotes, lossnotes.grad):
        for name in getattr(module, "__all__", ()):
            if getattr(module, name, None) is target:
                return f"{module.__name__}.{name}"
    return None


class PackageCode(SphinxDirective):
    required_arguments = 1
    has_content = False

    def run(self) -> list[nodes.Node]:
        dotted = self.arguments[0]
        try:
            target = resolve(dotted)
            code, path, _ = code_without_docstring(target)
        except (ImportError, AttributeError, OSError, TypeError) as error:
            raise self.error(f"package-code: cannot show {dotted!r}: {error}") from None
        self.env.note_dependency(path)
        block = nodes.literal_block(code, code, language="python")
        self.set_source_info(block)
        result: list[nodes.Node] = []
        name = public_name(target)
        if name is not None and _function_xref is not None:
            line = nodes.paragraph(classes=["lossnotes-package-code"])
            line += _function_xref(name)
            line += nodes.Text(", without its docstring (that is in the API reference):")
            result.append(line)
        result.append(block)
        return result


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_directive("package-code", PackageCode)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
