"""How the packages are layered: ``engine`` never imports ``nn``, ``nn`` uses only public names,
and what the printers and drawings know about an operation comes from its entry in ``OPS``."""

from __future__ import annotations

import ast
import math
import subprocess
import sys
from pathlib import Path

from dot_structure import VALUE, parse

import engine
import nn
from engine import Value, apply, draw_graph, explain, film_strip
from engine.derivatives import PRODUCT, Op
from engine.pictures.notation import written
from engine.testing import registered
from engine.testing.programs import Constant, Instruction, Program
from nn.losses import mse

ROOT = Path(__file__).resolve().parents[2]


def node_by_label(dot, label: str) -> str:
    (node,) = [n for n, a in dot.nodes.items() if a["shape"] == VALUE
               and dot.fields(n)[0] == label]
    return node


def imports(package: str) -> list[tuple[str, int, str, list[str]]]:
    """(file, line, module, names) for every import in a package's files, nested ones too."""
    found = []
    for path in sorted((ROOT / package).rglob("*.py")):
        name = path.relative_to(ROOT).as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found += [(name, node.lineno, a.name, []) for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                found.append((name, node.lineno, node.module, [a.name for a in node.names]))
    return found


OLD_PATHS = {"engine/draw.py", "engine/render.py", "engine/filmstrip.py", "engine/explain.py",
             "engine/trace.py", "engine/gradient_names.py", "engine/text.py",
             "engine/programs.py", "engine/strategies.py", "engine/stateful.py"}
"""Modules' paths before 0.2: the pictures' are set by ``engine/__init__.py``, the testing
tools' (which import hypothesis, so only on demand) are files of two lines."""


def layer(file: str) -> str:
    """The layer of a file of the engine: core, pictures or testing (its folder says)."""
    parts = file.split("/")
    return parts[1] if len(parts) > 2 else "core"


def test_each_layer_of_the_engine_imports_only_the_layers_below_it():
    order = ["core", "pictures", "compiler", "testing"]
    upward = [(f, line, module) for f, line, module, _ in imports("engine")
              if f not in OLD_PATHS and f != "engine/__init__.py"
              and module.startswith("engine.") and len(module.split(".")) > 2
              and module.split(".")[1] in order
              and order.index(module.split(".")[1]) > order.index(layer(f))]
    assert upward == []


def test_old_import_paths_are_the_moved_modules_themselves():
    import importlib

    import engine
    for old in sorted(OLD_PATHS):
        name = old.removesuffix(".py").replace("/", ".")
        module = importlib.import_module(name)
        assert module.__name__.startswith(("engine.pictures.", "engine.testing.")), name
    assert callable(engine.explain) and callable(engine.gradient_names)  # still the functions


def test_the_engine_never_imports_nn_not_even_inside_a_function():
    assert [i for i in imports("engine") if i[2].split(".")[0] == "nn"] == []


def test_importing_every_engine_module_loads_no_nn_module():
    code = ("import sys, engine, engine.draw, engine.explain, engine.filmstrip, engine.programs, "
            "engine.strategies, engine.stateful, engine.testing, engine.text; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] == 'nn'))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True, cwd=ROOT)
    assert done.stdout.strip() == "[]"


def test_no_module_imports_a_private_name_of_another_module():
    private = [(f, line, module, names) for package in ("engine", "nn")
               for f, line, module, names in imports(package)
               if module.split(".")[0] in ("engine", "nn")
               and any(n.startswith("_") for n in names)]
    assert private == []


NODE_SLOTS = {"_x", "_y", "_seq", "_op"}
"""How a node stores itself; outside the core, ``is_leaf``, ``created``, ``entry`` and
``parents`` say what these slots hold."""


def slot_reads(folder: str) -> list[tuple[str, int, str]]:
    """(file, line, slot) for every ``something._x`` (or ``_y``, ``_seq``, ``_op``) in a folder."""
    found = []
    for path in sorted((ROOT / folder).rglob("*.py")):
        name = path.relative_to(ROOT).as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr in NODE_SLOTS:
                found.append((name, node.lineno, node.attr))
    return found


def test_only_the_core_reads_how_a_node_stores_its_operation_operands_and_creation_number():
    outside = [read for folder in ("engine", "nn", "tests", "demos", "docs")
               for read in slot_reads(folder) if layer(read[0]) != "core"
               or not read[0].startswith("engine/")]
    assert outside == []
    core = slot_reads("engine")
    assert {slot for _, _, slot in core} == NODE_SLOTS  # the scan sees them where they are


def test_the_public_names_of_a_node_say_what_its_slots_hold():
    a, b = Value(2.0), Value(3.0)
    c = a * b
    assert a.is_leaf and not c.is_leaf and a.entry is None and c.entry.name == "*"
    assert a.created < b.created < c.created
    assert sorted([c, b, a], key=lambda v: v.created) == [a, b, c]
    with engine.no_grad():
        d = a * b
    assert d.is_leaf and d.parents == ()


def test_nn_imports_from_the_engine_package_or_its_public_modules_only():
    for f, line, module, _ in imports("nn"):
        if module.split(".")[0] == "engine":
            assert module != "engine.value", f"nn/{f}:{line} imports engine.value directly"
    assert nn.mlp.affine_rows is __import__("engine").affine_rows


# -- an operation's entry says how it prints, builds and is drawn -------------------------------


def _mod(x: float, y: float) -> float:
    return x % y


def test_a_registered_op_with_a_symbol_prints_infix_with_its_precedence():
    entry = Op(_mod, (1.0, 0.0), 2, symbol="%", precedence=PRODUCT)
    with registered("mod", entry):
        assert written("mod", ["a + b", "c"]) == "(a + b) % c"
        program = Program(2, (Instruction("+", (0, 1)), Instruction("mod", (2, Constant(3.0)))),
                          output=3)
        assert program.expression == "(x0 + x1) % 3.0"
        entry.symbol = None  # the same op without a symbol is written as a call
        assert program.expression == "mod(x0 + x1, 3.0)"


def test_a_program_builds_an_op_with_a_python_operator_through_it_and_others_with_apply():
    entry = Op(_mod, (1.0, 0.0), 2, symbol="%", precedence=PRODUCT)
    with registered("mod", entry):  # Python has %, but Value does not: built with apply
        out = Program(2, (Instruction("mod", (0, 1)),), output=2)(7.0, 4.0)
        assert out.op == "mod" and out.data == 3.0
    x, y = Value(7.0), Value(4.0)
    assert Program(2, (Instruction("-", (0, 1)),), output=2)(x, y).data == 3.0
    # x ** 2.0 as users write it: Python's operator picks the op of a constant exponent
    assert Program(2, (Instruction("pow", (0, Constant(2.0))),), output=2)(x, y).op == "**"


def test_the_drawing_reads_commutative_from_the_entry():
    a, b = Value(1.0, "a"), Value(2.0, "b")
    entry = Op(_mod, (1.0, 0.0), 2)
    with registered("mod", entry):
        ports = {t: at.get("headport") for t, _, at in parse(draw_graph(apply("mod", a, b)).source)
                 .edges}
        assert set(ports.values()) == {"n", "s", None}  # operand 1 from above, 2 from below
        entry.commutative = True
        dot = parse(draw_graph(apply("mod", a, b)).source)
        assert {at.get("headport") for _, _, at in dot.edges} == {None}
        assert node_by_label(dot, "a") and node_by_label(dot, "b")


# -- the engine's pictures take names and clusters from anyone; nn gives an MLP's ----------------


def test_the_engine_names_unlabelled_values_with_the_names_it_is_given_labels_win():
    a = Value(0.2, "a")
    y = a * 3.0
    z = y.tanh()
    names = {y: "y_given", a: "not_a"}
    dot = parse(draw_graph(z, names=names).source)
    assert node_by_label(dot, "y_given") and node_by_label(dot, "a")
    z.backward()
    strip = film_strip(z, names=names)
    local = f"{1 - math.tanh(0.6) ** 2:.4f}"  # tanh' at y = 0.6, by hand
    assert f"y_given.grad += d(tanh(y_given))/dy_given x tanh(y_given).grad = {local}" \
        in strip.caption(1)
    assert "a.grad += dy_given/da" in strip.caption(2)
    assert "dy_given/da" in explain(z, a, names=names).text()


def test_nn_draw_graph_is_the_engine_drawing_with_the_mlps_clusters_parameters_and_names():
    mlp = nn.MLP(2, [2, 1], seed=4)
    C = mse([mlp([0.5, -1.0])], [1.0])
    C.backward()
    clusters = nn.draw.graph_clusters(mlp, C)
    names = nn.draw.graph_names(mlp, C)
    by_hand = draw_graph(C, clusters=clusters, parameters=mlp.parameters(), names=names)
    assert nn.draw_graph(C, mlp).source == by_hand.source
    w = mlp.layers[0].neurons[0].w[1]
    own = nn.draw_graph(C, mlp, names={w: "my_w"})  # names given win over the MLP's
    assert node_by_label(parse(own.source), "my_w")
    explanation = nn.explain(C, w, mlp)
    assert explanation.delta_form is not None and explanation.agrees()
    assert explanation.text() == explain(C, w, delta_form=explanation.delta_form, names=names,
                                         clusters=clusters, parameters=mlp.parameters()).text()
