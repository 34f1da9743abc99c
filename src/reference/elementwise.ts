/** CPU oracles for the pointwise ops, in float64 (erf/erfc accurate to ~1e-15 relative). */

const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);

/** erf for |x| < 2 by the all-positive series erf(x) = 2/√π · e^{−x²} · Σ 2ⁿ x^{2n+1} / (1·3·…·(2n+1)). */
function erfSeries(x: number): number {
  let term = x;
  let sum = x;
  for (let n = 1; n < 200; n++) {
    term *= (2 * x * x) / (2 * n + 1);
    sum += term;
    if (Math.abs(term) < 1e-17 * Math.abs(sum)) break;
  }
  return TWO_OVER_SQRT_PI * Math.exp(-x * x) * sum;
}

/** erfc for x ≥ 2 by its continued fraction (modified Lentz). */
function erfcCF(x: number): number {
  // erfc(x) = e^{−x²}/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + 2/(x + …)))))
  const tiny = 1e-300;
  let f = x, C = x, D = 0;
  for (let n = 1; n < 500; n++) {
    const an = n / 2;
    D = x + an * D;
    D = Math.abs(D) < tiny ? tiny : D;
    C = x + an / C;
    C = Math.abs(C) < tiny ? tiny : C;
    D = 1 / D;
    const delta = C * D;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return Math.exp(-x * x) / Math.sqrt(Math.PI) / f;
}

export function erfc(x: number): number {
  if (x < 0) return 2 - erfc(-x);
  if (x < 2) return 1 - erfSeries(x);
  return erfcCF(x);
}

export function erf(x: number): number {
  if (Math.abs(x) < 2) return erfSeries(x);
  return x > 0 ? 1 - erfcCF(x) : erfcCF(-x) - 1;
}

export const silu = (x: number): number => x / (1 + Math.exp(-x));
/** torch.nn.functional.softplus (beta 1, threshold 20). */
export const softplus = (x: number): number => (x > 20 ? x : Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x))));
/** Exact GELU: ½·x·(1 + erf(x/√2)) = ½·x·erfc(−x/√2). */
export const gelu = (x: number): number => 0.5 * x * erfc(-x / Math.SQRT2);

export function mapRef(x: ArrayLike<number>, f: (v: number) => number): Float32Array {
  const y = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) y[i] = f(x[i]);
  return y;
}

export function addRef(...xs: ArrayLike<number>[]): Float32Array {
  const y = new Float32Array(xs[0].length);
  for (const x of xs) for (let i = 0; i < y.length; i++) y[i] += x[i];
  return y;
}

/** out = y · SiLU(z). */
export function gateRef(y: ArrayLike<number>, z: ArrayLike<number>): Float32Array {
  const o = new Float32Array(y.length);
  for (let i = 0; i < o.length; i++) o[i] = y[i] * silu(z[i]);
  return o;
}
