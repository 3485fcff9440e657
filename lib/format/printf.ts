/**
 * C printf formatting, byte-for-byte as glibc 2.36 prints in the "C" locale.
 *
 * Floating conversions work from the exact binary value of the double and round
 * half-to-even on exact ties (glibc in the default rounding mode). Number.prototype
 * .toFixed is exact in V8 below 1e21 except that it rounds exact ties away from zero and
 * drops the sign of -0, so it serves as a fast path whenever the value is provably not a
 * tie; everything else goes through BigInt arithmetic.
 *
 * NaN: a JS number cannot be relied upon to carry a NaN's sign bit (engines canonicalise
 * NaNs freely), so a plain NaN argument prints as "-nan": on x86-64 every NaN the original
 * programs can produce (0/0, inf-inf, 0*inf, ...) is the default NaN with its sign bit
 * set. Pass POS_NAN (or NEG_NAN) to choose the sign explicitly.
 *
 * Strings are byte strings: each UTF-16 code unit counts as one byte for width and
 * precision, matching how callers emit output as latin1.
 */
import { SatrnnError } from '../errors.js';

/** A NaN with an explicit sign, for the rare case where C would print "nan". */
export class PrintfNaN {
  /** @param negative - true: prints "-nan" (like a plain NaN), false: "nan" */
  constructor(
    /** Whether the NaN's sign bit is set. */
    readonly negative: boolean,
  ) {}
}
/** A NaN that prints "-nan" (what a plain NaN argument prints too). */
export const NEG_NAN = new PrintfNaN(true);
/** A NaN that prints "nan". */
export const POS_NAN = new PrintfNaN(false);

/**
 * One printf argument: a number (an integer for integer conversions), a string (for %s,
 * or its first character for %c), a bigint (for 64-bit integers), or a signed NaN.
 */
export type PrintfArg = number | string | bigint | PrintfNaN;

// ---------------------------------------------------------------------------------------
// Exact decimal conversion of doubles

/** 2^k for k = 0..101, exact; used for the tie test of the toFixed fast path. */
const POW2: number[] = [];
for (let k = 0, p = 1; k <= 101; k++, p *= 2) POW2.push(p);

const BIG_POW10: bigint[] = [1n];
function pow10(k: number): bigint {
  for (let i = BIG_POW10.length; i <= k; i++) BIG_POW10.push(BIG_POW10[i - 1]! * 10n);
  return BIG_POW10[k]!;
}

const f64 = new Float64Array(1);
const view = new DataView(f64.buffer);

/** a = m * 2^e exactly, m odd (a > 0, finite). */
function decompose(a: number): [bigint, number] {
  view.setFloat64(0, a);
  const hi = view.getUint32(0);
  const lo = view.getUint32(4);
  const bexp = (hi >>> 20) & 0x7ff;
  let mant = (hi & 0xfffff) * 4294967296 + lo;
  let e: number;
  if (bexp === 0) {
    e = -1074;
  } else {
    mant += 4503599627370496; // implicit leading bit 2^52
    e = bexp - 1075;
  }
  // Odd mantissa keeps the BigInt shifts below as short as possible.
  while (mant % 2 === 0) {
    mant /= 2;
    e++;
  }
  return [BigInt(mant), e];
}

/** round(num / den), ties to even; num, den > 0. */
function divRoundEven(num: bigint, den: bigint): bigint {
  const q = num / den;
  const r2 = (num - q * den) * 2n;
  if (r2 > den || (r2 === den && (q & 1n) === 1n)) return q + 1n;
  return q;
}

/** round(m * 2^e * 10^k), ties to even (k may be negative). */
function scaleRound(m: bigint, e: number, k: number): bigint {
  let num = m;
  let den = 1n;
  if (e >= 0) num <<= BigInt(e);
  else den <<= BigInt(-e);
  if (k >= 0) num *= pow10(k);
  else den *= pow10(-k);
  return den === 1n ? num : divRoundEven(num, den);
}

/** Sign of m * 2^e - 10^E, exactly. */
function cmpPow10(m: bigint, e: number, E: number): number {
  let a = m;
  let b = 1n;
  if (e >= 0) a <<= BigInt(e);
  else b <<= BigInt(-e);
  if (E >= 0) b *= pow10(E);
  else a *= pow10(-E);
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Inserts the decimal point into the digits of round(a * 10^prec). */
function placePoint(digits: string, prec: number): string {
  if (prec === 0) return digits;
  if (digits.length <= prec) digits = '0'.repeat(prec + 1 - digits.length) + digits;
  return digits.slice(0, digits.length - prec) + '.' + digits.slice(digits.length - prec);
}

/** %.{prec}f of a >= 0 (finite), without sign, via BigInt. */
function fixedAbsExact(a: number, prec: number): string {
  if (a === 0) return prec === 0 ? '0' : '0.' + '0'.repeat(prec);
  const [m, e] = decompose(a);
  return placePoint(scaleRound(m, e, prec).toString(), prec);
}

/**
 * %.{prec}f of a >= 0 (finite, +0 allowed), without sign.
 * With a = m*2^e, m odd, a*10^prec = m*5^prec * 2^(e+prec) has fractional part exactly 1/2
 * iff e + prec = -1, i.e. iff a*2^(prec+1) (exact: a power-of-two scaling that cannot
 * overflow below 1e21*2^101) is an odd integer. Only then can toFixed's tie rule differ.
 */
function fixedAbs(a: number, prec: number): string {
  if (prec <= 100 && a < 1e21 && (a * POW2[prec + 1]!) % 2 !== 1) return a.toFixed(prec);
  return fixedAbsExact(a, prec);
}

/**
 * Significant digits (length prec+1) and decimal exponent of a >= 0 as %.{prec}e rounds it;
 * the flag tells whether rounding carried into the next power of ten.
 */
function expDigits(a: number, prec: number): [string, number, boolean] {
  if (a === 0) return ['0'.repeat(prec + 1), 0, false];
  const [m, e] = decompose(a);
  // log10 is only an estimate near powers of ten; settle 10^E <= a < 10^(E+1) exactly.
  let E = Math.floor(Math.log10(a));
  while (cmpPow10(m, e, E) < 0) E--;
  while (cmpPow10(m, e, E + 1) >= 0) E++;
  let q = scaleRound(m, e, prec - E);
  if (q === pow10(prec + 1)) {
    // Rounded up to the next power of ten: 9.99.. -> 10.0.. = 1.00..e(E+1), still exact.
    q = pow10(prec);
    return [q.toString(), E + 1, true];
  }
  return [q.toString(), E, false];
}

function expSuffix(E: number, upper: boolean): string {
  const abs = E < 0 ? -E : E;
  return (upper ? 'E' : 'e') + (E < 0 ? '-' : '+') + (abs < 10 ? '0' : '') + abs;
}

function expBody(a: number, prec: number, upper: boolean, alt: boolean): string {
  const [d, E] = expDigits(a, prec);
  const point = prec > 0 || alt ? '.' : '';
  return d.slice(0, 1) + point + d.slice(1) + expSuffix(E, upper);
}

function stripZeros(s: string): string {
  let end = s.length;
  while (end > 0 && s.charCodeAt(end - 1) === 48) end--;
  if (end > 0 && s.charCodeAt(end - 1) === 46) end--;
  return s.slice(0, end);
}

function genBody(a: number, prec: number, upper: boolean, alt: boolean): string {
  const P = prec === 0 ? 1 : prec;
  const [d, X, carried] = expDigits(a, P - 1);
  if (X < P && X >= -4) {
    // Fixed style at precision P-1-X rounds at the same digit as the %e digits above,
    // so those digits can be laid out directly.
    let s: string;
    if (X >= 0) {
      const frac = d.slice(X + 1);
      s = d.slice(0, X + 1) + (frac.length > 0 || alt ? '.' + frac : '');
    } else {
      s = '0.' + '0'.repeat(-X - 1) + d;
    }
    return alt || s.indexOf('.') < 0 ? s : stripZeros(s);
  }
  // glibc quirk: when the unrounded value picked fixed style with no fraction digits
  // (exponent P-1) and rounding carried to 10^P, glibc switches to exponent style but keeps
  // zero fraction digits, so '%#g' of 999999.5 is "1.e+06", not "1.00000e+06".
  // Without '#' the zeros are stripped anyway, so only the alternate form shows it.
  if (carried && X === P && alt) return '1.' + expSuffix(X, upper);
  let mant = d.slice(0, 1) + (P > 1 || alt ? '.' + d.slice(1) : '');
  if (!alt && mant.indexOf('.') >= 0) mant = stripZeros(mant);
  return mant + expSuffix(X, upper);
}

/**
 * printf("%.{prec}f", x) with no width or flags: the hot-loop helper.
 * prec is a non-negative integer. NaN prints as "-nan" (see module comment).
 */
export function fmtFixed(x: number, prec: number): string {
  if (prec <= 100 && Math.abs(x) < 1e21) {
    const r = (x * POW2[prec + 1]!) % 2;
    if (r !== 1 && r !== -1) {
      if (x !== 0 || 1 / x > 0) return x.toFixed(prec);
      return '-' + x.toFixed(prec); // -0: toFixed drops the sign, glibc keeps it
    }
  }
  if (x !== x) return '-nan';
  if (x === Infinity) return 'inf';
  if (x === -Infinity) return '-inf';
  return x < 0 ? '-' + fixedAbsExact(-x, prec) : fixedAbsExact(x, prec);
}

// ---------------------------------------------------------------------------------------
// Format parsing and conversions

interface Spec {
  minus: boolean;
  plus: boolean;
  space: boolean;
  zero: boolean;
  alt: boolean;
  /** -1: none, -2: taken from the argument list ('*'). */
  width: number;
  /** -1: none, -2: '*'. */
  prec: number;
  len: string;
  conv: string;
}

type Piece = string | { nargs: number; fn: (args: readonly PrintfArg[], i: number) => string };

/** Width padding; zeros go between sign/prefix and digits, as C does. */
function pad(head: string, body: string, width: number, left: boolean, zero: boolean): string {
  const n = width - head.length - body.length;
  if (n <= 0) return head + body;
  if (left) return head + body + ' '.repeat(n);
  if (zero) return head + '0'.repeat(n) + body;
  return ' '.repeat(n) + head + body;
}

function argError(spec: Spec, what: string, v: unknown): SatrnnError {
  return new SatrnnError('BAD_OPTION', `printf %${spec.len}${spec.conv}: expected ${what}, got ${typeof v} ${String(v)}`);
}

function toFloat(v: PrintfArg | undefined, spec: Spec): number | PrintfNaN {
  if (typeof v === 'number' || v instanceof PrintfNaN) return v;
  if (typeof v === 'bigint') return Number(v);
  throw argError(spec, 'a number', v);
}

function formatFloat(v: number | PrintfNaN, spec: Spec, width: number, prec: number): string {
  const conv = spec.conv;
  const upper = conv === 'F' || conv === 'E' || conv === 'G';
  let neg: boolean;
  let body: string;
  let finite = false;
  if (v instanceof PrintfNaN) {
    neg = v.negative;
    body = upper ? 'NAN' : 'nan';
  } else if (v !== v) {
    neg = true; // x86 default NaN, see module comment
    body = upper ? 'NAN' : 'nan';
  } else {
    neg = v < 0 || (v === 0 && 1 / v < 0);
    const a = neg ? -v : v;
    if (a === Infinity) {
      body = upper ? 'INF' : 'inf';
    } else {
      finite = true;
      const p = prec < 0 ? 6 : prec;
      if (conv === 'f' || conv === 'F') {
        body = fixedAbs(a, p);
        if (spec.alt && p === 0) body += '.';
      } else if (conv === 'e' || conv === 'E') {
        body = expBody(a, p, upper, spec.alt);
      } else {
        body = genBody(a, p, upper, spec.alt);
      }
    }
  }
  const sign = neg ? '-' : spec.plus ? '+' : spec.space ? ' ' : '';
  // glibc pads inf/nan with spaces even under the '0' flag.
  return pad(sign, body, width, spec.minus, spec.zero && finite);
}

const TWO64 = 1n << 64n;

function formatInt(v: PrintfArg | undefined, spec: Spec, width: number, prec: number): string {
  const conv = spec.conv;
  const signed = conv === 'd' || conv === 'i';
  const len = spec.len;
  let neg = false;
  let digits: string;
  let isZero: boolean;
  const base = conv === 'x' || conv === 'X' ? 16 : conv === 'o' ? 8 : 10;
  if (typeof v === 'number') {
    if (!Number.isInteger(v)) throw argError(spec, 'an integer', v);
    let n = v;
    // Narrow like the C argument types would; wide values stay untouched for plain %d.
    if (len === 'hh') n = signed ? (n << 24) >> 24 : n & 0xff;
    else if (len === 'h') n = signed ? (n << 16) >> 16 : n & 0xffff;
    else if (!signed && n < 0) {
      if (len === '') n = n >>> 0;
      else return formatInt(BigInt(n), spec, width, prec);
    }
    if (n < 0) {
      neg = true;
      n = -n;
    }
    isZero = n === 0;
    digits = n < 9007199254740992 ? n.toString(base) : BigInt(n).toString(base);
  } else if (typeof v === 'bigint') {
    let n = v;
    if (len === 'hh') n = signed ? BigInt.asIntN(8, n) : BigInt.asUintN(8, n);
    else if (len === 'h') n = signed ? BigInt.asIntN(16, n) : BigInt.asUintN(16, n);
    else if (!signed && n < 0n) n = len === '' ? BigInt.asUintN(32, n) : ((n % TWO64) + TWO64) % TWO64;
    if (n < 0n) {
      neg = true;
      n = -n;
    }
    isZero = n === 0n;
    digits = n.toString(base);
  } else {
    throw argError(spec, 'an integer', v);
  }
  if (conv === 'X') digits = digits.toUpperCase();
  if (prec >= 0) {
    if (prec === 0 && isZero) digits = '';
    if (digits.length < prec) digits = '0'.repeat(prec - digits.length) + digits;
  }
  let head = '';
  if (signed) head = neg ? '-' : spec.plus ? '+' : spec.space ? ' ' : '';
  else if (spec.alt) {
    if (conv === 'o') {
      if (digits.charCodeAt(0) !== 48) digits = '0' + digits;
    } else if (base === 16 && !isZero) {
      head = conv === 'X' ? '0X' : '0x';
    }
  }
  // A precision disables zero padding for integers.
  return pad(head, digits, width, spec.minus, spec.zero && prec < 0);
}

function formatChar(v: PrintfArg | undefined, spec: Spec, width: number, _prec: number): string {
  let s: string;
  if (typeof v === 'number' && Number.isInteger(v)) s = String.fromCharCode(v & 0xff);
  else if (typeof v === 'bigint') s = String.fromCharCode(Number(BigInt.asUintN(8, v)));
  else if (typeof v === 'string' && v.length > 0) s = v.charAt(0);
  else throw argError(spec, 'a byte', v);
  return pad('', s, width, spec.minus, false);
}

function formatString(v: PrintfArg | undefined, spec: Spec, width: number, prec: number): string {
  if (typeof v !== 'string') throw argError(spec, 'a string', v);
  const s = prec >= 0 && v.length > prec ? v.slice(0, prec) : v;
  return pad('', s, width, spec.minus, false); // glibc ignores '0' for %s
}

function makeConv(spec: Spec): Piece {
  const c = spec.conv;
  let core: (v: PrintfArg | undefined, s: Spec, width: number, prec: number) => string;
  if (c === 'f' || c === 'F' || c === 'e' || c === 'E' || c === 'g' || c === 'G') {
    core = (v, s, width, prec) => {
      const x = toFloat(v, s);
      // Common '%.Nf' / '%W.Nf' case: no flags, skip the general path.
      if (c === 'f' && typeof x === 'number' && prec >= 0 && !(s.minus || s.plus || s.space || s.zero || s.alt)) {
        const r = fmtFixed(x, prec);
        return r.length >= width ? r : ' '.repeat(width - r.length) + r;
      }
      return formatFloat(x, s, width, prec);
    };
  } else if (c === 'd' || c === 'i' || c === 'u' || c === 'x' || c === 'X' || c === 'o') {
    core = formatInt;
  } else if (c === 'c') {
    core = formatChar;
  } else if (c === 's') {
    core = formatString;
  } else {
    throw new SatrnnError('BAD_OPTION', `printf: unsupported conversion %${c}`);
  }
  const starW = spec.width === -2;
  const starP = spec.prec === -2;
  const nargs = 1 + (starW ? 1 : 0) + (starP ? 1 : 0);
  if (!starW && !starP) {
    const w = spec.width;
    const p = spec.prec;
    return { nargs, fn: (args, i) => core(args[i], spec, w, p) };
  }
  const leftSpec: Spec = { ...spec, minus: true, zero: false };
  return {
    nargs,
    fn: (args, i) => {
      let w = spec.width;
      let p = spec.prec;
      let s = spec;
      if (starW) {
        w = starInt(args[i++], spec);
        if (w < 0) {
          // A negative '*' width means left alignment.
          w = -w;
          s = leftSpec;
        }
      }
      if (starP) {
        p = starInt(args[i++], spec);
        if (p < 0) p = -1; // negative '*' precision: as if omitted
      }
      return core(args[i], s, w, p);
    },
  };
}

function starInt(v: PrintfArg | undefined, spec: Spec): number {
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  throw argError(spec, "an integer for '*'", v);
}

function parse(fmt: string): Piece[] {
  const pieces: Piece[] = [];
  let lit = '';
  let i = 0;
  const n = fmt.length;
  while (i < n) {
    const pct = fmt.indexOf('%', i);
    if (pct < 0) {
      lit += fmt.slice(i);
      break;
    }
    lit += fmt.slice(i, pct);
    i = pct + 1;
    const spec: Spec = {
      minus: false,
      plus: false,
      space: false,
      zero: false,
      alt: false,
      width: -1,
      prec: -1,
      len: '',
      conv: '',
    };
    for (;;) {
      const ch = fmt[i];
      if (ch === '-') spec.minus = true;
      else if (ch === '+') spec.plus = true;
      else if (ch === ' ') spec.space = true;
      else if (ch === '0') spec.zero = true;
      else if (ch === '#') spec.alt = true;
      else if (ch === "'") {
        /* thousands grouping: nothing to group in the C locale */
      } else break;
      i++;
    }
    if (fmt[i] === '*') {
      spec.width = -2;
      i++;
    } else {
      const st = i;
      while (i < n && fmt.charCodeAt(i) >= 48 && fmt.charCodeAt(i) <= 57) i++;
      if (i > st) spec.width = Number(fmt.slice(st, i));
    }
    if (fmt[i] === '.') {
      i++;
      if (fmt[i] === '*') {
        spec.prec = -2;
        i++;
      } else {
        const st = i;
        while (i < n && fmt.charCodeAt(i) >= 48 && fmt.charCodeAt(i) <= 57) i++;
        spec.prec = i > st ? Number(fmt.slice(st, i)) : 0;
      }
    }
    const two = fmt.slice(i, i + 2);
    if (two === 'hh' || two === 'll') {
      spec.len = two;
      i += 2;
    } else if ('hlLqjzZt'.includes(fmt[i] ?? '%')) {
      spec.len = fmt[i]!;
      i++;
    }
    const conv = fmt[i];
    if (conv === undefined) throw new SatrnnError('BAD_OPTION', `printf: format ends inside a conversion: ${JSON.stringify(fmt)}`);
    i++;
    if (conv === '%') {
      lit += '%';
      continue;
    }
    spec.conv = conv;
    if (spec.minus) spec.zero = false; // '-' overrides '0'
    if (spec.plus) spec.space = false; // '+' overrides ' '
    if (lit) pieces.push(lit);
    lit = '';
    pieces.push(makeConv(spec));
  }
  if (lit) pieces.push(lit);
  return pieces;
}

/** A compiled format: call it with the printf arguments. */
export type Formatter = (...args: PrintfArg[]) => string;

/** Parses fmt once; the result formats like sprintf(fmt, ...args). */
export function compileFormat(fmt: string): Formatter {
  const pieces = parse(fmt);
  let need = 0;
  for (const p of pieces) if (typeof p !== 'string') need += p.nargs;
  // Single-conversion and pure-literal formats are common enough to specialise.
  if (pieces.length === 0) return () => '';
  if (pieces.length === 1) {
    const p = pieces[0]!;
    if (typeof p === 'string') return () => p;
    return (...args) => {
      if (args.length < need) throw tooFew(fmt, args.length, need);
      return p.fn(args, 0);
    };
  }
  return (...args) => {
    if (args.length < need) throw tooFew(fmt, args.length, need);
    let out = '';
    let ai = 0;
    for (let k = 0; k < pieces.length; k++) {
      const p = pieces[k]!;
      if (typeof p === 'string') out += p;
      else {
        out += p.fn(args, ai);
        ai += p.nargs;
      }
    }
    return out;
  };
}

function tooFew(fmt: string, got: number, need: number): SatrnnError {
  return new SatrnnError('BAD_OPTION', `printf: format ${JSON.stringify(fmt)} needs ${need} arguments, got ${got}`);
}

const cache = new Map<string, Formatter>();

/**
 * C sprintf: formats args according to fmt, byte for byte as glibc 2.36 in the "C" locale.
 * Conversions: d i u x X o c s f F e E g G and %%, with flags, width and precision
 * (also `*`) and length modifiers (hh and h narrow the value like C). A NaN number prints
 * "-nan", as the x86-64 default NaN does; arguments beyond the format's are ignored.
 *
 * @throws Error for an unsupported conversion or too few arguments, TypeError for an
 *   argument of the wrong type
 */
export function sprintf(fmt: string, ...args: PrintfArg[]): string {
  let f = cache.get(fmt);
  if (f === undefined) {
    // Formats are almost always literals; the bound only guards against generated ones.
    if (cache.size >= 4096) cache.clear();
    f = compileFormat(fmt);
    cache.set(fmt, f);
  }
  return f(...args);
}
