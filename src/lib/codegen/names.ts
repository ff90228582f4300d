// Identifiers and comment text derived from YANG names and descriptions.

const RESERVED = new Set(
  (
    "break case catch class const continue debugger default delete do else enum export extends false finally for " +
    "function if import in instanceof new null return super switch this throw true try typeof var void while with " +
    "as implements interface let package private protected public static yield await any boolean number string " +
    "symbol type of"
  ).split(" "),
);

function words(name: string): string[] {
  return name.split(/[^A-Za-z0-9]+/).filter(Boolean);
}

/** "aging-time" -> "AgingTime" */
export function pascal(name: string): string {
  const w = words(name).map((s) => s[0]!.toUpperCase() + s.slice(1));
  const out = w.join("") || "X";
  return /^[0-9]/.test(out) ? `N${out}` : out;
}

/** "aging-time" -> "agingTime"; reserved words get a suffix. */
export function camel(name: string, suffix = "Value"): string {
  const p = pascal(name);
  const out = p[0]!.toLowerCase() + p.slice(1);
  return RESERVED.has(out) ? `${out}${suffix}` : out;
}

/** Hands out identifiers, never the same one twice ("x", "x2", "x3"...). */
export class NamePool {
  private used = new Set<string>();

  constructor(taken: string[] = []) {
    for (const t of taken) this.used.add(t);
  }

  take(want: string): string {
    let name = want;
    for (let i = 2; this.used.has(name); i++) name = `${want}${i}`;
    this.used.add(name);
    return name;
  }
}

/** Text that is safe inside a /* comment *\/ and on one line. */
export function commentText(s: string): string {
  return s.replace(/\s+/g, " ").replace(/\*\//g, "* /").trim();
}

/** Wraps text into lines of at most `width` characters, each prefixed with `prefix`. */
export function wrap(text: string, prefix: string, width = 100): string[] {
  const out: string[] = [];
  let cur = "";
  for (const w of commentText(text).split(" ").filter(Boolean)) {
    if (cur && prefix.length + cur.length + 1 + w.length > width) {
      out.push(prefix + cur);
      cur = w;
    } else cur = cur ? `${cur} ${w}` : w;
  }
  if (cur) out.push(prefix + cur);
  return out;
}
