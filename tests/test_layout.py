"The house rules of the package: modules form a DAG (no import cycles at any level), readable exported code."
import ast, re
from pathlib import Path
import pytest

PKG = Path(__file__).resolve().parent.parent/'mypt'
MODULES = sorted(p.stem for p in PKG.glob('*.py') if p.stem not in ('__init__', '_modidx'))

def imports_of(name:str) -> set[str]:
    "Every mypt module that `name` imports, at module level or inside any function."
    tree = ast.parse((PKG/f'{name}.py').read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            mod = node.module or ''
            if node.level == 1: found.add(mod.split('.')[0] if mod else None)
            elif mod.startswith('mypt.'): found.add(mod.split('.')[1])
            elif mod == 'mypt': found.update(a.name for a in node.names)
            if node.level == 1 and not mod: found.update(a.name for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name.split('.')[1] for a in node.names if a.name.startswith('mypt.'))
    return {m for m in found if m in MODULES and m != name}

def reachable(start:str, graph:dict) -> set[str]:
    seen, todo = set(), list(graph[start])
    while todo:
        m = todo.pop()
        if m not in seen: seen.add(m); todo.extend(graph[m])
    return seen

GRAPH = {m: imports_of(m) for m in MODULES}

@pytest.mark.parametrize('mod', MODULES)
def test_no_import_cycle(mod):
    back = [m for m in reachable(mod, GRAPH) if mod in reachable(m, GRAPH) or mod in GRAPH[m]]
    assert not back, f'mypt.{mod} imports (through {sorted(back)}) a module that imports it back'

def test_cycle_detector_can_fail():
    g = {'a': {'b'}, 'b': {'c'}, 'c': {'a'}, 'd': set()}
    assert 'a' in reachable('a', g) and 'd' not in reachable('a', g)

def test_no_function_level_mypt_imports():
    "Imports of mypt modules sit at the top of a module, where a reader sees the dependency."
    bad = []
    for m in MODULES:
        for node in ast.walk(ast.parse((PKG/f'{m}.py').read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for sub in ast.walk(node):
                    if isinstance(sub, ast.ImportFrom) and (sub.level or (sub.module or '').startswith('mypt')): bad.append(f'{m}.{node.name}')
                    if isinstance(sub, ast.Import) and any(a.name.startswith('mypt') for a in sub.names): bad.append(f'{m}.{node.name}')
    assert not bad, bad

def test_notebook_order_is_dependency_order():
    "A chapter's module imports only modules of chapters that come before it."
    nbs = sorted((PKG.parent/'nbs').glob('*.ipynb'))
    order = {}
    for i, nb in enumerate(nbs):
        m = re.search(r'#\|\s*default_exp\s+(\w+)', nb.read_text())
        if m: order[m.group(1)] = i
    for mod, deps in GRAPH.items():
        if mod == 'cli': continue            # the command table names every module as a string
        for d in deps:
            assert order[d] < order[mod], f'{mod} ({nbs[order[mod]].name}) imports {d} ({nbs[order[d]].name}), a later chapter'

def test_no_function_defined_twice():
    "One home for each function: no top-level function or class name is defined in two modules."
    homes = {}
    for m in MODULES:
        for node in ast.parse((PKG/f'{m}.py').read_text()).body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)): homes.setdefault(node.name, []).append(m)
    twice = {n: ms for n, ms in homes.items() if len(ms) > 1}
    assert not twice, twice

READABLE = ('model', 'data', 'train', 'generate')

@pytest.mark.parametrize('mod', READABLE)
def test_readable_outside_notebooks(mod):
    "The core modules read well as plain files: lines of at most 120 characters, no `;` chains."
    text = (PKG/f'{mod}.py').read_text()
    text = re.sub(r'^__all__ = \[.*?\]$', '', text, flags=re.M | re.S)    # written by nbdev_export, not by us
    lines = text.splitlines()
    long = [i for i, l in enumerate(lines, 1) if len(l) > 120]
    assert not long, f'{mod}.py lines over 120 characters: {long[:10]}'
    semi = [i for i, l in enumerate(lines, 1) if re.search(r';\s*\S', l.split('#')[0]) and not re.search(r"""['"][^'"]*;[^'"]*['"]""", l)]
    assert not semi, f'{mod}.py lines chaining statements with ;: {semi[:10]}'
