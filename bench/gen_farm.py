#!/usr/bin/env python3
"""Deterministic feed farm for relais benchmarks.

Writes N feeds x M items of realistic French content into OUT/feeds/, a mix of RSS 2.0,
Atom 1.0 and JSON Feed 1.1 (about 5 % of items cross-posted between partners), and a
relais config OUT/farm.toml whose sources read those files. Same arguments, same bytes.

    python3 bench/gen_farm.py --feeds 1000 --items 50 --out bench/out/farm

With --base-url http://127.0.0.1:PORT the sources of farm.toml are that server's URLs
(`allow_private = true`, loopback), each feed also gets a precompressed FEED.gz for
nginx's gzip_static, and OUT/urls.txt lists the URLs for the peers (reader, newsboat).

Text: skeletons of event announcements and news (kinds, topics, places, dates) filled
with words of an 8,000-word vocabulary drawn by the Zipf-Mandelbrot law, as
benches/stories.rs does: a few words everywhere, a long tail of rare ones. (A farm made
only of the skeletons' ~60 words makes every item look like every other one to story
matching, which no real network does.)

--interval, --retention and --channel shape farm.toml for a daemon (bench/serve.sh);
they do not change the feeds.
"""
import argparse
import bisect
import datetime as dt
import gzip
import json
import os
import random
from xml.sax.saxutils import escape

TOPICS = [
    "coopération décentralisée", "développement local", "solidarité internationale",
    "transition agricole", "eau et assainissement", "formation des élus",
    "tiers-lieux ruraux", "jumelage", "économie sociale et solidaire", "mobilité des jeunes",
    "projets alimentaires territoriaux", "gouvernance locale", "migrations et développement",
]
PLACES = [
    "Lyon", "Grenoble", "Clermont-Ferrand", "Reims", "Ouagadougou", "Cotonou", "Dakar",
    "Bamako", "Antananarivo", "Saint-Étienne", "Valence", "Roanne", "Zorgho", "Niamey",
]
KINDS = [
    "Journée d’échanges", "Webinaire", "Formation", "Appel à projets", "Rencontre régionale",
    "Publication", "Atelier", "Colloque", "Retour d’expérience", "Guide pratique",
]
VERBS = [
    "réunit", "présente", "accompagne", "met en lumière", "interroge", "ouvre",
    "rassemble", "propose", "analyse", "valorise",
]
ACTORS = [
    "les collectivités territoriales", "les associations de solidarité",
    "les agents de développement", "les élus locaux", "les partenaires africains",
    "les porteurs de projets", "les acteurs de l’économie sociale", "les habitants",
]
MONTHS = ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
          "septembre", "octobre", "novembre", "décembre"]


SYLLABLES = ["ca", "ro", "mi", "ter", "lan", "di", "sé", "vo", "pa", "tri", "mon", "gé", "ra",
             "lu", "ni", "po", "char", "bé", "fa", "qui", "ver", "do", "cé", "min", "gra", "pé",
             "sou", "ta", "ri", "con", "dé", "vil", "lo", "mé", "ar", "bor", "col", "tu"]
SUFFIXES = ["", "", "", "tion", "ment", "age", "ité", "eur", "ale", "ique", "ance", "isme", "oire"]
GLUE = ["de", "la", "les", "et", "pour", "avec", "des", "du", "dans", "une", "un", "sur", "au",
        "aux", "par", "en"]
VOCABULARY = 8000
ZIPF_OFFSET = 15.0  # the commonest word in about a fifth of the items (see benches/stories.rs)


class Vocabulary:
    """Words made of French syllables, drawn with weight 1/(rank + 15)."""

    def __init__(self, rng, n=VOCABULARY):
        seen, self.words = set(), []
        while len(self.words) < n:
            w = "".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))) + rng.choice(SUFFIXES)
            if w not in seen:
                seen.add(w)
                self.words.append(w)
        self.cumulative, total = [], 0.0
        for r in range(1, n + 1):
            total += 1.0 / (r + ZIPF_OFFSET)
            self.cumulative.append(total)

    def zipf(self, rng):
        i = bisect.bisect_left(self.cumulative, rng.random() * self.cumulative[-1])
        return self.words[min(i, len(self.words) - 1)]

    def topical(self, rng):
        """A word of the middle of the distribution: what an item is about."""
        return self.words[rng.randrange(200, len(self.words))]

    def filler(self, rng, n):
        out = []
        for _ in range(n):
            if rng.random() < 0.4:
                out.append(rng.choice(GLUE))
            out.append(self.zipf(rng))
        return " ".join(out)


def sentence(rng, vocab, about):
    return (f"{rng.choice(KINDS)} « {rng.choice(TOPICS)} » : ce rendez-vous {rng.choice(VERBS)} "
            f"{rng.choice(ACTORS)} à {rng.choice(PLACES)} le {rng.randint(1, 28)} "
            f"{rng.choice(MONTHS)} {rng.choice([2025, 2026])}, {about} {vocab.filler(rng, rng.randint(2, 5))}.")


def make_item(rng, vocab, feed_no, item_no, when):
    about = f"{vocab.topical(rng)} {vocab.topical(rng)}"
    title = f"{rng.choice(KINDS)} : {rng.choice(TOPICS)}, {about} à {rng.choice(PLACES)}"
    paras = [sentence(rng, vocab, about if n == 0 else "avec") for n in range(rng.randint(2, 4))]
    html = "".join(f"<p>{escape(p)}</p>" for p in paras)
    html += f'<p><a href="/actualites/{feed_no}/{item_no}">Lire la suite</a></p>'
    return {
        "id": f"farm-{feed_no}-{item_no}",
        "title": title,
        "link": f"https://partenaire{feed_no}.example.org/actualites/{item_no}-{rng.randrange(10**6)}",
        "summary": paras[0],
        "html": html,
        "date": when,
        "category": rng.choice(TOPICS),
    }


def rss(feed_no, items):
    out = ['<?xml version="1.0" encoding="UTF-8"?>\n<rss version="2.0"><channel>',
           f"<title>Partenaire {feed_no}</title><link>https://partenaire{feed_no}.example.org/</link>",
           "<description>Actualités du partenaire</description><language>fr</language>"]
    for it in items:
        out.append(
            f"<item><title>{escape(it['title'])}</title><link>{escape(it['link'])}</link>"
            f"<guid isPermaLink=\"false\">{it['id']}</guid>"
            f"<pubDate>{it['date'].strftime('%a, %d %b %Y %H:%M:%S %z')}</pubDate>"
            f"<category>{escape(it['category'])}</category>"
            f"<description><![CDATA[{it['html']}]]></description></item>")
    out.append("</channel></rss>\n")
    return "".join(out)


def atom(feed_no, items):
    out = ['<?xml version="1.0" encoding="UTF-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom" xml:lang="fr">',
           f"<title>Partenaire {feed_no}</title><id>tag:partenaire{feed_no}.example.org,2026:feed</id>",
           f"<link rel=\"alternate\" href=\"https://partenaire{feed_no}.example.org/\"/>",
           f"<updated>{items[0]['date'].isoformat()}</updated>"]
    for it in items:
        out.append(
            f"<entry><title>{escape(it['title'])}</title><id>{it['id']}</id>"
            f"<link rel=\"alternate\" href=\"{escape(it['link'])}\"/>"
            f"<published>{it['date'].isoformat()}</published><updated>{it['date'].isoformat()}</updated>"
            f"<author><name>Partenaire {feed_no}</name></author>"
            f"<category term=\"{escape(it['category'])}\"/>"
            f"<summary>{escape(it['summary'])}</summary>"
            f"<content type=\"html\">{escape(it['html'])}</content></entry>")
    out.append("</feed>\n")
    return "".join(out)


def jsonfeed(feed_no, items):
    return json.dumps({
        "version": "https://jsonfeed.org/version/1.1",
        "title": f"Partenaire {feed_no}",
        "home_page_url": f"https://partenaire{feed_no}.example.org/",
        "language": "fr",
        "items": [{
            "id": it["id"], "url": it["link"], "title": it["title"],
            "summary": it["summary"], "content_html": it["html"],
            "date_published": it["date"].isoformat(), "tags": [it["category"]],
        } for it in items],
    }, ensure_ascii=False) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--feeds", type=int, default=1000)
    ap.add_argument("--items", type=int, default=50)
    ap.add_argument("--out", default="bench/out/farm")
    ap.add_argument("--seed", type=int, default=20261125)
    ap.add_argument("--interval", help="[fetch] interval of farm.toml (e.g. 24h for serving)")
    ap.add_argument("--retention", default="3650d",
                    help="[store] retention: long, so the farm's 2026 items are never pruned")
    ap.add_argument("--channel", type=int, metavar="MAX_ITEMS",
                    help="add a channel `farm` of every source with this max_items")
    ap.add_argument("--base-url", help="sources are BASE_URL/FEED (a server of OUT/feeds); "
                    "also writes FEED.gz and OUT/urls.txt")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    vocab = Vocabulary(rng)
    feeds_dir = os.path.join(args.out, "feeds")
    os.makedirs(feeds_dir, exist_ok=True)
    paris = dt.timezone(dt.timedelta(hours=1))
    start = dt.datetime(2026, 11, 25, 12, 0, tzinfo=paris)
    shared = []  # items that other partners cross-post
    sources = []
    for f in range(args.feeds):
        items = []
        for i in range(args.items):
            when = start - dt.timedelta(hours=rng.randint(1, 24 * 300), minutes=rng.randint(0, 59))
            if shared and rng.random() < 0.05:
                # A cross-post: the same announcement, its own id and link, reworded title.
                src = rng.choice(shared)
                it = dict(src, id=f"farm-{f}-{i}", link=f"https://partenaire{f}.example.org/relais/{i}",
                          title="À noter : " + src["title"], date=src["date"] + dt.timedelta(days=1))
            else:
                it = make_item(rng, vocab, f, i, when)
                if rng.random() < 0.05:
                    shared.append(it)
            items.append(it)
        items.sort(key=lambda it: it["date"], reverse=True)
        kind = ("rss", "atom", "json")[f % 3]
        name = f"p{f:05}.{kind}"
        body = {"rss": rss, "atom": atom, "json": jsonfeed}[kind](f, items)
        with open(os.path.join(feeds_dir, name), "w", encoding="utf-8") as fh:
            fh.write(body)
        if args.base_url:
            # mtime=0: same bytes on every run.
            with open(os.path.join(feeds_dir, name + ".gz"), "wb") as fh:
                fh.write(gzip.compress(body.encode("utf-8"), compresslevel=6, mtime=0))
        sources.append((f"p{f:05}", name))
    with open(os.path.join(args.out, "farm.toml"), "w", encoding="utf-8") as fh:
        fh.write("# Generated by bench/gen_farm.py: do not edit.\n")
        fh.write('[server]\nlisten = "127.0.0.1:0"\n\n')
        fh.write(f'[store]\npath = "store"\nretention = "{args.retention}"\n\n')
        fh.write('[fetch]\nconcurrency = 64\nper_host = 64\n')
        if args.base_url:
            fh.write("allow_private = true\n")
        if args.interval:
            fh.write(f'interval = "{args.interval}"\n')
        fh.write("\n")
        for sid, name in sources:
            url = f"{args.base_url.rstrip('/')}/{name}" if args.base_url else f"feeds/{name}"
            fh.write(f'[[source]]\nid = "{sid}"\nurl = "{url}"\n\n')
        if args.channel:
            fh.write(f'[[channel]]\nid = "farm"\ntitle = "Tout le réseau (banc d’essai)"\n'
                     f'max_items = {args.channel}\n')
    if args.base_url:
        with open(os.path.join(args.out, "urls.txt"), "w", encoding="utf-8") as fh:
            for _, name in sources:
                fh.write(f"{args.base_url.rstrip('/')}/{name}\n")
    print(f"{args.feeds} feeds x {args.items} items in {feeds_dir}")


if __name__ == "__main__":
    main()
