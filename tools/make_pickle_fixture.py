#!/usr/bin/env python3
"""A torch.save-format file made WITHOUT torch, by Python's own pickler and zipfile, for tests/hub/torch-bin.test.ts:
the opcodes Python really emits (memo, batched SETITEMS, BINPERSID, ...) and a zip Python really writes.

Stand-ins named like torch's globals (torch.FloatStorage / HalfStorage / BFloat16Storage / LongStorage,
torch._utils._rebuild_tensor_v2, collections.OrderedDict) are registered under those module names so the pickler
writes exactly the GLOBALs torch.save writes; a tensor reduces as torch's Tensor.__reduce_ex__ does:
(_rebuild_tensor_v2, (storage, offset, size, stride, requires_grad, OrderedDict())), its storage a persistent id
('storage', <type>, key, 'cpu', numel).

  python3 tools/make_pickle_fixture.py [OUT_DIR]   (default tests/fixtures/torch-bin)

writes python-pickled.bin (zip: stored, 'python-made' folder, one record deflated) and python-pickled.json (the
expected tensors: name, dtype, shape, values as floats).
"""
import collections
import io
import json
import os
import pickle
import struct
import sys
import types
import zipfile

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tests/fixtures/torch-bin")

torch = types.ModuleType("torch")
utils = types.ModuleType("torch._utils")
sys.modules["torch"], sys.modules["torch._utils"] = torch, utils


def _storage_type(name, fmt, size):
    cls = type(name, (), {"fmt": fmt, "item": size, "__module__": "torch"})
    setattr(torch, name, cls)
    return cls


FloatStorage = _storage_type("FloatStorage", "<f", 4)
HalfStorage = _storage_type("HalfStorage", "<e", 2)
BFloat16Storage = _storage_type("BFloat16Storage", None, 2)
LongStorage = _storage_type("LongStorage", "<q", 8)


def _rebuild_tensor_v2(*args):  # never called: only its name is pickled
    raise RuntimeError("not called")


_rebuild_tensor_v2.__module__ = "torch._utils"
utils._rebuild_tensor_v2 = _rebuild_tensor_v2


class Storage:
    def __init__(self, key, typ, values):
        self.key, self.typ, self.values = key, typ, values

    def raw(self):
        if self.typ is BFloat16Storage:  # truncate f32 → bf16 (the values are chosen exact in bf16)
            return b"".join(struct.pack("<f", v)[2:] for v in self.values)
        return b"".join(struct.pack(self.typ.fmt, v) for v in self.values)


class Tensor:
    def __init__(self, storage, offset, size, stride):
        self.storage, self.offset, self.size, self.stride = storage, offset, size, stride

    def __reduce_ex__(self, proto):
        return (_rebuild_tensor_v2, (self.storage, self.offset, tuple(self.size), tuple(self.stride), False, collections.OrderedDict()))


class Pickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, Storage):
            return ("storage", obj.typ, obj.key, "cpu", len(obj.values))
        return None


def main():
    emb = Storage("0", FloatStorage, [i * 0.25 - 1 for i in range(12)])  # [4, 3]
    a = Storage("1", HalfStorage, [0.5, -1.5, 2.0, 3.25, -0.125, 8.0])
    d = Storage("2", BFloat16Storage, [1.0, -2.0, 0.5, 3.0])
    ids = Storage("3", LongStorage, [0, 1, 2])
    sd = collections.OrderedDict()
    sd["backbone.embedding.weight"] = Tensor(emb, 0, [4, 3], [3, 1])
    sd["backbone.layers.0.mixer.A_log"] = Tensor(a, 0, [2, 3], [3, 1])
    sd["backbone.layers.0.mixer.D"] = Tensor(d, 0, [4], [1])
    sd["lm_head.weight"] = Tensor(emb, 0, [4, 3], [3, 1])  # tied: the same storage
    sd["transposed"] = Tensor(a, 0, [3, 2], [1, 3])  # a non-contiguous view
    sd["position_ids"] = Tensor(ids, 0, [1, 3], [3, 1])
    sd._metadata = collections.OrderedDict([("", {"version": 1})])
    buf = io.BytesIO()
    Pickler(buf, protocol=2).dump(sd)
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, "python-pickled.bin")
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("python-made/data.pkl", buf.getvalue(), compress_type=zipfile.ZIP_DEFLATED)
        z.writestr("python-made/byteorder", "little")
        for s in (emb, a, d, ids):
            z.writestr(f"python-made/data/{s.key}", s.raw(), compress_type=zipfile.ZIP_STORED)
        z.writestr("python-made/version", "3\n")

    def values(t):
        vals = t.storage.values
        out = []

        def rec(dim, off):
            if dim == len(t.size):
                out.append(vals[off])
                return
            for i in range(t.size[dim]):
                rec(dim + 1, off + i * t.stride[dim])

        rec(0, t.offset)
        return out

    dt = {FloatStorage: "F32", HalfStorage: "F16", BFloat16Storage: "BF16", LongStorage: "I64"}
    expected = [{"name": k, "dtype": dt[t.storage.typ], "shape": t.size, "values": values(t)} for k, t in sd.items()]
    with open(os.path.join(OUT, "python-pickled.json"), "w") as f:
        json.dump({"made_by": f"Python {sys.version.split()[0]} pickle protocol 2 + zipfile", "tensors": expected}, f, indent=1)
    print(f"wrote {path} ({os.path.getsize(path)} bytes)")


if __name__ == "__main__":
    main()
