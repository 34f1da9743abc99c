/** CPU oracle for the embedding gather: out[t, :] = E[ids[t], :], zeros for ids outside [0, vocab). */
export function embeddingRef(table: ArrayLike<number>, vocab: number, d: number, ids: ArrayLike<number>): Float32Array {
  const out = new Float32Array(ids.length * d);
  for (let t = 0; t < ids.length; t++) {
    const id = ids[t];
    if (id < 0 || id >= vocab) continue;
    for (let i = 0; i < d; i++) out[t * d + i] = table[id * d + i];
  }
  return out;
}
