#!/usr/bin/env python3
"""How many of feedparser's own expectations hold for relais.

Every file of Python feedparser's test corpus carries, in a header comment, the
expectation feedparser's suite checks: a Python expression over feedparser's result,
e.g. `not bozo and entries[0]['title_detail']['value'] == u'Example'`. This harness:

1. runs `relais parse --json FILE --url URL` on each file, URL being the address
   feedparser's suite serves the file from (relative links resolve against it, as the
   expectations assume); one process per file, 10 s each, so a panic or a hang is
   counted, not hidden;
2. reads the expression with Python's `ast` (never `eval`) and keeps the
   `PATH == LITERAL` comparisons whose PATH maps onto a field relais has (feed
   title/link/language; entry title, link, id, summary, content, dates, authors,
   categories, language of the item or its content);
3. checks each against relais's output:
   - **strict**: relais's value is exactly the expected one;
   - **after normalisation**: equal once relais's documented normalisation is applied
     (HTML reduced to text and whitespace collapsed for titles and summaries; sanitised
     HTML compared by structure, `<img />` = `<img>`, the `rel` relais adds to links
     ignored, or as text; escaped markup shown as text; URLs in WHATWG form; language
     tags case-folded; an `email (Name)` author reduced to the name; `updated` falling
     back to `published`; an empty expectation met by no value; an item title with no
     text shown as `Sans titre`);
   - **miss**: anything else, with its reason (parse failed, no such entry, no value,
     differs) and examples (`--misses FILE` writes them all).

Expectations on what relais does not model (bozo, encoding, version, itunes, geo,
contributors, rights, enclosures, source, per-element `title_detail.language`…) are
counted as not mappable.

Usage (from the repository root):
    cargo build --locked
    bench/corpus_expect.py --bin target/debug/relais ../shared/corpus/feedparser
        [--jobs 2] [--examples 3] [--misses misses.jsonl]
Exit status 1 on any panic (exit 101) or hang, or when fewer than 95 % of the
well-formed files parse.
"""

import argparse
import ast
import collections
import concurrent.futures
import datetime
import html
import html.parser
import json
import os
import re
import subprocess
import sys
import urllib.parse

EXPECT = re.compile(r"Expect:\s*(.*?)\s*(?:-->|\"\s*,?\s*$|$)", re.M)


# --------------------------------------------------------------------------- paths

def path_of(node):
    """`entries[0]['title_detail'].value` → ['entries', 0, 'title_detail', 'value'], or
    None when the node is not a plain access path."""
    if isinstance(node, ast.Name):
        return [node.id]
    if isinstance(node, ast.Attribute):
        base = path_of(node.value)
        return base and base + [node.attr]
    if isinstance(node, ast.Subscript):
        base = path_of(node.value)
        key = node.slice
        if base and isinstance(key, ast.Constant):
            return base + [key.value]
        return None
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
            and node.func.attr == 'get' and node.args \
            and isinstance(node.args[0], ast.Constant):
        base = path_of(node.func.value)
        return base and base + [node.args[0].value]
    return None


def comparisons(expression):
    """The `PATH == LITERAL` comparisons of an expectation."""
    try:
        tree = ast.parse(expression, mode='eval')
    except SyntaxError:
        return []
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Compare) and len(node.ops) == 1
                and isinstance(node.ops[0], ast.Eq)):
            continue
        left, right = node.left, node.comparators[0]
        path = path_of(left)
        if path is None:
            path, right = path_of(right), left
        if path is None:
            continue
        try:
            value = ast.literal_eval(right)
        except (ValueError, SyntaxError):
            continue
        found.append((path, value))
    return found


# --------------------------------------------------------------------------- mapping

class Absent:
    """relais has no value there (no such entry, or the field is empty)."""

    def __init__(self, why):
        self.why = why


def mapping(path, out):
    """(family, kind, relais value or Absent) for a path, or None if not mappable."""
    if path[:1] == ['feed'] and len(path) >= 2:
        feed = out['feed']
        rest = path[1:]
        if rest in (['title'], ['title_detail', 'value']):
            return 'feed title', 'text', feed.get('title')
        if rest == ['link']:
            return 'feed link', 'url', feed.get('link')
        if rest == ['language']:
            return 'language', 'lang', feed.get('lang')
        return None
    if path[:1] != ['entries'] or len(path) < 3 or not isinstance(path[1], int):
        return None
    items = out['items']
    index = path[1]
    rest = path[2:]
    family_kind = entry_family(rest)
    if family_kind is None:
        return None
    family, kind, getter = family_kind
    if index >= len(items):
        return family, kind, Absent('no such entry')
    return family, kind, getter(items[index])


def nth(values, i):
    return values[i] if i < len(values) else None


def entry_family(rest):
    if rest in (['title'], ['title_detail', 'value']):
        return 'entry title', 'text', lambda i: i.get('title')
    if rest == ['link']:
        return 'entry link', 'url', lambda i: i.get('url')
    if rest in (['id'], ['guid']):
        return 'entry id', 'id', lambda i: i.get('id')
    if rest in (['description'], ['summary'], ['summary_detail', 'value']):
        return 'summary', 'html', lambda i: (i.get('content_html'), i.get('summary'))
    if len(rest) == 3 and rest[0] == 'content' and rest[2] == 'value':
        return 'content', 'html', lambda i: (i.get('content_html'), i.get('summary'))
    if rest == ['published_parsed']:
        return 'dates', 'published', lambda i: i
    if rest == ['updated_parsed']:
        return 'dates', 'updated', lambda i: i
    if rest in (['author'], ['author_detail', 'name']):
        return 'authors', 'author', lambda i: nth(i.get('authors') or [], 0)
    if len(rest) == 3 and rest[0] == 'authors' and rest[2] == 'name':
        return 'authors', 'author', lambda i, n=rest[1]: nth(i.get('authors') or [], n)
    if rest == ['category']:
        return 'categories', 'text', lambda i: nth(i.get('categories') or [], 0)
    if len(rest) == 3 and rest[0] == 'tags' and rest[2] == 'term':
        return 'categories', 'text', lambda i, n=rest[1]: nth(i.get('categories') or [], n)
    # relais keeps one language per item: the language of a title or a summary element
    # (`title_detail.language`) is not mapped, that of the content is the item's.
    if rest == ['language'] or (len(rest) == 3 and rest[0] == 'content' and rest[2] == 'language'):
        return 'language', 'lang', lambda i: i.get('lang')
    return None


# --------------------------------------------------------------------------- normalisers

class Text(html.parser.HTMLParser):
    SKIP = {'script', 'style'}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.parts = []
        self.skipping = 0

    def handle_starttag(self, tag, attrs):
        if tag in self.SKIP:
            self.skipping += 1
        elif tag in ('br', 'p', 'div', 'li'):
            self.parts.append(' ')

    def handle_endtag(self, tag):
        if tag in self.SKIP and self.skipping:
            self.skipping -= 1

    def handle_data(self, data):
        if not self.skipping:
            self.parts.append(data)


class Markup(html.parser.HTMLParser):
    """The element structure of an HTML fragment, so that `<img />` and `<img>`, or
    attributes in another order, compare equal. The `rel="noopener nofollow"` relais
    adds to links is left out (documented in src/normalise/sanitize.rs)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.events = []

    def handle_starttag(self, tag, attrs):
        kept = sorted((k, v or '') for k, v in attrs if k != 'rel')
        self.events.append(('<', tag, tuple(kept)))

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag):
        if tag not in ('img', 'br', 'hr'):
            self.events.append(('>', tag))

    def handle_data(self, data):
        text = collapse(data)
        if text:
            self.events.append(('t', text))


def markup_of(fragment):
    parser = Markup()
    try:
        parser.feed(fragment)
        parser.close()
    except Exception:
        return None
    return parser.events


def collapse(s):
    return ' '.join(s.split())


def text_of(markup):
    parser = Text()
    try:
        parser.feed(markup)
        parser.close()
    except Exception:  # an unparsable fragment is compared as it is
        return collapse(html.unescape(markup))
    return collapse(''.join(parser.parts))


def url_form(u):
    try:
        p = urllib.parse.urlsplit(u.strip())
    except ValueError:
        return u
    path = p.path or ('/' if p.scheme in ('http', 'https') and p.netloc else '')
    return urllib.parse.urlunsplit((p.scheme.lower(), p.netloc.lower(), path, p.query, ''))


def as_tuple(iso):
    when = datetime.datetime.fromisoformat(iso.replace('Z', '+00:00'))
    return (when.year, when.month, when.day, when.hour, when.minute, when.second)


def judge(kind, expected, got):
    """'strict', 'normalised', or a miss reason."""
    if isinstance(got, Absent):
        return got.why
    if kind in ('published', 'updated'):
        if not isinstance(expected, tuple) or len(expected) < 6:
            return 'not comparable'
        want = tuple(expected[:6])
        item = got
        published = None if item.get('published_guessed') else item.get('published')
        updated = item.get('updated')
        if kind == 'published':
            if published and as_tuple(published) == want:
                return 'strict'
            return 'differs' if published else 'no value'
        if updated and as_tuple(updated) == want:
            return 'strict'
        # relais keeps `updated` only when it differs from `published`, and dates an
        # entry with only `updated` by it.
        if published and as_tuple(published) == want:
            return 'normalised'
        return 'differs' if (updated or published) else 'no value'
    if expected is None:
        return 'strict' if got is None else 'differs'
    if not isinstance(expected, str):
        return 'not comparable'
    if kind == 'html':
        content_html, summary = got
        if content_html == expected:
            return 'strict'
        want = text_of(expected)
        if not want and not content_html:
            return 'normalised'
        if content_html is None and not summary:
            return 'no value'
        if markup_of(content_html or '') == markup_of(expected):
            return 'normalised'
        # Same text, or the expected string shown as text (escaped markup kept as such).
        texts = (text_of(content_html or ''), collapse(summary or ''))
        if want and (want in texts or collapse(expected) in texts):
            return 'normalised'
        return 'differs'
    # A title whose text is empty: relais shows none for a feed, `Sans titre` for an item.
    if kind == 'text' and not text_of(expected) and got in (None, '', 'Sans titre'):
        return 'normalised'
    if got is None or got == '':
        return 'normalised' if expected.strip() == '' else 'no value'
    if got == expected:
        return 'strict'
    if kind == 'text' and collapse(got) in (text_of(expected), collapse(expected)):
        return 'normalised'
    if kind == 'author':
        name = text_of(expected)
        m = re.fullmatch(r'\S+@\S+ \((.*)\)', name)
        if collapse(got) in (name, m and m.group(1).strip()):
            return 'normalised'
    if kind == 'url' and url_form(got) == url_form(expected):
        return 'normalised'
    if kind == 'lang' and got.lower().replace('_', '-') == expected.lower().replace('_', '-'):
        return 'normalised'
    return 'differs'


# --------------------------------------------------------------------------- running

def run(binary, path, url):
    try:
        done = subprocess.run([binary, 'parse', '--json', path, '--url', url],
                              capture_output=True, timeout=10)
    except subprocess.TimeoutExpired:
        return 124, None, 'timeout'
    out = None
    if done.returncode == 0:
        try:
            out = json.loads(done.stdout)
        except ValueError:
            out = None
    return done.returncode, out, done.stderr.decode('utf-8', 'replace').strip()


def doc_url(corpus, path):
    """Where feedparser's suite serves the file: its document URL, against which the
    expectations resolved relative links (`relais parse --url`)."""
    rel = os.path.relpath(path, corpus).replace(os.sep, '/')
    return 'http://127.0.0.1:8097/tests/' + urllib.parse.quote(rel)


def expectation(path):
    with open(path, 'rb') as f:
        text = f.read().decode('utf-8', 'replace')
    m = EXPECT.search(text)
    return m.group(1).strip() if m else None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('corpus', nargs='?', default='../shared/corpus/feedparser')
    ap.add_argument('--bin', default=None)
    ap.add_argument('--jobs', type=int, default=2)
    ap.add_argument('--examples', type=int, default=3)
    ap.add_argument('--misses', help='write every miss to this file (JSON lines)')
    args = ap.parse_args()
    binary = args.bin or next(
        (b for b in (os.path.join(os.environ.get('CARGO_TARGET_DIR', 'target'), d, 'relais')
                     for d in ('release', 'debug')) if os.path.exists(b)), None)
    if not binary:
        sys.exit('no relais binary: cargo build --locked first, or pass --bin')

    if not os.path.isdir(args.corpus):
        sys.exit(f'{args.corpus}: no such directory (pass the corpus directory)')
    files = sorted(os.path.join(root, f) for root, _, names in os.walk(args.corpus)
                   for f in names if f.endswith(('.xml', '.json', '.rdf')))
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        results = list(pool.map(lambda f: (f, *run(binary, f, doc_url(args.corpus, f))), files))

    exits = collections.Counter()
    wellformed = [0, 0]
    families = collections.defaultdict(collections.Counter)
    examples = collections.defaultdict(list)
    unmapped = 0
    misses = []
    for path, code, out, err in results:
        exits[code] += 1
        rel = os.path.relpath(path, args.corpus)
        if rel.startswith('wellformed' + os.sep):
            wellformed[1] += 1
            wellformed[0] += code == 0
        expr = expectation(path)
        if not expr:
            continue
        for key, value in comparisons(expr):
            if out is None:
                mapped = mapping(key, {'feed': {}, 'items': []})
                if mapped is None:
                    unmapped += 1
                    continue
                family, verdict = mapped[0], 'parse failed'
                got = err
            else:
                mapped = mapping(key, out)
                if mapped is None:
                    unmapped += 1
                    continue
                family, kind, got = mapped
                verdict = judge(kind, value, got)
            families[family][verdict] += 1
            if verdict not in ('strict', 'normalised'):
                shown = got.why if isinstance(got, Absent) else got
                if isinstance(shown, dict):
                    shown = {k: shown.get(k) for k in ('published', 'updated', 'published_guessed')}
                miss = {'family': family, 'why': verdict, 'file': rel,
                        'path': key, 'expected': value, 'got': shown}
                misses.append(miss)
                if len(examples[(family, verdict)]) < args.examples:
                    examples[(family, verdict)].append(miss)

    panics, hangs = exits.get(101, 0), exits.get(124, 0)
    print(f'files: {len(files)}; parsed (exit 0): {exits.get(0, 0)}; clean error (exit 1): '
          f'{exits.get(1, 0)}; panics: {panics}; hangs: {hangs}; other: '
          f'{sum(v for k, v in exits.items() if k not in (0, 1, 101, 124))}')
    share = wellformed[0] / wellformed[1] if wellformed[1] else 0
    print(f'well-formed files parsed: {wellformed[0]} / {wellformed[1]} ({share:.1%})')
    print(f'comparisons not mappable onto relais fields: {unmapped}\n')
    print('| family | mappable | strict | after normalisation | holds | miss |')
    print('|---|---:|---:|---:|---:|---:|')
    total = collections.Counter()
    order = ['feed title', 'feed link', 'entry title', 'entry link', 'entry id', 'summary',
             'content', 'dates', 'authors', 'categories', 'language']
    for family in order + sorted(set(families) - set(order)):
        c = families.get(family)
        if not c:
            continue
        n = sum(c.values())
        held = c['strict'] + c['normalised']
        total.update(c)
        print(f'| {family} | {n} | {c["strict"]} | {c["normalised"]} | '
              f'{held} ({held / n:.0%}) | {n - held} |')
    n = sum(total.values()) or 1
    held = total['strict'] + total['normalised']
    print(f'| **all** | {n} | {total["strict"]} | {total["normalised"]} | '
          f'**{held} ({held / n:.0%})** | {n - held} |\n')
    print('misses by reason:')
    reasons = collections.Counter((m['family'], m['why']) for m in misses)
    for (family, why), count in reasons.most_common():
        print(f'  {count:4} {family}: {why}')
        for e in examples[(family, why)]:
            print(f'         {e["file"]}: expected {e["expected"]!r}, got {e["got"]!r}')
    if args.misses:
        with open(args.misses, 'w') as f:
            for m in misses:
                f.write(json.dumps(m, ensure_ascii=False, default=str) + '\n')
    return 1 if panics or hangs or share < 0.95 else 0


if __name__ == '__main__':
    sys.exit(main())
