"""Minimal byte-level BPE encoder for the demo tokenizer.json (digit split + GPT-2 regex), CPU probes only.
Checked against tokenizer_check.json (Python tokenizers' ids)."""
import json, re, unicodedata

def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b); cs.append(256 + n); n += 1
    return dict(zip(bs, map(chr, cs)))

PAT = re.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?[^\W\d_]+| ?\d+| ?(?:[^\s\w]|_)+|\s+(?!\S)|\s+""")

class BPE:
    def __init__(self, path):
        t = json.load(open(path))
        self.vocab = t["model"]["vocab"]
        self.ranks = {tuple(m): i for i, m in enumerate(t["model"]["merges"])}
        self.b2u = bytes_to_unicode()
        self.inv = {v: k for k, v in self.vocab.items()}
        self.cache = {}
    def bpe(self, w):
        if w in self.cache: return self.cache[w]
        parts = list(w)
        while len(parts) > 1:
            best = None
            for i in range(len(parts) - 1):
                r = self.ranks.get((parts[i], parts[i + 1]))
                if r is not None and (best is None or r < best[0]): best = (r, i)
            if best is None: break
            i = best[1]
            parts = parts[:i] + [parts[i] + parts[i + 1]] + parts[i + 2:]
        ids = [self.vocab[p] for p in parts]
        self.cache[w] = ids
        return ids
    def encode(self, s):
        s = unicodedata.normalize("NFC", s)
        ids = []
        # Split on [0-9] isolated, then ByteLevel regex on each piece
        for piece in re.split(r"([0-9])", s):
            if not piece: continue
            for m in PAT.findall(piece):
                ids += self.bpe("".join(self.b2u[b] for b in m.encode("utf-8")))
        return ids
    def decode(self, ids):
        u2b = {v: k for k, v in self.b2u.items()}
        return bytes(u2b[c] for i in ids for c in self.inv[i]).decode("utf-8", "replace")
    def token_to_id(self, s):
        return self.vocab.get("".join(self.b2u[b] for b in s.encode()))

if __name__ == "__main__":
    import sys
    d = sys.argv[1]
    tok = BPE(d + "/tokenizer.json")
    chk = json.load(open(d + "/tokenizer_check.json"))
    for c in chk["cases"]:
        ok = tok.encode(c["text"]) == c["ids"]
        print("OK " if ok else "BAD", repr(c["text"][:50]))
