/**
 * The rotary width of GPT-NeoX's partial rotary embedding, shared by the rotary kernels (src/kernels/rotary.ts) and
 * their CPU oracle (src/reference/rotary.ts).
 */

/** rot = floor(hd * rotary_pct); must be even (rotate_half splits it in two). */
export function rotaryDims(hd: number, rotaryPct: number): number {
  const rot = Math.floor(hd * rotaryPct);
  if (rot % 2 !== 0) throw new Error(`rotary: rot = floor(${hd} * ${rotaryPct}) = ${rot} is odd`);
  return rot;
}
