// A restricted unpickler for the data.pkl of a torch.save'd state dict. It reads the opcodes pickle protocols 2–5
// use for plain data (dicts, lists, tuples, strings, numbers) and knows exactly the few globals torch.save writes for
// tensors; every other global — os.system, builtins.eval, a model class — is refused with an error naming it. Nothing
// in the file is ever called or executed: the allowed globals are interpreted by us (an OrderedDict is a Map,
// _rebuild_tensor_v2 gives a TorchTensorRef), so the worst a hostile file can do is fail to parse.
//
// What torch.save writes for `torch.save(model.state_dict(), f)` (protocol 2):
//   collections.OrderedDict() with SETITEMS of name → torch._utils._rebuild_tensor_v2(storage, storage_offset, size,
//   stride, requires_grad, backward_hooks[, metadata]), where storage is a persistent id
//   ('storage', torch.FloatStorage, key, location, numel) — the bytes live in the zip entry <folder>/data/<key> —
//   and backward_hooks is collections.OrderedDict(). A BUILD then sets the dict's _metadata (ignored here).

import type { SafetensorsDtype } from './dtype';

export class TorchPickleError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TorchPickleError';
  }
}

/** torch storage classes → element type (safetensors spelling). */
export const TORCH_STORAGE_DTYPES: Readonly<Record<string, SafetensorsDtype>> = {
  FloatStorage: 'F32', HalfStorage: 'F16', BFloat16Storage: 'BF16', DoubleStorage: 'F64',
  LongStorage: 'I64', IntStorage: 'I32', ShortStorage: 'I16', CharStorage: 'I8', ByteStorage: 'U8', BoolStorage: 'BOOL',
};

/** One storage (a zip entry data/<key>) as the pickle declares it. */
export interface TorchStorageRef {
  key: string;
  dtype: SafetensorsDtype;
  /** elements in the storage */
  numel: number;
  /** e.g. 'cpu', 'cuda:0' (where it was saved from; irrelevant here) */
  location: string;
}

/** A tensor: a strided view of a storage (offset and strides in elements). */
export interface TorchTensorRef {
  storage: TorchStorageRef;
  offset: number;
  shape: number[];
  stride: number[];
}

export interface UnpickledStateDict {
  /** name → tensor, in the pickle's order */
  tensors: Map<string, TorchTensorRef>;
  /** top-level entries that are not tensors (e.g. an int), by name */
  other: string[];
}

/** A Python dict / OrderedDict read from the pickle. */
class PyDict {
  readonly map = new Map<unknown, unknown>();
}
class PyGlobal {
  constructor(readonly module: string, readonly name: string) {}
  get qualified(): string {
    return `${this.module}.${this.name}`;
  }
}
class PyTuple {
  constructor(readonly items: unknown[]) {}
}

/** Globals torch.save writes for a state dict; anything else is refused. */
function allowGlobal(module: string, name: string, where: string): PyGlobal {
  const q = `${module}.${name}`;
  if (q === 'collections.OrderedDict' || q === 'torch._utils._rebuild_tensor_v2' || q === 'torch._utils._rebuild_parameter') {
    return new PyGlobal(module, name);
  }
  if (module === 'torch' && /Storage$/.test(name)) {
    if (Object.prototype.hasOwnProperty.call(TORCH_STORAGE_DTYPES, name)) return new PyGlobal(module, name);
    throw new TorchPickleError(
      `${where}: unsupported storage type torch.${name}; tensors must be stored as ${Object.keys(TORCH_STORAGE_DTYPES).map((s) => `torch.${s}`).join(', ')}`,
    );
  }
  if (q === 'torch._utils._rebuild_tensor_v3') {
    throw new TorchPickleError(`${where}: a tensor saved with torch._utils._rebuild_tensor_v3 (a dtype without a typed storage: uint16/32/64 or float8) is not supported`);
  }
  throw new TorchPickleError(
    `${where}: refusing to load: the pickle names the global ${q}, which is not part of a torch.save'd state dict ` +
      `(allowed: collections.OrderedDict, torch._utils._rebuild_tensor_v2, torch.*Storage). Nothing in the file was run.`,
  );
}

function int(v: unknown, what: string, where: string): number {
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  if (typeof v === 'bigint' && v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)) return Number(v);
  throw new TorchPickleError(`${where}: ${what} must be an integer, got ${describe(v)}`);
}

function intTuple(v: unknown, what: string, where: string): number[] {
  const items = v instanceof PyTuple ? v.items : Array.isArray(v) ? v : null;
  if (!items) throw new TorchPickleError(`${where}: ${what} must be a tuple of integers, got ${describe(v)}`);
  return items.map((x) => int(x, what, where));
}

function describe(v: unknown): string {
  if (v === null) return 'None';
  if (v instanceof PyGlobal) return v.qualified;
  if (v instanceof PyTuple) return `a tuple of ${v.items.length}`;
  if (v instanceof PyDict) return 'a dict';
  if (Array.isArray(v)) return 'a list';
  if (v instanceof Uint8Array) return `${v.byteLength} bytes`;
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v);
  if (typeof v === 'object') return 'an object';
  return String(v);
}

class Tensor {
  constructor(readonly ref: TorchTensorRef) {}
}
class Storage implements TorchStorageRef {
  constructor(readonly key: string, readonly dtype: SafetensorsDtype, readonly numel: number, readonly location: string) {}
}

function persistentLoad(pid: unknown, where: string): TorchStorageRef {
  const t = pid instanceof PyTuple ? pid.items : null;
  if (!t || t.length !== 5 || t[0] !== 'storage') {
    throw new TorchPickleError(`${where}: unknown persistent id ${describe(pid)} (expected ('storage', type, key, location, numel))`);
  }
  const [, type, key, location, numel] = t;
  if (!(type instanceof PyGlobal) || type.module !== 'torch' || !TORCH_STORAGE_DTYPES[type.name]) {
    throw new TorchPickleError(`${where}: persistent id names ${describe(type)}, not a torch storage type`);
  }
  if (typeof key !== 'string' || !/^[A-Za-z0-9_.-]+$/.test(key)) throw new TorchPickleError(`${where}: bad storage key ${describe(key)}`);
  const n = int(numel, 'storage numel', where);
  if (n < 0) throw new TorchPickleError(`${where}: storage ${key} has negative size ${n}`);
  return new Storage(key, TORCH_STORAGE_DTYPES[type.name], n, typeof location === 'string' ? location : String(location));
}

/** Apply an allowed callable to its arguments (REDUCE). */
function call(fn: unknown, args: unknown, where: string): unknown {
  if (!(fn instanceof PyGlobal)) throw new TorchPickleError(`${where}: REDUCE of ${describe(fn)}, which is not callable here`);
  const a = args instanceof PyTuple ? args.items : null;
  if (!a) throw new TorchPickleError(`${where}: REDUCE arguments must be a tuple, got ${describe(args)}`);
  switch (fn.qualified) {
    case 'collections.OrderedDict': {
      const d = new PyDict();
      if (a.length === 1 && Array.isArray(a[0])) {
        for (const kv of a[0]) if (kv instanceof PyTuple && kv.items.length === 2) d.map.set(kv.items[0], kv.items[1]);
      } else if (a.length !== 0) throw new TorchPickleError(`${where}: OrderedDict with unexpected arguments`);
      return d;
    }
    case 'torch._utils._rebuild_tensor_v2': {
      if (a.length < 6 || a.length > 7) throw new TorchPickleError(`${where}: _rebuild_tensor_v2 takes 6 or 7 arguments, got ${a.length}`);
      const [storage, offset, size, stride] = a;
      if (!(storage instanceof Storage)) {
        throw new TorchPickleError(`${where}: _rebuild_tensor_v2's storage is ${describe(storage)}, not a storage reference`);
      }
      const shape = intTuple(size, 'tensor size', where);
      const strides = intTuple(stride, 'tensor stride', where);
      if (shape.length !== strides.length) throw new TorchPickleError(`${where}: tensor size has ${shape.length} dims but stride ${strides.length}`);
      if (shape.some((s) => s < 0) || strides.some((s) => s < 0)) throw new TorchPickleError(`${where}: negative tensor size or stride`);
      return new Tensor({ storage, offset: int(offset, 'storage offset', where), shape, stride: strides });
    }
    case 'torch._utils._rebuild_parameter': {
      if (!(a[0] instanceof Tensor)) throw new TorchPickleError(`${where}: _rebuild_parameter of ${describe(a[0])}`);
      return a[0];
    }
    default:
      throw new TorchPickleError(`${where}: ${fn.qualified} cannot be called`);
  }
}

/**
 * Parse data.pkl: the state dict's tensors as references into storages (no bytes are read here). Throws a
 * TorchPickleError naming the problem (a refused global, an unsupported opcode, a truncated pickle, ...).
 */
export function unpickleStateDict(data: Uint8Array, where = 'data.pkl'): UnpickledStateDict {
  const v = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const stack: unknown[] = [];
  const marks: number[] = [];
  const memo = new Map<number, unknown>();
  const latin1 = new TextDecoder('latin1');
  const utf8 = new TextDecoder('utf-8', { fatal: true });
  let p = 0;
  const need = (n: number, op: string) => {
    if (p + n > data.byteLength) throw new TorchPickleError(`${where}: truncated pickle (opcode ${op} at byte ${p - 1} needs ${n} more bytes; the pickle is ${data.byteLength} bytes)`);
  };
  const pop = (op: string): unknown => {
    if (stack.length === 0 || (marks.length && stack.length <= marks[marks.length - 1])) throw new TorchPickleError(`${where}: corrupt pickle (stack underflow at ${op})`);
    return stack.pop();
  };
  const popMark = (op: string): unknown[] => {
    const m = marks.pop();
    if (m === undefined) throw new TorchPickleError(`${where}: corrupt pickle (${op} without MARK)`);
    return stack.splice(m);
  };
  const top = (op: string): unknown => {
    if (stack.length === 0) throw new TorchPickleError(`${where}: corrupt pickle (empty stack at ${op})`);
    return stack[stack.length - 1];
  };
  const str = (n: number, op: string): string => {
    need(n, op);
    const s = data.subarray(p, p + n);
    p += n;
    try {
      return utf8.decode(s);
    } catch {
      throw new TorchPickleError(`${where}: invalid UTF-8 in a string`);
    }
  };
  const line = (op: string): string => {
    const end = data.indexOf(0x0a, p);
    if (end < 0) throw new TorchPickleError(`${where}: truncated pickle (${op} without newline)`);
    const s = latin1.decode(data.subarray(p, end));
    p = end + 1;
    return s;
  };
  const setItems = (d: unknown, items: unknown[], op: string) => {
    if (!(d instanceof PyDict)) throw new TorchPickleError(`${where}: ${op} on ${describe(d)}, not a dict`);
    if (items.length % 2) throw new TorchPickleError(`${where}: ${op} with an odd number of items`);
    for (let i = 0; i < items.length; i += 2) d.map.set(items[i], items[i + 1]);
  };
  const memoGet = (i: number) => {
    if (!memo.has(i)) throw new TorchPickleError(`${where}: corrupt pickle (memo ${i} is not set)`);
    return memo.get(i);
  };
  const longBytes = (n: number, op: string): number | bigint => {
    need(n, op);
    let x = 0n;
    for (let i = n - 1; i >= 0; i--) x = (x << 8n) | BigInt(data[p + i]);
    if (n > 0 && data[p + n - 1] & 0x80) x -= 1n << BigInt(8 * n);
    p += n;
    return x >= BigInt(Number.MIN_SAFE_INTEGER) && x <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(x) : x;
  };

  for (;;) {
    if (p >= data.byteLength) throw new TorchPickleError(`${where}: truncated pickle (no STOP opcode after ${data.byteLength} bytes)`);
    const op = data[p++];
    const name = `0x${op.toString(16)}`;
    switch (op) {
      case 0x80: // PROTO
        need(1, 'PROTO');
        if (data[p] > 5) throw new TorchPickleError(`${where}: pickle protocol ${data[p]} is not supported`);
        p += 1;
        break;
      case 0x95: // FRAME (protocol 4): a length we don't need
        need(8, 'FRAME');
        p += 8;
        break;
      case 0x2e: { // STOP
        const result = pop('STOP');
        return toStateDict(result, where);
      }
      case 0x28: marks.push(stack.length); break; // MARK
      case 0x7d: stack.push(new PyDict()); break; // EMPTY_DICT
      case 0x5d: stack.push([]); break; // EMPTY_LIST
      case 0x29: stack.push(new PyTuple([])); break; // EMPTY_TUPLE
      case 0x74: stack.push(new PyTuple(popMark('TUPLE'))); break; // TUPLE
      case 0x85: stack.push(new PyTuple([pop('TUPLE1')])); break; // TUPLE1
      case 0x86: { const b = pop('TUPLE2'); const a = pop('TUPLE2'); stack.push(new PyTuple([a, b])); break; }
      case 0x87: { const c = pop('TUPLE3'); const b = pop('TUPLE3'); const a = pop('TUPLE3'); stack.push(new PyTuple([a, b, c])); break; }
      case 0x64: { const d = new PyDict(); setItems(d, popMark('DICT'), 'DICT'); stack.push(d); break; } // DICT
      case 0x6c: stack.push(popMark('LIST')); break; // LIST
      case 0x4e: stack.push(null); break; // NONE
      case 0x88: stack.push(true); break; // NEWTRUE
      case 0x89: stack.push(false); break; // NEWFALSE
      case 0x4a: need(4, 'BININT'); stack.push(v.getInt32(p, true)); p += 4; break;
      case 0x4b: need(1, 'BININT1'); stack.push(data[p]); p += 1; break;
      case 0x4d: need(2, 'BININT2'); stack.push(v.getUint16(p, true)); p += 2; break;
      case 0x8a: { need(1, 'LONG1'); const n = data[p++]; stack.push(longBytes(n, 'LONG1')); break; }
      case 0x8b: {
        need(4, 'LONG4');
        const n = v.getInt32(p, true);
        p += 4;
        if (n < 0 || n > 64) throw new TorchPickleError(`${where}: LONG4 of ${n} bytes`);
        stack.push(longBytes(n, 'LONG4'));
        break;
      }
      case 0x47: need(8, 'BINFLOAT'); stack.push(v.getFloat64(p, false)); p += 8; break; // big-endian
      case 0x58: { need(4, 'BINUNICODE'); const n = v.getUint32(p, true); p += 4; stack.push(str(n, 'BINUNICODE')); break; }
      case 0x8c: { need(1, 'SHORT_BINUNICODE'); const n = data[p++]; stack.push(str(n, 'SHORT_BINUNICODE')); break; }
      case 0x8d: { need(8, 'BINUNICODE8'); const n = Number(v.getBigUint64(p, true)); p += 8; stack.push(str(n, 'BINUNICODE8')); break; }
      case 0x54: { need(4, 'BINSTRING'); const n = v.getInt32(p, true); p += 4; need(n, 'BINSTRING'); stack.push(latin1.decode(data.subarray(p, p + n))); p += n; break; }
      case 0x55: { need(1, 'SHORT_BINSTRING'); const n = data[p++]; need(n, 'SHORT_BINSTRING'); stack.push(latin1.decode(data.subarray(p, p + n))); p += n; break; }
      case 0x42: { need(4, 'BINBYTES'); const n = v.getUint32(p, true); p += 4; need(n, 'BINBYTES'); stack.push(data.slice(p, p + n)); p += n; break; }
      case 0x43: { need(1, 'SHORT_BINBYTES'); const n = data[p++]; need(n, 'SHORT_BINBYTES'); stack.push(data.slice(p, p + n)); p += n; break; }
      case 0x63: { // GLOBAL "module\nname\n"
        const module = line('GLOBAL');
        const nm = line('GLOBAL');
        stack.push(allowGlobal(module, nm, where));
        break;
      }
      case 0x93: { // STACK_GLOBAL
        const nm = pop('STACK_GLOBAL');
        const module = pop('STACK_GLOBAL');
        if (typeof module !== 'string' || typeof nm !== 'string') throw new TorchPickleError(`${where}: STACK_GLOBAL needs two strings`);
        stack.push(allowGlobal(module, nm, where));
        break;
      }
      case 0x71: need(1, 'BINPUT'); memo.set(data[p++], top('BINPUT')); break;
      case 0x72: need(4, 'LONG_BINPUT'); memo.set(v.getUint32(p, true), top('LONG_BINPUT')); p += 4; break;
      case 0x94: memo.set(memo.size, top('MEMOIZE')); break; // MEMOIZE
      case 0x68: need(1, 'BINGET'); stack.push(memoGet(data[p++])); break;
      case 0x6a: need(4, 'LONG_BINGET'); stack.push(memoGet(v.getUint32(p, true))); p += 4; break;
      case 0x73: { const val = pop('SETITEM'); const key = pop('SETITEM'); setItems(top('SETITEM'), [key, val], 'SETITEM'); break; }
      case 0x75: { const items = popMark('SETITEMS'); setItems(top('SETITEMS'), items, 'SETITEMS'); break; }
      case 0x61: { // APPEND
        const x = pop('APPEND');
        const l = top('APPEND');
        if (!Array.isArray(l)) throw new TorchPickleError(`${where}: APPEND to ${describe(l)}`);
        l.push(x);
        break;
      }
      case 0x65: { // APPENDS
        const items = popMark('APPENDS');
        const l = top('APPENDS');
        if (!Array.isArray(l)) throw new TorchPickleError(`${where}: APPENDS to ${describe(l)}`);
        l.push(...items);
        break;
      }
      case 0x52: { const args = pop('REDUCE'); const fn = pop('REDUCE'); stack.push(call(fn, args, where)); break; } // REDUCE
      case 0x62: { // BUILD: state for the object below (an OrderedDict's _metadata, a parameter's state): ignored
        pop('BUILD');
        top('BUILD');
        break;
      }
      case 0x51: stack.push(persistentLoad(pop('BINPERSID'), where)); break; // BINPERSID
      case 0x50: throw new TorchPickleError(`${where}: text persistent ids (PERSID) are not what torch.save writes`);
      case 0x69: case 0x6f: case 0x81: case 0x92: // INST, OBJ, NEWOBJ, NEWOBJ_EX: build an instance of a class
        throw new TorchPickleError(`${where}: refusing to load: the pickle builds an object (opcode ${name}); a state dict holds only tensors`);
      default:
        throw new TorchPickleError(`${where}: unsupported pickle opcode ${name} at byte ${p - 1} (not a torch.save'd state dict?)`);
    }
  }
}

function toStateDict(result: unknown, where: string): UnpickledStateDict {
  if (!(result instanceof PyDict)) {
    throw new TorchPickleError(`${where}: the file holds ${describe(result)}, not a state dict (a dict of tensors)`);
  }
  const tensors = new Map<string, TorchTensorRef>();
  const other: string[] = [];
  for (const [k, val] of result.map) {
    if (typeof k !== 'string') throw new TorchPickleError(`${where}: state dict key ${describe(k)} is not a string`);
    if (val instanceof Tensor) tensors.set(k, val.ref);
    else other.push(k);
  }
  if (tensors.size === 0) {
    const keys = [...result.map.keys()].slice(0, 5).map((x) => describe(x)).join(', ');
    throw new TorchPickleError(`${where}: the dict holds no tensors${keys ? ` (its keys: ${keys}${result.map.size > 5 ? ', …' : ''}; a training checkpoint? save model.state_dict())` : ''}`);
  }
  return { tensors, other };
}
