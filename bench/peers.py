#!/usr/bin/env python3
"""The Python peers of bench/run.sh, run with the venv's interpreter (bench/out/venv).

    peers.py reader DB URLS WORKERS   lemon24/reader: add the feeds of URLS (one a line) to
                                      the reader database DB if new, then update_feeds()
                                      with WORKERS threads; prints `reader: N entries`
    peers.py feedparser DIR           feedparser.parse on every feed file of DIR (read into
                                      memory first; FEED.gz skipped), one pass;
                                      prints a line in benches/parse.rs's format
    peers.py versions                 the versions of reader and feedparser

Timing of `reader` is done outside (GNU time around the whole process, as for relais), so
both pay their start-up. Nothing here touches the network beyond the URLs given.
"""
import os
import sys
import time


def reader_update(db, urls_file, workers):
    from reader import make_reader

    with open(urls_file, encoding="utf-8") as fh:
        urls = [line.strip() for line in fh if line.strip()]
    r = make_reader(db)
    known = {f.url for f in r.get_feeds()}
    for url in urls:
        if url not in known:
            r.add_feed(url)
    r.update_feeds(workers=workers)
    counts = r.get_entry_counts()
    print(f"reader: {counts.total} entries, {len(urls)} feeds")
    r.close()


def feedparser_scan(directory):
    import feedparser

    names = sorted(n for n in os.listdir(directory) if not n.endswith(".gz"))
    docs = []
    for n in names:
        with open(os.path.join(directory, n), "rb") as fh:
            docs.append(fh.read())
    best, items = float("inf"), 0
    # One pass: feedparser takes minutes over the whole farm, and varies little.
    for _ in range(1):
        start = time.perf_counter()
        items = sum(len(feedparser.parse(d).entries) for d in docs)
        best = min(best, time.perf_counter() - start)
    # Same shape as benches/parse.rs's lines, so run.sh reads both the same way.
    print(f"{'feedparser parse only':<28} {items:>8} items  {best:>8.3f} s  "
          f"{items / best:>10.0f} items/s  {best * 1e6 / max(items, 1):>7.2f} µs/item (best of 1)")


def versions():
    from importlib.metadata import version

    print(f"reader {version('reader')}, feedparser {version('feedparser')}, "
          f"python {sys.version.split()[0]}")


def main():
    args = sys.argv[1:]
    if args[:1] == ["reader"] and len(args) == 4:
        reader_update(args[1], args[2], int(args[3]))
    elif args[:1] == ["feedparser"] and len(args) == 2:
        feedparser_scan(args[1])
    elif args == ["versions"]:
        versions()
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
