from common import *
torch.set_num_threads(1)
tok = load_tok(); held = held_stream(tok)
tasks = T.Tasks(tok, T.multikey_words(), 10.0)
m = load_model(sys.argv[1])
rng = np.random.default_rng(7)
# (1) a repeated random span of held-out text: loss on the second copy
o = int(rng.integers(0, len(held) - 200)); s = held[o:o + 100]
x = torch.from_numpy(np.concatenate([s, s])[None]).long()
with torch.no_grad(): lg = m(x)
ce = torch.nn.functional.cross_entropy(lg[0, :-1], x[0, 1:], reduction="none").numpy()
print("repeat 100 tokens: CE first copy %.3f, second copy %.3f, argmax acc second copy %.2f" % (ce[:99].mean(), ce[100:].mean(), (lg[0, 99:-1].argmax(-1) == x[0, 100:]).float().mean()))
# (2) copy probes as the trainer builds them, 256 tokens
pr = [tasks.copy(held, rng, 256, with_answer=False) for _ in range(8)]
for p in pr[:8]:
    xx = torch.from_numpy(np.concatenate([p["prompt"].ids, p["answer"]])[None]).long()
    with torch.no_grad(): lg = m(xx)
    s0 = len(p["prompt"]); a = p["answer"]
    pred = lg[0, s0 - 1:s0 - 1 + len(a)].argmax(-1).numpy()
    (a0, b0), = p["spans"]
    print("copy: at", a0, "prefix len", s0 - (256 - 16 - 0) + 0, "acc %.2f" % (pred == a).mean(), "| answer:", repr(tok.decode(list(a))[:40]), "| pred:", repr(tok.decode(list(pred))[:40]))
