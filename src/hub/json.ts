/**
 * JSON as Python writes it. Python's json module writes non-finite floats as bare `Infinity`, `-Infinity` and `NaN`
 * (not JSON: JSON.parse rejects them), e.g. Mamba-2 configs' "time_step_limit": [0.0, Infinity]; transformers 5 writes
 * them as {"__float__": "Infinity"} instead. parseJson() reads both: strict JSON first, and when that fails, the text
 * again with every bare non-finite token outside strings turned into the {"__float__": …} object, which
 * nonFiniteFloat() turns into a number where a config field is read.
 */

const TOKENS = ['-Infinity', 'Infinity', 'NaN'] as const;

/** Replaces bare Infinity / -Infinity / NaN tokens (outside strings) by {"__float__": "…"}. */
export function quoteNonFinite(text: string): string {
  let out = '';
  let i = 0;
  let last = 0;
  while (i < text.length) {
    const ch = text[i];
    if (ch === '"') {
      i++;
      while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
      i++;
      continue;
    }
    const tok = TOKENS.find((t) => text.startsWith(t, i));
    if (tok && !/[\w$.]/.test(text[i - 1] ?? ' ') && !/[\w$]/.test(text[i + tok.length] ?? ' ')) {
      out += text.slice(last, i) + `{"__float__":"${tok}"}`;
      i += tok.length;
      last = i;
      continue;
    }
    i++;
  }
  return out + text.slice(last);
}

/** JSON.parse, falling back to Python's non-finite float tokens (see above); throws JSON.parse's error otherwise. */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    const fixed = quoteNonFinite(text);
    if (fixed === text) throw e;
    try {
      return JSON.parse(fixed);
    } catch {
      throw e;
    }
  }
}

/** The number a non-finite float object stands for ({"__float__": "Infinity" | "-Infinity" | "NaN" | "inf" …}, or
 *  those strings themselves), else undefined. */
export function nonFiniteFloat(v: unknown): number | undefined {
  const s = v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>).__float__ : v;
  if (typeof s !== 'string') return undefined;
  const t = s.trim().toLowerCase();
  if (t === 'infinity' || t === 'inf' || t === '+inf' || t === '+infinity') return Infinity;
  if (t === '-infinity' || t === '-inf') return -Infinity;
  if (t === 'nan') return NaN;
  return undefined;
}
