from common import *
import time
tok = load_tok(); t0 = time.time()
train, held = T.load_corpus(CORPUS, 0.02)
print(len(train), len(held))
s = T.encode_stream(tok, train); np.save(os.path.join(CACHE, "train.npy"), s); print("train tokens", len(s), time.time() - t0)
