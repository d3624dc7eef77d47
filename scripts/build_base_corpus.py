#!/usr/bin/env python
"""Build the pretraining corpus of mypt's tiny base model, deterministically, from pinned Debian packages.

English: the reStructuredText sources of the Python 3.11 documentation (Debian `python3.11-doc`,
Python Software Foundation License 2), rendered as Markdown-like plain text: tutorial, FAQ, HOWTOs,
language reference, then library chapters in a fixed pseudo-random order up to `--en_chars`.
German: the Debian Reference and the Debian Developer's Reference in German (Debian
`debian-reference-de`, `developers-reference-de`, GNU GPL 2 or later), their plain-text renderings
with tables and tables of contents removed and wrapped lines joined; and the German manual pages of
Debian `manpages-de` (GNU GPL 3 or later), troff rendered as Markdown-like text, one document per
page. `--langs en` leaves the GPL part out.

The packages are fetched with `apt-get download` (or taken from `--deb_dir`) and checked against
pinned sha256s; they are unpacked in Python, nothing is installed. The output is a folder of
documents (one per source file or chunk), because `mypt prepare-text` holds out whole documents
for its val split:

    OUT/corpus/en/....txt, OUT/corpus/de/....txt, OUT/MANIFEST.tsv

The printed corpus sha256 is computed as `mypt prepare-text --input OUT/corpus` records it in
`dataset_metadata.json` (`source.sha256`), so the two can be compared.
"""
from __future__ import annotations
import argparse, gzip, hashlib, io, lzma, re, shutil, subprocess, sys, tarfile
from pathlib import Path

PACKAGES = {   # name: (version, sha256 of the .deb, licence)
    'python3.11-doc': ('3.11.2-6+deb12u9', '5b3594189d6ef9a6963ce0347fd307a1cc67620ad697e144db366070e2e146be', 'PSF-2.0'),
    'debian-reference-de': ('2.100', '3b0ce65fd63e75ddf8eb07ca36293425135080e690a07e06a6ac8bc8040ef0aa', 'GPL-2.0-or-later'),
    'developers-reference-de': ('12.18', '281f0c2b24139e0ac83117c3e95b60458a6644fe14c82cf9ea78e87ea8c175d7', 'GPL-2.0-or-later'),
    'manpages-de': ('4.18.1-1', '37d2e7ee51f22952aecec3af93647ff59194a3c74bb7a694560f49c7f7ab3978', 'GPL-3.0-or-later'),
}
LANG_PACKAGES = {'en': ['python3.11-doc'], 'de': ['debian-reference-de', 'developers-reference-de', 'manpages-de']}
MAN_DIR = 'usr/share/man/de/'
PY_SOURCES = 'usr/share/doc/python3.11/html/_sources/'
EN_SECTIONS = ['tutorial', 'faq', 'howto', 'reference', 'library']   # in this order; library fills up to the cap
DE_FILES = {'debian-reference-de': 'usr/share/debian-reference/debian-reference.de.txt.gz',
            'developers-reference-de': 'usr/share/developers-reference/de/developers-reference.txt.gz'}

# --- the packages ---------------------------------------------------------------------------------

def sha256_bytes(b: bytes) -> str: return hashlib.sha256(b).hexdigest()

def fetch_deb(name: str, deb_dir: Path) -> bytes:
    "The pinned .deb of `name`, from `deb_dir` or `apt-get download`, checked against its sha256."
    version, sha, _ = PACKAGES[name]
    fname = f"{name}_{version.replace(':', '%3a')}_all.deb"
    path = deb_dir/fname
    if not path.is_file():
        deb_dir.mkdir(parents=True, exist_ok=True)
        r = subprocess.run(['apt-get', 'download', f'{name}={version}'], cwd=deb_dir, capture_output=True, text=True)
        if r.returncode or not path.is_file():
            sys.exit(f'build_base_corpus: cannot get {name} {version} with apt-get download '
                     f'(run apt-get update first, or put {fname} into {deb_dir}): {r.stderr.strip()[-300:]}')
    data = path.read_bytes()
    if sha256_bytes(data) != sha:
        sys.exit(f'build_base_corpus: {path}: sha256 {sha256_bytes(data)} differs from the pinned {sha}')
    return data

def deb_files(deb: bytes, want) -> dict[str, bytes]:
    "Members of a .deb's data.tar.xz whose path (without './') satisfies `want(path)`."
    assert deb[:8] == b'!<arch>\n', 'not an ar archive'
    pos, data = 8, None
    while pos < len(deb):
        name, size = deb[pos:pos+16].decode().strip().rstrip('/'), int(deb[pos+48:pos+58].decode().strip())
        body = deb[pos+60:pos+60+size]
        if name == 'data.tar.xz': data = lzma.decompress(body)
        pos += 60 + size + (size & 1)
    if data is None: sys.exit('build_base_corpus: .deb without data.tar.xz')
    out = {}
    with tarfile.open(fileobj=io.BytesIO(data)) as tf:
        for m in tf.getmembers():
            p = m.name.removeprefix('./')
            if m.isfile() and want(p): out[p] = tf.extractfile(m).read()
    return out

# --- reStructuredText -> Markdown-like text ---------------------------------------------------------

CODE_ROLES = {'mod', 'func', 'class', 'meth', 'attr', 'data', 'exc', 'const', 'envvar', 'option', 'program', 'file',
              'keyword', 'samp', 'kbd', 'command', 'makevar', 'mailheader', 'mimetype', 'macro', 'type', 'member',
              'var', 'opcode', 'token', 'cmdoption', 'expr', 'c', 'code', 'regexp', 'object', 'source'}

def _role(m) -> str:
    role, text = m.group(2), m.group(3)
    t = re.match(r'(.*?)\s*<([^<>]*)>$', text, re.S)
    title = t.group(1) if t and t.group(1) else None
    if title is None:
        text = text.lstrip('!')
        text = text.rsplit('.', 1)[-1] if text.startswith('~') else text
        text = text.lstrip('~')
    if role == 'pep': return f'PEP {text}'
    if role == 'rfc': return f'RFC {text}'
    if role == 'abbr': return re.sub(r'\s*\(.*\)$', '', text, flags=re.S)
    if role in ('dfn', 'term', 'ref', 'doc', 'menuselection', 'guilabel', 'sup', 'sub', 'issue', 'gh', 'newsgroup', 'manpage'):
        return title or text
    if title: return title
    if role in ('func', 'meth') and not text.endswith(')'): text += '()'
    return f'`{text}`' if role in CODE_ROLES else text

def inline(s: str) -> str:
    "Sphinx inline markup to Markdown: roles, literals, links, substitutions."
    s = re.sub(r':(\w+:)?([\w-]+):`([^`]+)`', _role, s)
    s = re.sub(r'``(.+?)``', r'`\1`', s)
    s = re.sub(r'`([^`<]+?)\s*<[^`>]+>`__?', r'\1', s)      # `text <url>`_
    s = re.sub(r'`([^`]+)`_\b', r'\1', s)                   # `text`_
    s = re.sub(r'\|(version|release)\|', '3.11', s)
    return s.replace('\\ ', '')

DROP_DIRECTIVES = {'module', 'moduleauthor', 'sectionauthor', 'index', 'testsetup', 'testcleanup', 'toctree', 'highlight',
                   'currentmodule', 'include', 'literalinclude', 'image', 'figure', 'tabularcolumns', 'raw', 'productionlist',
                   'only', 'impl-detail', 'audit-event', 'audit-event-table', 'availability', 'rubric', 'csv-table',
                   'sidebar', 'contents', 'program', 'cssclass', 'list-table', 'table', 'autoclass', 'autofunction', 'automodule',
                   'c:namespace', 'c:namespace-push', 'c:namespace-pop', 'default-role', 'role', 'miscnews', 'limited-api-list',
                   'pdbcommand', 'moduleauthor'}
CODE_DIRECTIVES = {'code-block', 'sourcecode', 'code', 'doctest', 'testcode', 'testoutput', 'parsed-literal'}
ADMONITIONS = {'note': 'Note', 'warning': 'Warning', 'seealso': 'See also', 'important': 'Important', 'tip': 'Tip',
               'hint': 'Hint', 'caution': 'Caution', 'attention': 'Attention', 'danger': 'Danger', 'admonition': None,
               'topic': None, 'versionadded': 'New in version', 'versionchanged': 'Changed in version',
               'deprecated': 'Deprecated since version', 'deprecated-removed': 'Deprecated since version'}
HEADING_CHARS = set('=-~^*#"+`:.\'_')
DIRECTIVE = re.compile(r'^(\s*)\.\.\s+([\w:-]+)::\s*(.*)$')

def _indent(line: str) -> int: return len(line) - len(line.lstrip(' '))

def _block_end(lines, i: int, indent: int) -> int:
    "Index after the block of lines (blank or indented more than `indent`) that starts at `i`."
    while i < len(lines) and (not lines[i].strip() or _indent(lines[i]) > indent): i += 1
    return i

def _dedent(block: list[str]) -> list[str]:
    while block and not block[0].strip(): block = block[1:]
    while block and not block[-1].strip(): block = block[:-1]
    n = min((_indent(l) for l in block if l.strip()), default=0)
    return [l[n:] for l in block]

def _is_underline(s: str) -> bool:
    s = s.rstrip()
    return len(s) >= 3 and len(set(s)) == 1 and s[0] in HEADING_CHARS

def rst_to_text(src: str) -> str:
    "A Sphinx source file as Markdown-like plain text (headings, prose, fenced code)."
    out: list[str] = []
    levels: list[str] = []
    def walk(lines: list[str]):
        i = 0
        while i < len(lines):
            line = lines[i]; s = line.strip(); ind = _indent(line)
            if not s: out.append(''); i += 1; continue
            if _is_underline(s) and i + 2 < len(lines) and _is_underline(lines[i+2]) and lines[i+1].strip():   # overlined title
                i += 1; continue
            if i + 1 < len(lines) and _is_underline(lines[i+1]) and len(lines[i+1].strip()) >= len(s) - 1 and ind == 0 and not _is_underline(s):
                c = lines[i+1].strip()[0]
                if c not in levels: levels.append(c)
                out.extend(['', '#' * min(levels.index(c) + 1, 4) + ' ' + inline(s), '']); i += 2; continue
            if _is_underline(s) or re.match(r'^[+=\- ]+$', s) and len(s) > 3:    # transitions, table borders
                i += 1; continue
            m = DIRECTIVE.match(line)
            if m:
                name, arg = m.group(2), m.group(3).strip()
                end = _block_end(lines, i + 1, ind)
                body = lines[i+1:end]
                opts = 0                                                          # directive options (:synopsis: ...)
                while opts < len(body) and re.match(r'^\s+:[\w-]+:', body[opts]): opts += 1
                body = _dedent(body[opts:])
                short = name.split(':')[-1]
                if short in DROP_DIRECTIVES or name in DROP_DIRECTIVES: pass
                elif short in CODE_DIRECTIVES:
                    if body: out.extend(['```'] + body + ['```', ''])
                elif short in ADMONITIONS:
                    label = ADMONITIONS[short]
                    if short.startswith(('version', 'deprecated')):
                        first = f"{label} {arg.split()[0] if arg else ''}".strip()
                        rest = ' '.join(arg.split()[1:]) if short == 'deprecated-removed' else ''
                        out.append(first + ('.' if not body else ':'))
                        if rest: out[-1] = f'{first}, removed in version {rest}.'
                    else: out.append(f'{label or inline(arg)}:' if (label or arg) else '')
                    walk(body)
                elif arg or body:                                                 # function, class, method, data, ...
                    if arg: out.extend(['', f'`{arg}`', ''])
                    walk(body)
                out.append(''); i = end; continue
            if s.startswith('..'):                                               # comments and link targets
                i = _block_end(lines, i + 1, ind); continue
            if s.startswith('>>>') and ind == 0:                                  # doctest block
                j = i
                while j < len(lines) and lines[j].strip(): j += 1
                out.extend(['```'] + lines[i:j] + ['```']); i = j; continue
            if s.endswith('::'):                                                  # paragraph introducing a literal block
                text = s[:-2].rstrip()
                if text: out.append(' ' * ind + text + ':')
                j = i + 1
                while j < len(lines) and not lines[j].strip(): j += 1
                end = _block_end(lines, j, ind) if j < len(lines) and _indent(lines[j]) > ind else j
                code = _dedent(lines[j:end])
                if code: out.extend(['', '```'] + code + ['```', ''])
                i = end; continue
            out.append(' ' * ind + s); i += 1
    walk(src.replace('\t', '        ').splitlines())
    return join_paragraphs(out, inline)

BULLET = re.compile(r'^([*+-]|\d+\.|#\.|\(\w\))\s+')

def join_paragraphs(lines: list[str], fix=None) -> str:
    "Join wrapped prose lines into one line per paragraph or list item, then `fix` them; code fences stay as they are."
    res: list[str] = []
    code = joinable = False
    for raw in lines:
        s = raw.strip()
        if s.startswith('```'):
            res.append(s); code = not code; joinable = False; continue
        if code: res.append(raw.rstrip()); continue
        if not s: res.append(''); joinable = False; continue
        if s.startswith('#') and not s.startswith('#.') or BULLET.match(s) or re.match(r'^`.*`$', s) or not joinable:
            if BULLET.match(s): s = BULLET.sub(lambda m: '- ' if m.group(1) in '*+-' else m.group(0), s)
            res.append(s); joinable = not s.startswith('#') and not re.match(r'^`.*`$', s); continue
        prev = res[-1]
        res[-1] = prev + s if prev.endswith('-') and len(prev) > 1 and prev[-2].isalpha() and s[:1].isupper() else prev + ' ' + s
    if fix:
        code = False
        for k, l in enumerate(res):
            if l.startswith('```'): code = not code
            elif not code: res[k] = fix(l)
    text = '\n'.join(res)
    text = re.sub(r'\n{3,}', '\n\n', text)
    return text.strip() + '\n'

# --- German plain-text manuals ---------------------------------------------------------------------

NUMBERED = re.compile(r'^\s*([A-Z]\.|\d+\.)(\d+\.)*\s+\S')

def german_text(raw: str) -> str:
    "A German manual's plain-text rendering, without tables and contents lists, one line per paragraph."
    lines = raw.replace('\xa0', ' ').replace('\t', '        ').splitlines()
    paras, cur = [], []
    for l in lines:
        if l.strip(): cur.append(l.rstrip())
        elif cur: paras.append(cur); cur = []
    if cur: paras.append(cur)
    out = []
    for p in paras:
        if any(l.strip()[:1] in '|+' or set(l.strip()) <= set('-=+|*') and len(l.strip()) > 3 for l in p if l.strip()):
            if len(p) == 2 and _is_underline(p[1]): out.extend(['## ' + p[0].strip(), '']);   # title + underline
            continue                                                                          # tables, rules
        if len(p) >= 3 and sum(bool(NUMBERED.match(l)) for l in p) >= len(p) - 1: continue     # contents, list of tables
        first = p[0].strip()
        if len(p) == 1 and _indent(p[0]) == 0 and NUMBERED.match(first):
            out.extend(['## ' + first, '']); continue
        wrapped = len(p) == 1 or max(len(l.strip()) for l in p[:-1]) >= 55      # prose is wrapped near 70 columns
        if first.startswith(('$ ', '# ')) or not wrapped and out and out[-2].endswith(':') if len(out) > 1 else False:
            out.extend(['```'] + _dedent(p) + ['```', '']); continue
        if not wrapped or any(_indent(l) > _indent(p[0]) + 2 for l in p[1:]) and not BULLET.match(first):
            out.extend(['```'] + _dedent(p) + ['```', '']); continue
        out.extend([l.strip() for l in p] + [''])
    return join_paragraphs(out)

TROFF_CHARS = {'-': '-', 'e': '\\', '&': '', ',': '', '/': '', '|': '', '^': '', ' ': ' ', '~': ' ', 'c': '', '0': ' ',
               ':': '', '%': '', "'": "'", '`': '`', '.': '.'}
TROFF_NAMED = {'bu': '•', 'em': '—', 'en': '–', 'aq': "'", 'dq': '"', 'lq': '“', 'rq': '”', 'co': '©', 'rg': '®', 'mi': '-',
               'hy': '-', 'ti': '~', 'ha': '^', 'at': '@', 'sl': '/', 'rs': '\\', 'oq': '‘', 'cq': '’', 'Fo': '«', 'Fc': '»',
               'fo': '‹', 'fc': '›', 'ss': 'ss', 'lA': '⇐', 'rA': '⇒', '->': '→', '<-': '←', 'mu': '×', 'de': '°', 'tm': '™',
               'Bq': '„', 'bq': '‚', 'pl': '+', 'eq': '=', 'lt': '<', 'gt': '>', 'ba': '|', 'or': '|', 'sq': '□', 'ga': '`'}

def troff_inline(s: str) -> str:
    "A troff text line to plain text: fonts dropped, escapes and named characters resolved."
    s = re.sub(r'\\f(\[[^\]]*\]|\(..|.)', '', s)                         # font changes
    s = re.sub(r'\\\*(\[[^\]]*\]|\(..|.)', lambda m: {'(lq': '“', '(rq': '”', 'R': '®', '(Tm': '™'}.get(m.group(1), ''), s)
    s = re.sub(r'\\\[(\w+)\]|\\\((..)', lambda m: TROFF_NAMED.get(m.group(1) or m.group(2), ''), s)
    s = re.sub(r'\\[sv]-?\d+|\\[hvwkoHSzlLDXNbxZ]\'[^\']*\'|\\n(\(..|.)', '', s)  # spacing, motions, registers
    s = re.sub(r'\\(.)', lambda m: TROFF_CHARS.get(m.group(1), m.group(1)), s)
    return s

def _macro_args(rest: str) -> list[str]:
    return [a.strip('"') for a in re.findall(r'"[^"]*"|\S+', rest)]

def manpage_text(raw: str) -> str:
    "A man page (man macros) as Markdown-like text: headings, paragraphs, option lists, literal blocks."
    out, code = [], False
    for line in raw.replace('\t', '        ').splitlines():
        if line.startswith(('.\\"', "'\\\"", '\\"')) or line.strip() in ('.', "'"): continue
        if not line.startswith(('.', "'")):
            out.append(troff_inline(line) if code else troff_inline(line).strip())
            continue
        m = re.match(r"^[.']\s*(\w+)\s*(.*)$", line)
        if not m: continue
        mac, rest = m.group(1), m.group(2)
        if mac in ('nf', 'EX'):
            if not code: out.extend(['', '```']); code = True
        elif mac in ('fi', 'EE'):
            if code: out.extend(['```', '']); code = False
        elif code: continue
        elif mac == 'TH':
            a = _macro_args(rest)
            out.extend([f"# {a[0]}({a[1]})" if len(a) > 1 else f'# {rest}', ''])
        elif mac in ('SH', 'SS'):
            out.extend(['', ('## ' if mac == 'SH' else '### ') + troff_inline(' '.join(_macro_args(rest))).strip(), ''])
        elif mac in ('PP', 'LP', 'P', 'sp', 'br', 'RS', 'RE', 'in', 'HP', 'TQ'):
            out.append('')
        elif mac == 'TP':
            out.extend(['', '- '])                                            # the next line is the term
        elif mac == 'IP':
            a = _macro_args(rest)
            out.extend(['', '- ' + troff_inline(a[0]) + ' ' if a and a[0] not in ('', '\\(bu', '\\[bu]', '*') else '- '])
        elif mac in ('B', 'I', 'SM', 'SB', 'BR', 'RB', 'IR', 'RI', 'BI', 'IB', 'UR', 'MT', 'OP'):
            a = _macro_args(rest)
            sep = ' ' if mac in ('B', 'I', 'SM', 'SB', 'UR', 'MT', 'OP') else ''
            out.append(troff_inline(sep.join(a)).strip())
    if code: out.append('```')
    merged = []                                                               # '- ' + its term line
    for l in out:
        if merged and merged[-1].startswith('- ') and merged[-1].endswith(' ') and l:
            merged[-1] += l
        else:
            merged.append(l)
    return join_paragraphs([l.rstrip() if l != '- ' else '' for l in merged])

def chunks(text: str, size: int) -> list[str]:
    "Split at paragraph boundaries (never inside a code fence) into pieces of about `size` characters."
    pieces, cur, n, code = [], [], 0, False
    for para in text.split('\n\n'):
        cur.append(para); n += len(para) + 2
        code ^= para.count('```') % 2 == 1
        if n >= size and not code: pieces.append('\n\n'.join(cur).strip() + '\n'); cur, n = [], 0
    if cur: pieces.append('\n\n'.join(cur).strip() + '\n')
    return pieces

# --- the corpus ------------------------------------------------------------------------------------

def english_docs(deb: bytes, max_chars: int) -> dict[str, str]:
    files = deb_files(deb, lambda p: p.startswith(PY_SOURCES) and p.endswith('.rst.txt'))
    docs, total = {}, 0
    for sec in EN_SECTIONS:
        names = sorted(p for p in files if p[len(PY_SOURCES):].split('/')[0] == sec)
        if sec == 'library': names.sort(key=lambda p: sha256_bytes(p.encode()))   # a fixed mix of modules
        for p in names:
            text = rst_to_text(files[p].decode('utf-8'))
            if len(text) < 200 or p.endswith('/grammar.rst.txt'): continue
            if total + len(text) > max_chars: continue
            rel = p[len(PY_SOURCES):].removesuffix('.rst.txt').replace('/', '_')
            docs[f'en/{rel}.txt'] = text; total += len(text)
    return docs

def german_docs(debs: dict[str, bytes], chunk_chars: int) -> dict[str, str]:
    docs = {}
    for name, path in DE_FILES.items():
        raw = gzip.decompress(deb_files(debs[name], lambda p: p == path)[path]).decode('utf-8')
        for k, piece in enumerate(chunks(german_text(raw), chunk_chars)):
            docs[f'de/{name}-{k:03d}.txt'] = piece
    return docs

def manpage_docs(deb: bytes, min_chars: int = 400) -> dict[str, str]:
    "One document per German manual page (sections 1-8), pages shorter than `min_chars` left out."
    files = deb_files(deb, lambda p: p.startswith(MAN_DIR) and p.endswith('.gz') and p[len(MAN_DIR):].startswith('man'))
    docs = {}
    for p in sorted(files):
        raw = gzip.decompress(files[p]).decode('utf-8', errors='replace')
        if raw.lstrip().startswith('.so '): continue                        # a link to another page
        text = manpage_text(raw)
        if len(text) < min_chars: continue
        docs['de/man-' + p[len(MAN_DIR):].removesuffix('.gz').replace('/', '_') + '.txt'] = text
    return docs

def corpus_sha256(root: Path, docs: dict[str, str]) -> str:
    "The hash `mypt prepare-text --input ROOT` records as `source.sha256`: over sorted (name, file sha256)."
    h = hashlib.sha256()
    for rel in sorted(docs):
        name = f'{root.name}/{rel}'
        h.update(name.encode() + b'\x00' + sha256_bytes(docs[rel].encode('utf-8')).encode() + b'\n')
    return h.hexdigest()

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--out', default='build/base_corpus', help='output folder (its corpus/ is replaced)')
    ap.add_argument('--deb_dir', default=None, help='folder with the pinned .deb files (default OUT/debs; fetched with apt-get download)')
    ap.add_argument('--langs', default='en,de', help='comma-separated: en (PSF), de (GPL-2.0-or-later and GPL-3.0-or-later)')
    ap.add_argument('--en_chars', type=int, default=8_000_000, help='cap on the English text, in characters')
    ap.add_argument('--de_chunk_chars', type=int, default=20_000, help='size of a German document')
    a = ap.parse_args(argv)
    out = Path(a.out); deb_dir = Path(a.deb_dir) if a.deb_dir else out/'debs'
    langs = [l for l in a.langs.split(',') if l]
    if not set(langs) <= set(LANG_PACKAGES): sys.exit(f'build_base_corpus: --langs: expected en and/or de, got {a.langs}')
    debs = {n: fetch_deb(n, deb_dir) for l in langs for n in LANG_PACKAGES[l]}
    docs = {}
    if 'en' in langs: docs.update(english_docs(debs['python3.11-doc'], a.en_chars))
    if 'de' in langs:
        docs.update(german_docs(debs, a.de_chunk_chars))
        docs.update(manpage_docs(debs['manpages-de']))
    root = out/'corpus'
    if root.exists(): shutil.rmtree(root)
    for rel, text in sorted(docs.items()):
        (root/rel).parent.mkdir(parents=True, exist_ok=True)
        (root/rel).write_text(text, encoding='utf-8')
    rows = [f'{rel}\t{len(t.encode("utf-8"))}\t{sha256_bytes(t.encode("utf-8"))}' for rel, t in sorted(docs.items())]
    (out/'MANIFEST.tsv').write_text('path\tbytes\tsha256\n' + '\n'.join(rows) + '\n', encoding='utf-8')
    sha = corpus_sha256(root, docs)
    for l in langs:
        part = [t for rel, t in docs.items() if rel.startswith(l + '/')]
        print(f'{l}: {len(part)} documents, {sum(len(t.encode()) for t in part):,} bytes')
    print('packages: ' + ', '.join(f'{n} {PACKAGES[n][0]} ({PACKAGES[n][2]})' for n in debs))
    print(f'corpus: {root} ({len(docs)} documents, {sum(len(t.encode()) for t in docs.values()):,} bytes)')
    print(f'corpus sha256: {sha}')
    return 0

if __name__ == '__main__': sys.exit(main())
