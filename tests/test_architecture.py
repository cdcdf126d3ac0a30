"""The core's shape: one-way dependencies, no plug-in names in the core, short signatures."""

from __future__ import annotations

import ast
import io
import re
import tokenize
from pathlib import Path

from albench.contracts import ENTROPY
from albench.registry import STRATEGIES, TASKS

CORE = Path(__file__).resolve().parent.parent / "albench"
REGISTRATION_TABLES = {"builtin_index.py"}  # generated: the only module naming built-ins
# contracts.py defines the capability vocabulary; "entropy" is a capability (and the score the
# task's uncertainty is logged as), the same word as the strategy that selects by it.
CAPABILITY_DEFINITIONS = "contracts.py"


def _modules():
    return sorted(CORE.rglob("*.py"))


def _code_without_docs(path: Path) -> str:
    """The module's source with comments and docstrings blanked out (string literals kept)."""
    source = path.read_text()
    docstrings = set()
    for node in ast.walk(ast.parse(source)):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            value = body[0].value
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                docstrings.add((value.lineno, value.col_offset))
    out = []
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT or (
            tok.type == tokenize.STRING and tok.start in docstrings
        ):
            continue
        out.append(tok.string)
    return " ".join(out)


def test_the_core_never_imports_a_plugin_module():
    """Nothing in albench/ imports albench.tasks.* / albench.strategies.* (or tasks/strategies
    themselves): it reaches a built-in only through the registry's "module:Class" strings."""
    offenders = []
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                if name.split(".")[0] in ("tasks", "strategies") or name.startswith(
                    ("albench.tasks", "albench.strategies")
                ):
                    offenders.append(f"{path.relative_to(CORE.parent)}: {name}")
    assert offenders == []


def test_no_builtin_task_or_strategy_is_named_in_the_core():
    names = set(TASKS.builtins) | set(STRATEGIES.builtins)
    pattern = re.compile(r"\b(" + "|".join(sorted(names, key=len, reverse=True)) + r")\b")
    offenders = []
    for path in _modules():
        if path.name in REGISTRATION_TABLES:
            continue
        code = _code_without_docs(path)
        # np.random / random.random are numpy's and Python's modules, not the strategy
        code = re.sub(r"(\bnp \. random\b|\brandom \. \w+|\bimport random\b)", "", code)
        if path.name == CAPABILITY_DEFINITIONS:
            code = code.replace(f'"{ENTROPY}"', "")
        offenders += [f"{path.relative_to(CORE.parent)}: {m}" for m in pattern.findall(code)]
    assert offenders == []


def test_no_core_function_takes_more_than_five_arguments():
    long = []
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                a = node.args
                names = [x.arg for x in a.posonlyargs + a.args + a.kwonlyargs]
                n = len(names) - (1 if names and names[0] in ("self", "cls") else 0)
                n += (a.vararg is not None) + (a.kwarg is not None)
                if n > 5:
                    long.append(f"{path.relative_to(CORE.parent)}:{node.lineno} {node.name} {n}")
    assert long == []


def packed_parameters(source: str) -> list[str]:
    """Parameters that pack unrelated values to pass the argument rule: annotated as a bare
    ``tuple`` or ``dict``, or as a tuple of different types (``tuple[str, int]``)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        a = node.args
        for arg in a.posonlyargs + a.args + a.kwonlyargs:
            ann = arg.annotation
            if ann is None:
                continue
            text = ast.unparse(ann)
            packed = text in ("tuple", "dict", "Tuple", "Dict")
            if isinstance(ann, ast.Subscript) and ast.unparse(ann.value) in ("tuple", "Tuple"):
                parts = ann.slice.elts if isinstance(ann.slice, ast.Tuple) else [ann.slice]
                packed = len({ast.unparse(e) for e in parts} - {"..."}) > 1
            if packed:
                found.append(f"{node.lineno} {node.name}({arg.arg}: {text})")
    return found


def test_no_core_function_packs_unrelated_values_into_one_parameter():
    hits = [
        f"{path.relative_to(CORE.parent)}:{h}"
        for path in _modules()
        for h in packed_parameters(path.read_text())
    ]
    assert hits == []


def test_the_packing_check_sees_a_packed_parameter():
    code = (
        "def f(args, bench, spec: tuple, base: dict): ...\n"
        "def g(where: tuple[str, list[int] | None]): ...\n"
        "def h(seeds: tuple[int, int], rows: tuple[int, ...], names: dict[str, int]): ...\n"
    )
    assert packed_parameters(code) == [
        "1 f(spec: tuple)", "1 f(base: dict)", "2 g(where: tuple[str, list[int] | None])",
    ]  # fmt: skip


def test_the_repository_does_not_point_at_private_design_files():
    root = CORE.parent
    files = [root / "README.md", *root.glob("docs/**/*.md"), *root.glob("benchmarks/*.toml")]
    for folder in ("albench", "tasks", "strategies", "benchmarks", "tests"):
        files += list((root / folder).rglob("*.py"))
    hits = [
        str(p.relative_to(root))
        for p in files
        if p.name != "test_architecture.py" and re.search(r"shared/|DESIGN\.md", p.read_text())
    ]
    assert hits == []


def _heavy_modules_after(argv: list[str]) -> tuple[int, list[str]]:
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from albench.cli import main\n"
        f"try:\n    rc = main({argv!r})\nexcept SystemExit as e:\n    rc = e.code\n"
        "heavy = ('torch', 'torchvision', 'mlflow', 'matplotlib', 'pandas', 'scipy')\n"
        "print(rc, sorted({m.split('.')[0] for m in sys.modules if m.split('.')[0] in heavy}"
        " | {m for m in sys.modules if m.startswith(('albench.tasks.', 'albench.strategies.'))}))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    rc, _, mods = out.stdout.strip().splitlines()[-1].partition(" ")
    return int(rc), eval(mods)


def test_help_list_and_bad_input_import_nothing_heavy():
    """The quick paths of the command line import no torch, task family, MLflow or pandas."""
    assert _heavy_modules_after(["--help"]) == (0, [])
    assert _heavy_modules_after(["list"]) == (0, [])
    assert _heavy_modules_after(["run", "--tasks", "nosuch"]) == (2, [])
    assert _heavy_modules_after(["plan", "--benchmark", "quick", "--strategies", "x"]) == (2, [])


def test_a_bad_parameter_is_refused_before_the_job_code_is_imported(tmp_path, monkeypatch):
    """Parameters are checked against the task and strategy classes (torch), every one of
    them before the job code (albench.loop: pandas, scipy) is imported, even where the
    bad one belongs to the last strategy of the benchmark."""
    monkeypatch.chdir(tmp_path)
    quick = ["run", "--benchmark", "quick", "--tasks", "digits", "--trials", "1"]
    for bad in ("strategies.learn_loss_mse.weight=abc", "tasks.digits.params.nosuch=1"):
        rc, heavy = _heavy_modules_after([*quick, "--set", bad])
        assert rc == 2 and "torch" in heavy, heavy
        assert not {"pandas", "scipy", "mlflow"} & set(heavy), heavy
    assert not list(tmp_path.iterdir())


def test_a_bad_store_or_state_folder_is_refused_before_anything_heavy(tmp_path, monkeypatch):
    """Where the results would go is checked first: a run against an in-memory, unknown or
    unreachable store, or with a file for a state folder, imports no task, torch or MLflow."""
    quick = ["run", "--benchmark", "quick", "--tasks", "digits", "--trials", "1"]
    (tmp_path / "a_file").write_text("")
    for uri in ("sqlite://", "garbage://x", f"sqlite:///{tmp_path / 'missing' / 'm.db'}"):
        monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
        assert _heavy_modules_after(quick) == (2, []), uri
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'm.db'}")
    for state in (tmp_path / "a_file", tmp_path / "a_file" / "state"):
        assert _heavy_modules_after([*quick, "--state-dir", str(state)]) == (2, []), state
    assert list(tmp_path.iterdir()) == [tmp_path / "a_file"]  # nothing made
