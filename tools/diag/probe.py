from common import *
import time
torch.set_num_threads(2)
tok = load_tok(); t0=time.time()
held = held_stream(tok); print("held tokens", len(held), time.time()-t0)
tasks = T.Tasks(tok, T.multikey_words(), 10.0)
for arch in ["mamba", "pythia"]:
    m = load_model(arch)
    for L in [64, 256]:
        rng = np.random.default_rng([5, L])
        probes = [tasks.passkey(held, rng, L, with_answer=False) for _ in range(32)]
        x = torch.from_numpy(np.stack([np.concatenate([p["prompt"].ids, p["answer"]]) for p in probes])).long()
        with torch.no_grad(): logits = m(x)
        pred = logits.argmax(-1).numpy()
        first_ok = 0; rest_ok = 0; inneedle = 0; inn_first = 0; fp = []
        for j, p in enumerate(probes):
            s = len(p["prompt"]); a = p["answer"]; f = p["first"]
            ok = pred[j, s-1:s-1+len(a)] == a
            first_ok += ok[f]; rest_ok += ok[f+1:].mean()
            fp.append(tok.decode([int(pred[j, s-1+f])]))
            # second occurrence of the key inside the needle
            (a0, b0), = p["spans"]
            ids = x[j, a0:b0].numpy(); dig = tasks.is_digit(ids); pos = np.where(dig)[0]
            sec = pos[5:10] + a0  # positions of second key copy
            okn = pred[j, sec-1] == x[j, sec].numpy()
            inneedle += okn.mean(); inn_first += okn[0]
        # teacher-forced rest: per-digit accuracy of digits 2..5 of answer
        print(f"{arch} L={L}: answer first-digit acc {first_ok/32:.3f}  rest per-digit acc {rest_ok/32:.3f}  "
              f"needle 2nd copy per-digit {inneedle/32:.3f} (its first digit {inn_first/32:.3f})  first preds {''.join(fp)}")
