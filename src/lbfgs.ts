/**
 * Limited-memory BFGS for the estimators' `solver: 'lbfgs'`, in float64 over a full-batch
 * objective that a backend evaluates in one call.
 *
 * Followed: J. Nocedal and S. J. Wright, Numerical Optimization, 2nd ed. (Springer, 2006):
 *   - Algorithm 7.4, the two-loop recursion for H_k·∇f_k, with H_k⁰ = γ_k·I,
 *     γ_k = sᵀy / yᵀy of the newest pair (eq. 7.20);
 *   - Algorithm 7.5, L-BFGS: m pairs (s, y), a pair stored only when sᵀy > 0 (the curvature
 *     condition that keeps H_k positive definite);
 *   - Algorithms 3.5 and 3.6, a line search for the strong Wolfe conditions (eqs. 3.7, with
 *     c1 = 1e-4 and c2 = 0.9 as recommended for quasi-Newton methods) that brackets a step and
 *     zooms in by safeguarded cubic interpolation (eq. 3.59).
 * The stopping tests are those of scipy's L-BFGS-B, which scikit-learn calls: the largest
 * gradient component ≤ gtol (scikit-learn's `tol`), a relative decrease of f ≤ ftol
 * (factr = 1e7 · machine epsilon), at most maxIter iterations and maxFun evaluations; and
 * the first step is 1/‖d‖, as there.
 */

/** f(x), writing ∇f(x) into g. */
export type Objective = (x: Float64Array, g: Float64Array) => number;

export interface LbfgsOptions {
  /** Most iterations. */
  maxIter: number;
  /** Most evaluations of f (a line search may need several per iteration). */
  maxFun: number;
  /** Stop when every |∂f/∂x_i| ≤ gtol. */
  gtol: number;
  /** Stop when (f_k − f_{k+1}) / max(|f_k|, |f_{k+1}|, 1) ≤ ftol. Default scipy's 1e7·ε ≈ 2.2e-9. */
  ftol?: number;
  /** Correction pairs kept. Default 10, as scipy. */
  memory?: number;
}

export type LbfgsStop = 'gtol' | 'ftol' | 'max-iter' | 'max-fun' | 'line-search';

export interface LbfgsResult {
  x: Float64Array;
  f: number;
  /** Iterations done (accepted steps). */
  iterations: number;
  /** Evaluations of f. */
  evaluations: number;
  /** f after each iteration. */
  losses: number[];
  stop: LbfgsStop;
}

const C1 = 1e-4;
const C2 = 0.9;
/** Trial steps a line search may take (scipy allows 20). */
const MAX_LINE_SEARCH = 20;

const dot = (a: Float64Array, b: Float64Array): number => {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
};
const maxAbs = (a: Float64Array): number => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]!));
  return m;
};

/** A point of the line search: its step, φ(α) = f(x + α·d), φ'(α) = ∇f·d, and ∇f. */
interface Trial {
  alpha: number;
  f: number;
  slope: number;
  g: Float64Array;
}

/**
 * Minimizes `objective` from x0. A non-finite value at x0 throws; later ones count as a step
 * too long. Returns the best point reached (every accepted step decreases f).
 */
export function minimizeLbfgs(objective: Objective, x0: Float64Array, options: LbfgsOptions): LbfgsResult {
  const n = x0.length;
  const m = options.memory ?? 10;
  const ftol = options.ftol ?? 1e7 * Number.EPSILON;
  const x = Float64Array.from(x0);
  let g: Float64Array = new Float64Array(n);
  let evaluations = 0;
  const evaluate = (at: Float64Array, grad: Float64Array): number => {
    evaluations++;
    return objective(at, grad);
  };
  let f = evaluate(x, g);
  if (!Number.isFinite(f)) throw new RangeError(`the loss at the initial weights is ${f}`);
  const losses: number[] = [];
  const result = (stop: LbfgsStop): LbfgsResult => ({ x, f, iterations: losses.length, evaluations, losses, stop });
  if (maxAbs(g) <= options.gtol) return result('gtol');

  // The m newest pairs, oldest first.
  const pairs: { s: Float64Array; y: Float64Array; rho: number }[] = [];
  const d = new Float64Array(n);
  const alphas = new Float64Array(m);
  const xt = new Float64Array(n);

  /** Evaluates φ at step alpha along d. */
  const trial = (alpha: number): Trial => {
    for (let i = 0; i < n; i++) xt[i] = x[i]! + alpha * d[i]!;
    const gt = new Float64Array(n);
    const ft = evaluate(xt, gt);
    return { alpha, f: Number.isFinite(ft) ? ft : Infinity, slope: Number.isFinite(ft) ? dot(gt, d) : NaN, g: gt };
  };

  /**
   * Algorithms 3.5/3.6: a step satisfying the strong Wolfe conditions, or failing that the
   * best step found that decreases f sufficiently, or undefined.
   */
  const lineSearch = (alpha0: number, slope0: number): Trial | undefined => {
    const f0 = f;
    const sufficient = (t: Trial) => t.f <= f0 + C1 * t.alpha * slope0;
    const curvature = (t: Trial) => Math.abs(t.slope) <= -C2 * slope0;
    let budget = MAX_LINE_SEARCH;
    let previous: Trial = { alpha: 0, f: f0, slope: slope0, g };
    let alpha = alpha0;
    let lo: Trial | undefined;
    let hi: Trial | undefined;
    for (let i = 0; budget > 0; i++) {
      const t = trial(alpha);
      budget--;
      if (!sufficient(t) || (i > 0 && t.f >= previous.f)) {
        [lo, hi] = [previous, t];
        break;
      }
      if (curvature(t)) return t;
      if (t.slope >= 0) {
        [lo, hi] = [t, previous];
        break;
      }
      previous = t;
      alpha *= 2;
    }
    if (!lo || !hi) return previous.alpha > 0 ? previous : undefined;
    // Zoom: lo satisfies sufficient decrease with the lower f; the minimizer lies between lo and hi.
    while (budget > 0) {
      const a = interpolate(lo, hi);
      if (a === undefined) break;
      const t = trial(a);
      budget--;
      if (!sufficient(t) || t.f >= lo.f) {
        hi = t;
      } else {
        if (curvature(t)) return t;
        if (t.slope * (hi.alpha - lo.alpha) >= 0) hi = lo;
        lo = t;
      }
    }
    return lo.alpha > 0 ? lo : undefined;
  };

  let fresh = true; // no curvature pairs yet: scale the first step by 1/‖d‖
  for (let k = 0; k < options.maxIter; k++) {
    // Algorithm 7.4: d = −H_k·g.
    d.set(g);
    for (let i = pairs.length - 1; i >= 0; i--) {
      const p = pairs[i]!;
      const a = p.rho * dot(p.s, d);
      alphas[i] = a;
      for (let j = 0; j < n; j++) d[j] = d[j]! - a * p.y[j]!;
    }
    if (pairs.length > 0) {
      const last = pairs[pairs.length - 1]!;
      const gamma = dot(last.s, last.y) / dot(last.y, last.y);
      for (let j = 0; j < n; j++) d[j] = d[j]! * gamma;
    }
    for (let i = 0; i < pairs.length; i++) {
      const p = pairs[i]!;
      const b = p.rho * dot(p.y, d);
      for (let j = 0; j < n; j++) d[j] = d[j]! + (alphas[i]! - b) * p.s[j]!;
    }
    for (let j = 0; j < n; j++) d[j] = -d[j]!;
    let slope = dot(g, d);
    if (!(slope < 0)) {
      // Not a descent direction (rounding in H): start the memory over from steepest descent.
      pairs.length = 0;
      for (let j = 0; j < n; j++) d[j] = -g[j]!;
      slope = dot(g, d);
      fresh = true;
    }
    const step = lineSearch(fresh ? Math.min(1, 1 / Math.sqrt(dot(d, d))) : 1, slope);
    if (!step) {
      if (pairs.length === 0) return result('line-search');
      pairs.length = 0; // retry once from steepest descent, as L-BFGS-B does
      fresh = true;
      k--;
      if (evaluations >= options.maxFun) return result('max-fun');
      continue;
    }
    fresh = false;
    const s = new Float64Array(n);
    const y = new Float64Array(n);
    for (let j = 0; j < n; j++) {
      s[j] = step.alpha * d[j]!;
      y[j] = step.g[j]! - g[j]!;
      x[j] = x[j]! + s[j]!;
    }
    const sy = dot(s, y);
    if (sy > Number.EPSILON * dot(y, y)) {
      if (pairs.length === m) pairs.shift();
      pairs.push({ s, y, rho: 1 / sy });
    }
    const previous = f;
    f = step.f;
    g = step.g;
    losses.push(f);
    if ((previous - f) / Math.max(Math.abs(previous), Math.abs(f), 1) <= ftol) return result('ftol');
    if (maxAbs(g) <= options.gtol) return result('gtol');
    if (evaluations >= options.maxFun) return result('max-fun');
  }
  return result('max-iter');
}

/**
 * The minimizer of the cubic through (lo, hi) with their values and slopes (N&W eq. 3.59),
 * kept at least a tenth of the interval away from its ends; the midpoint when the cubic has
 * none or a value is not finite; undefined when the interval is too small to split.
 */
function interpolate(lo: Trial, hi: Trial): number | undefined {
  const width = Math.abs(hi.alpha - lo.alpha);
  if (width <= 1e-12 * Math.max(lo.alpha, hi.alpha)) return undefined;
  const [left, right] = [Math.min(lo.alpha, hi.alpha), Math.max(lo.alpha, hi.alpha)];
  const mid = (lo.alpha + hi.alpha) / 2;
  if (!Number.isFinite(hi.f) || !Number.isFinite(hi.slope)) return mid;
  const d1 = lo.slope + hi.slope - (3 * (lo.f - hi.f)) / (lo.alpha - hi.alpha);
  const root = d1 * d1 - lo.slope * hi.slope;
  if (!(root >= 0)) return mid;
  const d2 = Math.sign(hi.alpha - lo.alpha) * Math.sqrt(root);
  const a = hi.alpha - (hi.alpha - lo.alpha) * ((hi.slope + d2 - d1) / (hi.slope - lo.slope + 2 * d2));
  if (!Number.isFinite(a) || a < left + 0.1 * width || a > right - 0.1 * width) return mid;
  return a;
}
