"""The import structure: the serving path stands on the core alone, and no modules import each other in a circle."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "jaxaccomp"

# What `serve.py` runs before it answers a datagram, with the embedded codec: parse the arguments,
# load the shipped model and compile one step. The modules this loads are what a server depends on.
SERVE_PATH = """
import json, sys
from jaxaccomp.server.cli import build_parser
from jaxaccomp.server.session import Settings, engine_factory, warm_up
from jaxaccomp.server.udp import UdpServer
from jaxaccomp.stream_settings import StreamSettings
from jaxaccomp.streaming.models import load_model
args = build_parser().parse_args(["--mode", "consistency", "--codec", "embedded"])
codec, generator = load_model(args.checkpoint, args.mode, args.codec, args.steps)
warm_up(generator, engine_factory(codec, generator),
        Settings(StreamSettings.from_args(args), args.package_size, ("bass",), False), [1])
print(json.dumps(sorted(sys.modules)))
"""

NOT_FOR_SERVING = ("jaxaccomp.training", "jaxaccomp.data", "jaxaccomp.eval", "jaxaccomp.accompany",
                   "jaxaccomp.convert", "torch")


def test_serving_path_loads_no_training_data_eval_app_or_torch_module():
    done = subprocess.run([sys.executable, "-c", SERVE_PATH], capture_output=True, text=True, timeout=600,
                          cwd=PACKAGE.parent)
    assert done.returncode == 0, done.stderr[-2000:]
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    assert "jaxaccomp.streaming.engine" in loaded and "jaxaccomp.codec.embedded" in loaded  # it really ran
    forbidden = sorted({name if name.startswith("jaxaccomp.") else name.split(".")[0] for name in loaded
                        if any(name == root or name.startswith(root + ".") for root in NOT_FOR_SERVING)})
    assert not forbidden, f"the serving path loads {forbidden}"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path, modules: set[str]) -> set[str]:
    """jaxaccomp modules `path` imports anywhere in its body (lazy imports count: they still run)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found |= {f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in modules else node.module
                      for alias in node.names}
    return {name for name in found if name in modules}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def test_no_import_cycles():
    files = {_module_name(path): path for path in PACKAGE.rglob("*.py")}
    graph = {name: _imports(path, set(files)) - {name} for name, path in files.items()}
    assert _cycles(graph) == []


def test_cycle_finder_sees_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
