#!/usr/bin/env python3
"""Turns the unpacked Debian packages (see tools/make_corpus.sh) into a cleaned,
document-level English corpus: <out>/corpus.jsonl.xz (one {"src", "text"} per line)
plus <out>/manifest.json. Standard library only, deterministic.
"""
import argparse
import glob
import gzip
import hashlib
import json
import lzma
import os
import re
import unicodedata

CTRL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
OVERSTRIKE = re.compile(r".\x08")


def clean(text: str) -> str:
    text = unicodedata.normalize("NFC", text)
    text = OVERSTRIKE.sub("", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", "    ").replace("\f", "\n")
    text = CTRL.sub("", text)
    lines = [ln.rstrip() for ln in text.split("\n")]
    text = "\n".join(lines)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip()


def split_chunks(text: str, max_chars: int = 12000):
    """Split at blank lines into pieces of at most ~max_chars."""
    out, cur, n = [], [], 0
    for para in text.split("\n\n"):
        if n + len(para) > max_chars and cur:
            out.append("\n\n".join(cur))
            cur, n = [], 0
        cur.append(para)
        n += len(para) + 2
    if cur:
        out.append("\n\n".join(cur))
    return [c for c in out if len(c.strip()) > 200]


def stable_frac(s: str) -> float:
    return int(hashlib.md5(s.encode()).hexdigest()[:8], 16) / 2**32


def cap_docs(docs, cap_bytes, key):
    """Deterministically subsample documents down to about cap_bytes."""
    total = sum(len(d) for d in docs)
    if total <= cap_bytes:
        return docs
    keep = cap_bytes / total
    return [d for i, d in enumerate(docs) if stable_frac(f"{key}:{i}") < keep]


def read_gz(path):
    with gzip.open(path, "rt", encoding="utf-8", errors="replace") as f:
        return f.read()


def kjv_docs(path):
    docs, cur_title, verses = [], None, []
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line.strip():
                continue
            m = re.match(r"^\s+\d+\s+(.*)$", line)
            if m:
                verses.append(m.group(1).strip())
            else:
                if cur_title and verses:
                    docs.append(cur_title + "\n\n" + " ".join(verses))
                cur_title, verses = line.strip(), []
    if cur_title and verses:
        docs.append(cur_title + "\n\n" + " ".join(verses))
    return docs


POS = {"n": "noun", "v": "verb", "a": "adjective", "s": "adjective", "r": "adverb"}


def wordnet_docs(wn_dir, group=25):
    docs = []
    for part in ["noun", "verb", "adj", "adv"]:
        entries = []
        with open(os.path.join(wn_dir, "data." + part), encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("  ") or "|" not in line:
                    continue
                head, gloss = line.split("|", 1)
                toks = head.split()
                pos = POS.get(toks[2], toks[2])
                n = int(toks[3], 16)
                words = [toks[4 + 2 * i].replace("_", " ") for i in range(n)]
                words = [re.sub(r"\([a-z]+\)$", "", w) for w in words]
                gloss = gloss.strip().rstrip(";").strip()
                entries.append(f"{', '.join(words)} ({pos}): {gloss}.")
        for i in range(0, len(entries), group):
            docs.append("\n".join(entries[i : i + group]))
    return docs


def fortune_docs(dirs, group=12):
    docs = []
    seen = set()
    for d in dirs:
        for path in sorted(glob.glob(os.path.join(d, "*"))):
            base = os.path.basename(path)
            if base.endswith(".dat") or base.endswith(".u8"):
                continue
            if base in ("ascii-art", "translate-me") or os.path.isdir(path):
                continue
            p = path + ".u8" if os.path.exists(path + ".u8") else path
            with open(p, encoding="utf-8", errors="replace") as f:
                items = [clean(x) for x in f.read().split("\n%\n")]
            items = [x for x in items if x and x not in seen]
            seen.update(items)
            for i in range(0, len(items), group):
                docs.append("\n\n".join(items[i : i + group]))
    return docs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True, help="folder with the x_<package> extractions")
    ap.add_argument("--kjv", required=True)
    ap.add_argument("--debs", default=None)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    R = lambda *p: os.path.join(args.root, *p)  # noqa: E731

    sources = {}
    sources["kjv"] = (kjv_docs(args.kjv), 6_000_000)
    sources["wordnet"] = (wordnet_docs(R("x_wordnet-base/usr/share/wordnet")), 4_000_000)
    sources["fortunes"] = (
        fortune_docs([R("x_fortunes/usr/share/games/fortunes"), R("x_fortunes-min/usr/share/games/fortunes")]),
        4_000_000,
    )
    deb_txt = [
        R("x_debian-reference-en/usr/share/debian-reference/debian-reference.en.txt.gz"),
        R("x_debian-faq/usr/share/doc/debian/FAQ/debian-faq.en.txt.gz"),
        R("x_developers-reference/usr/share/developers-reference/developers-reference.txt.gz"),
    ] + sorted(glob.glob(R("x_debian-policy/usr/share/doc/debian-policy/*.txt.gz")))
    docs = []
    for p in deb_txt:
        docs += split_chunks(clean(read_gz(p)))
    sources["debian-docs"] = (docs, 5_000_000)
    docs = []
    for p in [R("x_jargon-text/usr/share/doc/jargon-text/jargon.txt.gz")]:
        docs += split_chunks(clean(read_gz(p)))
    sources["jargon"] = (docs, 2_000_000)
    docs = []
    for p in sorted(glob.glob(R("x_gnu-standards/usr/share/doc/gnu-standards/*.text.gz"))):
        docs += split_chunks(clean(read_gz(p)))
    sources["gnu-standards"] = (docs, 1_000_000)
    py = R("x_python3.11-doc/usr/share/doc/python3.11/html/_sources")
    docs = []
    for sub in ["tutorial", "howto", "faq", "reference", "using", "extending", "library"]:
        for p in sorted(glob.glob(os.path.join(py, sub, "**", "*.rst.txt"), recursive=True)):
            with open(p, encoding="utf-8", errors="replace") as f:
                docs += split_chunks(clean(f.read()))
    with open(os.path.join(py, "glossary.rst.txt"), encoding="utf-8") as f:
        docs += split_chunks(clean(f.read()))
    sources["python-docs"] = (docs, 6_000_000)

    os.makedirs(args.out, exist_ok=True)
    manifest = {"sources": {}, "total_chars": 0, "total_docs": 0}
    with lzma.open(os.path.join(args.out, "corpus.jsonl.xz"), "wt", encoding="utf-8", preset=6) as f:
        for name, (docs, cap) in sources.items():
            docs = [clean(d) for d in docs]
            docs = [d for d in docs if len(d) > 100]
            docs = cap_docs(docs, cap, name)
            chars = sum(len(d) for d in docs)
            manifest["sources"][name] = {"docs": len(docs), "chars": chars}
            manifest["total_chars"] += chars
            manifest["total_docs"] += len(docs)
            for d in docs:
                f.write(json.dumps({"src": name, "text": d}, ensure_ascii=False) + "\n")
    if args.debs:
        with open(args.debs) as f:
            manifest["debian_packages"] = [ln.strip() for ln in f if ln.strip()]
    with open(os.path.join(args.out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2)
    print(json.dumps(manifest, indent=2))


if __name__ == "__main__":
    main()
