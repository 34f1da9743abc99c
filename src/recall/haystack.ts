/** The "haystack": document tokens repeated (with a separator) until they reach the wanted length. */
export function tileTokens(docIds: number[], length: number, separator: number[] = []): number[] {
  if (length <= 0) return [];
  if (docIds.length === 0) throw new Error('The document has no tokens');
  const out: number[] = [];
  while (out.length < length) {
    for (const id of docIds) {
      out.push(id);
      if (out.length === length) return out;
    }
    for (const id of separator) {
      out.push(id);
      if (out.length === length) return out;
    }
  }
  return out;
}

/** Context lengths from min to max multiplying by `factor` each time (max included when it is not a step). */
export function contextLengths(min: number, max: number, factor = 2): number[] {
  if (!(min > 0) || !(max >= min) || !(factor > 1)) return [];
  const out: number[] = [];
  for (let l = min; l <= max; l = Math.round(l * factor)) out.push(l);
  if (out[out.length - 1] !== max) out.push(max);
  return out;
}
