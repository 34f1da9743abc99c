/** Loss by position: per-token negative log-likelihood from logits rows, and binning for charts. */

/**
 * NLL (nats) of targets[r] under softmax(logits row r), for `rows` rows of `vocab` logits starting at row 0.
 * Rows whose target is undefined are skipped (NaN).
 */
export function tokenNll(logits: Float32Array, vocab: number, rows: number, targets: ArrayLike<number>): Float64Array {
  if (logits.length < rows * vocab) throw new RangeError(`logits has ${logits.length} values, need ${rows}×${vocab}`);
  const out = new Float64Array(rows);
  for (let r = 0; r < rows; r++) {
    const t = targets[r];
    if (t === undefined || t < 0 || t >= vocab) {
      out[r] = NaN;
      continue;
    }
    const o = r * vocab;
    let max = -Infinity;
    for (let v = 0; v < vocab; v++) if (logits[o + v] > max) max = logits[o + v];
    let sum = 0;
    for (let v = 0; v < vocab; v++) sum += Math.exp(logits[o + v] - max);
    out[r] = Math.log(sum) + max - logits[o + t];
  }
  return out;
}

/** Means of `values` over `bins` equal-width position bins: [{position (bin centre), value}]. NaNs are ignored. */
export function binMeans(values: ArrayLike<number>, bins: number): { position: number; value: number }[] {
  const n = values.length;
  if (n === 0 || bins <= 0) return [];
  const b = Math.min(bins, n);
  const out: { position: number; value: number }[] = [];
  for (let i = 0; i < b; i++) {
    const lo = Math.floor((i * n) / b);
    const hi = Math.floor(((i + 1) * n) / b);
    let s = 0;
    let c = 0;
    for (let j = lo; j < hi; j++) {
      const v = values[j];
      if (Number.isFinite(v)) {
        s += v;
        c++;
      }
    }
    out.push({ position: Math.round((lo + hi - 1) / 2), value: c ? s / c : NaN });
  }
  return out;
}

export function mean(values: ArrayLike<number>): number {
  let s = 0;
  let c = 0;
  for (let i = 0; i < values.length; i++) {
    if (Number.isFinite(values[i])) {
      s += values[i];
      c++;
    }
  }
  return c ? s / c : NaN;
}
