"""The one-way import rule of docs/architecture.md: tools -> benchmarking -> conversion ->
runtimes -> models (and what trains and measures them) -> shared helpers; nothing imports a
layer above its own."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

#: Layers from the top; a module belongs to the first prefix it starts with.
LAYERS = (
    ("tools", ("tools",)),
    ("benchmarking", ("converters.benchmarking",)),
    ("conversion", ("converters",)),
    ("runtimes", ("lce_models.runtimes", "lce_models.cli")),
    ("models", ("lce_models.models", "lce_models.data", "lce_models.training", "lce_models.evaluation",
                "lce_models.upscaling", "lce_models.torch_twin")),
    ("shared", ("lce_models",)),
)


def layer(module):
    for rank, (_, prefixes) in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return rank
    return None


def modules():
    for path in [*ROOT.glob("lce_models/**/*.py"), *ROOT.glob("converters/**/*.py"), *ROOT.glob("tools/*.py")]:
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        yield name, path


def imports(path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.module
            yield from (f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            yield from (a.name for a in node.names)


def test_every_module_has_a_layer():
    assert [name for name, _ in modules() if layer(name) is None] == []


def test_no_module_imports_a_layer_above_its_own():
    upward = sorted({(name, target) for name, path in modules() for target in imports(path)
                     if layer(target) is not None and layer(target) < layer(name)})
    assert upward == []


def test_the_rule_can_fail():
    assert layer("converters.fastpath") < layer("lce_models.runtimes.loader") < layer("lce_models.models.units")
