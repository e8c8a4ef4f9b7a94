#!/usr/bin/env python3
"""Module import graph of a Rust crate: cycles between areas, and back arrows.

Walks the module tree from lib.rs along `mod x;` declarations (`#[path]`
honoured; `#[cfg(test)]` items, `#[test]` functions and inline `mod tests`
skipped), collects the paths each module names (`use` trees, and inline paths
starting with `crate::`, `$crate::`, `self::`, `super::` or a child module;
comments and string literals are ignored) and resolves each one through the
`use` declarations on its way to the module that defines the item, e.g.
`crate::record::batch::record_rows` -> `crate::record::batch`. It reports:

  * cycles: strongly connected components (Tarjan) of the graph of areas, the
    modules collapsed to their first segment (`crate::record::batch` is area
    `record`; `--depth 2` keeps two, `record::batch`), with example edges;
  * root re-export uses: `crate::Name` (or `super::Name` from a top-level
    module) where `Name` is one of lib.rs's `pub use`s, i.e. an import through
    the facade instead of by module path;
  * child-to-parent uses: a module naming an item defined in the file of an
    ancestor (`super::Seal` in `crate::record::batch`, from `crate::record`).

lib.rs is the facade and `$crate::` paths in `macro_rules!` bodies expand in
other crates: both count as edges, never as back arrows. Resolution is
syntactic: no macro expansion, `#[cfg]` other than test-only is ignored (all
code counts), and a glob import only supplies names its target declares.

    python3 scripts/imports.py revy-seaorm/src          # the report
    python3 scripts/imports.py revy-seaorm/src --check  # exit 1 on a cycle or root re-export use
    python3 scripts/imports.py --depth 2 --edges --allow journal,record
"""
import argparse
import re
import sys
import textwrap
from collections import defaultdict, namedtuple
from pathlib import Path

Tok = namedtuple("Tok", "text line kind")  # kind: i(dent), p(unct), s(tring: text is '"' + value)
Ref = namedtuple("Ref", "src segs file line kind")  # kind: use, path, macro
TOKEN = re.compile(r"""(?P<ws>\s+) | (?P<com>//[^\n]*) | (?P<blk>/\*)
  | (?P<str>[bc]?r(?P<h>\#*)".*?"(?P=h) | [bc]?"(?:[^"\\]|\\.)*")
  | (?P<chr>b?'(?:\\(?:x..|u\{[0-9a-fA-F_]*\}|.)|[^\\'\n])') | (?P<life>'\w+)
  | (?P<ident>(?:r\#|\$)?[A-Za-z_]\w*) | (?P<num>[0-9]\w*) | (?P<punct>::|.)""", re.X | re.S)
ITEM_KW = {"fn", "struct", "enum", "union", "trait", "type", "const", "static"}
OPEN, CLOSE = {"(", "[", "{"}, {")", "]", "}"}


def tokenize(text):
    """Identifiers, punctuation and string literals; comments dropped."""
    toks, pos, line = [], 0, 1
    while pos < len(text):
        m = TOKEN.match(text, pos)
        kind, end, word = m.lastgroup, m.end(), m.group()
        if kind == "blk":  # block comments nest
            depth = 1
            while depth and end < len(text):
                step = text[end:end + 2]
                depth += (step == "/*") - (step == "*/")
                end += 2 if step in ("/*", "*/") else 1
        elif kind in ("str", "h"):
            toks.append(Tok('"' + word[word.index('"') + 1:].rstrip("#")[:-1], line, "s"))
        elif kind == "ident":
            toks.append(Tok(word[2:] if word.startswith("r#") else word, line, "i"))
        elif kind == "punct":
            toks.append(Tok(word, line, "p"))
        line += text.count("\n", pos, end)
        pos = end
    return toks


def close(toks, i):
    """Index of the bracket closing the one at toks[i]."""
    depth = 0
    for j in range(i, len(toks)):
        depth += (toks[j].text in OPEN) - (toks[j].text in CLOSE)
        if depth == 0:
            return j
    return len(toks) - 1


def skip_item(toks, i):
    """Index after the item at toks[i]: its `;` or its `{..}` (or the enclosing block's end)."""
    while i < len(toks) and toks[i].text not in (";", ")", "]", "}"):
        if toks[i].text in OPEN:
            j = close(toks, i)
            if toks[i].text == "{":
                return j + 1
            i = j
        i += 1
    return i + (i < len(toks) and toks[i].text == ";")


def test_only(ts):
    """Whether a cfg predicate (token texts) holds only under `test`."""
    if ts[:2] not in (["all", "("], ["any", "("]):
        return ts == ["test"]
    args, depth = [[]], 0
    for t in ts[2:-1]:
        depth += (t == "(") - (t == ")")
        if t == "," and depth == 0:
            args.append([])
        else:
            args[-1].append(t)
    args = [a for a in args if a]
    hits = [test_only(a) for a in args]
    return any(hits) if ts[0] == "all" else bool(hits) and all(hits)


def is_test_attr(attr):
    ts = [t.text for t in attr]
    if ts[:2] == ["cfg", "("]:
        return test_only(ts[2:-1])
    return (ts[: ts.index("(")] if "(" in ts else ts)[-1:] == ["test"]  # #[test], #[tokio::test]


def parse_use_tree(toks, i, prefix, out):
    """Appends the use tree's leaves as (segments, alias, line); returns the index after it."""
    segs = list(prefix) + (["::"] if toks[i].text == "::" else [])  # `use ::x` is an extern crate
    i += toks[i].text == "::"
    while True:
        t = toks[i].text
        if t == "{":
            i += 1
            while toks[i].text not in ("}", ""):
                i = parse_use_tree(toks, i, segs, out)
                i += toks[i].text == ","
            return i + 1
        if t == "*":
            out.append((segs + ["*"], None, toks[i].line))
            return i + 1
        segs, i = segs + [t], i + 1
        if toks[i].text == "::":
            i += 1
            continue
        alias = toks[i + 1].text if toks[i].text == "as" else None
        i += 2 if alias else 0
        out.append((segs, alias, toks[i - 1].line))
        return i


class Module:
    def __init__(self, mid, file):
        self.mid, self.file = mid, file  # mid: ("record", "batch") for crate::record::batch
        self.children, self.uses, self.globs, self.items = {}, {}, [], set()


def name(mid):
    return "::".join(("crate",) + mid)


class Crate:
    def __init__(self, src):
        self.src, self.mods, self.refs, self.warnings = src, {}, [], []
        self.exported, self.globbing = {}, set()
        root = next((src / f for f in ("lib.rs", "main.rs") if (src / f).is_file()), None)
        if root is None:
            sys.exit(f"imports.py: no lib.rs or main.rs in {src}")
        self.mods[()] = Module((), root)
        self.parse((), root, src)

    def rel(self, path):
        return str(path.relative_to(self.src)) if path else "?"

    def declare(self, parent, child, cdir, file, attrs, line):
        paths = [a[2].text[1:] for a in attrs if a[0].text == "path" and a[-1].kind == "s"]
        cands = [cdir / f"{child}.rs", cdir / child / "mod.rs"]
        cands = [file.parent / paths[0]] if paths else cands
        found = next((c for c in cands if c.is_file()), None)
        mid = parent + (child,)
        self.mods[parent].children[child] = mid
        self.mods[mid] = Module(mid, found)
        if found is None:
            where = " or ".join(self.rel(c) for c in cands)
            self.warnings.append(f"{self.rel(file)}:{line}: {name(mid)} declared, but no {where}")
        else:
            sub = found.parent if found.name == "mod.rs" else found.with_suffix("")
            self.parse(mid, found, sub)

    def parse(self, mid, file, cdir):
        try:
            self.parse_tokens(mid, file, cdir)
        except (IndexError, OSError) as e:  # e.g. a file caught mid-edit
            self.warnings.append(f"{self.rel(file)}: not parsed to the end ({e!r})")

    def parse_tokens(self, mid, file, cdir):
        toks = tokenize(file.read_text(encoding="utf-8", errors="replace")) + [Tok("", 0, "p")] * 3
        # (brace depth of the module's items, module, directory of its `mod x;` files)
        scopes = [(0, mid, cdir)]
        depth, attrs, i = 0, [], 0
        while i < len(toks) - 3:
            body, cur, cdir = scopes[-1]
            mod, (t, line, kind), nxt = self.mods[cur], toks[i], toks[i + 1]
            if t == "#" and nxt.text in ("[", "!"):
                j = i + 1 + (nxt.text == "!")
                end = close(toks, j)
                if nxt.text == "[":
                    attrs.append(toks[j + 1:end])
                elif is_test_attr(toks[j + 1:end]) and depth == 0:
                    return  # #![cfg(test)] file
                i = end + 1
            elif any(is_test_attr(a) for a in attrs):
                i, attrs = skip_item(toks, i), []
            elif t == "macro_rules" and nxt.text == "!":
                mod.items.add(toks[i + 2].text)
                if any(a and a[0].text == "macro_export" for a in attrs):
                    self.exported[toks[i + 2].text] = cur  # `crate::name!` wherever defined
                end = close(toks, i + 3)
                for j in range(i + 3, end):  # in a macro only `$crate` means this crate
                    if toks[j].text == "$crate" and toks[j + 1].text == "::":
                        self.path_ref(toks, j, cur, file, "macro")
                i, attrs = end + 1, []
            elif t == "mod" and nxt.kind == "i" and toks[i + 2].text in (";", "{"):
                if toks[i + 2].text == ";":
                    self.declare(cur, nxt.text, cdir, file, attrs, line)
                    i += 3
                elif nxt.text == "tests":
                    i = close(toks, i + 2) + 1
                else:  # inline module
                    child = mod.children[nxt.text] = cur + (nxt.text,)
                    self.mods[child] = Module(child, file)
                    depth, i = depth + 1, i + 3
                    scopes.append((depth, child, cdir / nxt.text))
                attrs = []
            elif t == "use" and kind == "i":
                leaves = []
                i, attrs = parse_use_tree(toks, i + 1, [], leaves) + 1, []
                for segs, alias, ln in leaves:
                    self.refs.append(Ref(cur, segs, file, ln, "use"))
                    if segs[-1] == "*":
                        mod.globs.append((cur, segs[:-1]))
                    elif alias != "_":
                        mod.uses[alias or segs[-2 if segs[-1] == "self" else -1]] = (cur, segs)
            elif (kind == "i" and nxt.text == "::" and toks[i + 2].kind == "i"
                  and toks[i - 1].text != "::"  # not mid-path, not pub(in crate::x):
                  and not (toks[i - 1].text == "in" and toks[i - 2].text == "(")):
                i = self.path_ref(toks, i, cur, file, "macro" if t == "$crate" else "path")
            else:
                if depth == body and t in ITEM_KW and nxt.kind == "i":
                    mod.items.add(nxt.text)
                depth += (t == "{") - (t == "}")
                if depth < body and len(scopes) > 1:
                    scopes.pop()
                attrs = [] if t in ("{", "}", ";", ",") else attrs
                i += 1

    def path_ref(self, toks, i, cur, file, kind):
        segs, line = [toks[i].text], toks[i].line
        while toks[i + 1].text == "::" and toks[i + 2].kind == "i":
            segs, i = segs + [toks[i + 2].text], i + 2
        self.refs.append(Ref(cur, segs, file, line, kind))
        return i + 1

    def lookup(self, mid, seg):
        """`seg` in `mid`: ('mod', child), ('item', mid), ('use', ctx, segs) or None."""
        mod = self.mods.get(mid)
        if mod is None:
            return None
        if seg in mod.children:
            return ("mod", mod.children[seg])
        if seg in mod.items:  # before imports: `enum Error` wins over `use thiserror::Error`
            return ("item", mid)
        if mid == () and seg in self.exported:
            return ("item", self.exported[seg])
        if seg in mod.uses:
            return ("use",) + mod.uses[seg]
        if mid in self.globbing:
            return None
        self.globbing.add(mid)  # glob imports may cycle
        try:
            for ctx, segs in mod.globs:
                target = self.resolve(ctx, segs, 1)
                found = target and self.lookup(target[0], seg)
                if found:
                    return found
        finally:
            self.globbing.discard(mid)
        return None

    def resolve(self, ctx, segs, hops=0):
        """(defining module, named through a lib.rs `pub use`) of a path in `ctx`, or None
        when the path leaves the crate."""
        if hops > 12 or not segs:
            return None
        head, rest, cur = segs[0], list(segs[1:]), ctx
        if head in ("crate", "$crate"):
            cur = ()
        elif head == "super":
            rest.insert(0, head)
            while rest and rest[0] == "super":
                if not cur:
                    return None
                cur, rest = cur[:-1], rest[1:]
        elif head != "self":
            rest.insert(0, head)
        for k, seg in enumerate(rest):
            if seg in ("self", "*"):
                continue
            got = self.lookup(cur, seg)
            if got is None:
                if k == 0 and head not in ("crate", "$crate", "self", "super"):
                    return None  # a local name or an extern crate
                return cur, False
            if got[0] == "item":
                return got[1], False
            if got[0] == "use":
                found = self.resolve(got[1], got[2] + rest[k + 1:], hops + 1)
                return found and (found[0], hops == 0 and cur == ())
            cur = got[1]
        return cur, False


def tarjan(graph):
    """Strongly connected components of more than one node."""
    index, low, stack, sccs = {}, {}, [], []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            scc = stack[stack.index(v):]
            del stack[stack.index(v):]
            sccs.append(sorted(scc))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return [s for s in sccs if len(s) > 1]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("src", nargs="?", type=Path, help="crate src dir (default revy-seaorm/src)",
                    default=Path(__file__).resolve().parent.parent / "revy-seaorm" / "src")
    ap.add_argument("--depth", type=int, default=1, help="path segments that make an area (1)")
    ap.add_argument("--check", action="store_true",
                    help="exit 1 on a cycle or a root re-export use")
    ap.add_argument("--allow", action="append", default=[], metavar="A,B",
                    help="tolerate a cycle among these areas only (repeatable)")
    ap.add_argument("--edges", action="store_true", help="also list every edge between areas")
    args = ap.parse_args()
    crate = Crate(args.src.resolve())
    for w in crate.warnings:
        print(f"warning: {w}", file=sys.stderr)

    def area(mid):
        return "::".join(mid[:args.depth]) or "crate"

    mod_edges, area_edges, root_uses, up_uses = defaultdict(list), defaultdict(list), [], []
    for r in sorted(crate.refs, key=lambda r: (str(r.file), r.line)):
        if r.kind == "path" and r.segs[0] in crate.mods[r.src].uses:
            continue  # `Name::x` after `use a::Name`: the `use` is the reference
        found = crate.resolve(r.src, r.segs)
        if found is None:
            continue
        dst, via_root = found
        text = "::".join(r.segs[:-1] if r.segs[-1] == "self" else r.segs)
        ref = (f"{crate.rel(r.file)}:{r.line}", text, r.src, dst)
        facade = r.kind == "macro" or r.file == crate.mods[()].file
        if via_root and not facade:
            root_uses.append(ref)
        ancestor = dst != r.src and r.src[:len(dst)] == dst
        if ancestor and not facade and crate.mods[dst].file != r.file:  # inline modules aside
            up_uses.append(ref)
        if dst != r.src:
            mod_edges[r.src, dst].append(ref)
            if area(r.src) != area(dst):
                area_edges[area(r.src), area(dst)].append(ref)
    graph = {area(mid): set() for mid in crate.mods}
    for a, b in area_edges:
        graph[a].add(b)
    allowed = [set(a.split(",")) for a in args.allow]
    cycles = [(scc, any(set(scc) <= a for a in allowed)) for scc in tarjan(graph)]

    def wrap(head, items):  # \xa0 keeps "a <-> b" on one line
        text = textwrap.fill(", ".join(items), 100, initial_indent=head, subsequent_indent="    ")
        print(text.replace("\xa0", " "))

    def show(keys):
        for a, b in keys:
            n = len(area_edges[a, b])
            print(f"  {a} -> {b}  ({n} ref{'s' * (n != 1)})")
            for where, text, _, _ in area_edges[a, b][:3]:
                print(f"      {where}  {text}")

    print(f"import graph of {args.src}, areas of depth {args.depth}")
    files = {m.file for m in crate.mods.values() if m.file}
    print(f"  modules: {len(crate.mods)} in {len(files)} files, {len(graph)} areas")
    print(f"  edges: {len(mod_edges)} between modules, {len(area_edges)} between areas")
    ok_cycles = f", {sum(ok for _, ok in cycles)} allowed" if allowed else ""
    print(f"  cycles between areas: {len(cycles)}{ok_cycles}")
    root_files = {where.split(":")[0] for where, *_ in root_uses}
    print(f"  root re-export uses: {len(root_uses)} in {len(root_files)} files")
    print(f"  child-to-parent uses: {len(up_uses)}")
    for n, (scc, ok) in enumerate(cycles, 1):
        wrap(f"\ncycle {n}{' (allowed)' if ok else ''}: ", scc)
        mutual = [f"{a}\xa0<->\xa0{b}" for a, b in sorted(area_edges)
                  if a < b and (b, a) in area_edges and a in scc]
        if mutual:
            wrap("  mutual imports: ", mutual)
        show(sorted(k for k in area_edges if k[0] in scc and k[1] in scc))
    for title, refs in (("root re-export uses (import by module path, not lib.rs)", root_uses),
                        ("child-to-parent uses", up_uses)):
        print(f"\n{title}:" if refs else "", end="\n" if refs else "")
        for where, text, src, dst in refs:
            print(f"  {where}  {text}  ({name(src)} -> {name(dst)})")
    if args.edges:
        print("\nedges between areas:")
        show(sorted(area_edges))
    return 1 if args.check and (root_uses or not all(ok for _, ok in cycles)) else 0


if __name__ == "__main__":
    sys.exit(main())
