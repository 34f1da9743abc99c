"""Shared setup of the demo-mamba recall diagnosis (docs/demo-models.md, "Why demo-mamba learned no recall"):
CPU only, Debian's torch + numpy, no transformers/tokenizers (bpe.py stands in for the tokenizer and reproduces
tokenizer_check.json). Paths: MODELS (default public/models), CORPUS (default .corpus/corpus.jsonl.xz),
DIAG_CACHE (default .diag/: token streams as .npy)."""
import os, sys, json, lzma
import numpy as np, torch
HERE = os.path.dirname(os.path.abspath(__file__)); ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.dirname(HERE)); sys.path.insert(0, HERE)
import lm_common as C, train_demo as T
from bpe import BPE

class Enc:
    def __init__(self, ids): self.ids = ids
class Tok:
    def __init__(self, path): self.b = BPE(path)
    def encode(self, s): return Enc(self.b.encode(s))
    def encode_batch(self, docs): return [self.encode(d) for d in docs]
    def token_to_id(self, s): return self.b.token_to_id(s)
    def id_to_token(self, i): return self.b.inv[i]
    def get_vocab_size(self): return len(self.b.vocab)
    def decode(self, ids): return self.b.decode(ids)

MD = os.environ.get("MODELS", os.path.join(ROOT, "public/models"))
CORPUS = os.environ.get("CORPUS", os.path.join(ROOT, ".corpus/corpus.jsonl.xz"))
CACHE = os.environ.get("DIAG_CACHE", os.path.join(ROOT, ".diag")); os.makedirs(CACHE, exist_ok=True)
def load_tok(): return Tok(MD + "/demo-mamba/tokenizer.json")

def held_stream(tok, n_docs=400, cache=os.path.join(CACHE, "held.npy")):
    if os.path.exists(cache): return np.load(cache)
    _, held = T.load_corpus(CORPUS, 0.02)
    s = T.encode_stream(tok, held[:n_docs]); np.save(cache, s); return s

def load_model(arch):
    d = MD + f"/demo-{arch}"
    cfgj = json.load(open(d + "/config.json"))
    mc = T.model_config(T.FULL, arch, cfgj["vocab_size"])
    m = C.MambaLM(mc) if arch == "mamba" else C.NeoXLM(mc)
    T.load_f16_weights(m, d)
    return m.eval()

def train_stream():
    return np.load(os.path.join(CACHE, "train.npy"))  # written by enc_train.py
