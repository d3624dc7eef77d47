"""Every `mypt` command keeps its flags: names, dests, defaults, required-ness, nargs, choices and types.

`fixtures/cli_flags.json` was written from the hand-written argparse parsers of commit 4206191, before the
commands were generated from function signatures (`mypt.core.command`). Help text may change; nothing else.
Rewrite the fixture only for a deliberate change of the CLI:
    python tests/test_cli_flags.py --write   (with PYTHONPATH pointing at the code to snapshot)
"""
import argparse, importlib, json, sys
from pathlib import Path

FIXTURE = Path(__file__).parent/'fixtures'/'cli_flags.json'

class _Caught(Exception):
    def __init__(self, parser): self.parser = parser

def _parser_of(fn) -> argparse.ArgumentParser:
    "The parser `fn` builds: catch it when `parse_args` is called, before anything runs."
    orig = argparse.ArgumentParser.parse_args
    def grab(self, *a, **k): raise _Caught(self)
    argparse.ArgumentParser.parse_args = grab
    try: fn([])
    except _Caught as c: return c.parser
    finally: argparse.ArgumentParser.parse_args = orig
    raise AssertionError(f'{fn.__qualname__} never called parse_args')

def _plain(v):
    "A JSON-able form of a default, choice list or type."
    if v is None or isinstance(v, (bool, int, float, str)): return v
    if isinstance(v, (list, tuple)): return [_plain(x) for x in v]
    if isinstance(v, dict): return {str(k): _plain(x) for k, x in v.items()}
    return getattr(v, '__name__', repr(v))

def _action(a:argparse.Action) -> dict:
    return {'option_strings': list(a.option_strings), 'dest': a.dest, 'kind': type(a).__name__.strip('_'),
            'positional': not a.option_strings, 'store_true': isinstance(a, argparse._StoreTrueAction),
            'default': _plain(a.default), 'required': bool(a.required), 'nargs': _plain(a.nargs),
            'choices': _plain(None if a.choices is None else list(a.choices)),
            'type': _plain(a.type or (str if isinstance(a, (argparse._StoreAction, argparse._AppendAction)) else None))}

def parser_snapshot(p:argparse.ArgumentParser) -> dict:
    return {'prog': p.prog,
            'actions': {a.dest: _action(a) for a in p._actions if not isinstance(a, argparse._HelpAction)},
            'exclusive_groups': [{'dests': [a.dest for a in g._group_actions], 'required': bool(g.required)}
                                 for g in p._mutually_exclusive_groups]}

def cli_snapshot() -> dict:
    "Every command of `mypt.cli.COMMANDS` -> the snapshot of its parser."
    from mypt.cli import COMMANDS
    return {name: parser_snapshot(_parser_of(getattr(importlib.import_module(mod), fn)))
            for name, (mod, fn, _) in COMMANDS.items()}

def cli_differences(want:dict, got:dict) -> list[str]:
    "Every difference between two CLI snapshots, one line each."
    out = [f'command {n}: {"added" if n in got else "removed"}' for n in sorted(set(want) ^ set(got))]
    for name in [n for n in want if n in got]:
        w, g = want[name], got[name]
        if g['prog'] != w['prog']: out.append(f'mypt {name}: prog {g["prog"]!r} != {w["prog"]!r}')
        if list(g['actions']) != list(w['actions']): out.append(f'mypt {name}: flags (in order) {list(g["actions"])} != {list(w["actions"])}')
        out += [f'mypt {name} {d}: {g["actions"][d]} != {w["actions"][d]}' for d in w['actions'] if d in g['actions'] and g['actions'][d] != w['actions'][d]]
        if g['exclusive_groups'] != w['exclusive_groups']: out.append(f'mypt {name}: exclusive groups {g["exclusive_groups"]} != {w["exclusive_groups"]}')
    return out

def test_cli_flags_unchanged():
    diffs = cli_differences(json.loads(FIXTURE.read_text()), cli_snapshot())
    assert not diffs, '\n'.join(diffs)

if __name__ == '__main__':
    import mypt
    snap = cli_snapshot()
    if '--write' in sys.argv:
        FIXTURE.write_text(json.dumps(snap, indent=1, ensure_ascii=False) + '\n')
        print(f'wrote {FIXTURE} from {mypt.__file__}: {len(snap)} commands')
    else: print(json.dumps(snap, indent=1))
