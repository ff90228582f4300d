// A C tokenizer just good enough to rewrite source text: every character of the input belongs
// to exactly one token (whitespace and comments included), so joining the tokens' texts gives
// the input back, and a rewrite replaces tokens' texts. Preprocessor lines are marked (`pp`:
// the directive's name) but tokenized like the rest, so that names in macro bodies are seen.

export type TokKind = "id" | "num" | "str" | "chr" | "punct" | "ws" | "comment";

export interface Tok {
  kind: TokKind;
  text: string;
  /** 1-based line of the token's first character. */
  line: number;
  /** Inside a preprocessor line: its directive ("define", "include"...). */
  pp?: string;
}

const PUNCT = ["<<=", ">>=", "...", "->", "++", "--", "<<", ">>", "<=", ">=", "==", "!=", "&&", "||", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "##"];

export function tokenize(src: string): Tok[] {
  const out: Tok[] = [];
  let i = 0;
  let line = 1;
  let pp: string | undefined;
  /** Only whitespace since the last newline: a '#' here starts a directive. */
  let lineStart = true;
  const push = (kind: TokKind, text: string) => {
    out.push(pp === undefined ? { kind, text, line } : { kind, text, line, pp });
    for (const ch of text) if (ch === "\n") line++;
    i += text.length;
  };
  while (i < src.length) {
    const c = src[i]!;
    const rest = src.slice(i, i + 3);
    if (c === "\n") {
      // A directive ends at a newline that no backslash continues.
      if (pp !== undefined && !/\\\r?$/.test(out.at(-1)?.text ?? "")) pp = undefined;
      push("ws", c);
      lineStart = true;
      continue;
    }
    if (/\s/.test(c)) {
      const m = /^[^\S\n]+/.exec(src.slice(i))!;
      push("ws", m[0]);
      continue;
    }
    if (c === "\\" && /^\\\r?\n/.test(src.slice(i))) {
      push("ws", src[i + 1] === "\r" ? "\\\r" : "\\");
      continue;
    }
    if (rest.startsWith("//")) {
      const end = src.indexOf("\n", i);
      push("comment", src.slice(i, end < 0 ? src.length : end));
      continue;
    }
    if (rest.startsWith("/*")) {
      const end = src.indexOf("*/", i + 2);
      push("comment", src.slice(i, end < 0 ? src.length : end + 2));
      continue;
    }
    if (c === "#" && lineStart && pp === undefined) {
      const m = /^#\s*([A-Za-z_]\w*)?/.exec(src.slice(i))!;
      pp = m[1] ?? "";
      push("punct", "#");
      lineStart = false;
      continue;
    }
    lineStart = false;
    if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_]\w*/.exec(src.slice(i))!;
      // String and char literals with a prefix (L"..", u8"..") stay one token.
      if (/^(L|u8|u|U)$/.test(m[0]) && (src[i + m[0].length] === '"' || src[i + m[0].length] === "'")) {
        const lit = literal(src, i + m[0].length);
        push(src[i + m[0].length] === '"' ? "str" : "chr", src.slice(i, lit));
        continue;
      }
      push("id", m[0]);
      continue;
    }
    if (/[0-9]/.test(c) || (c === "." && /[0-9]/.test(src[i + 1] ?? ""))) {
      const m = /^\.?[0-9](?:[eEpP][+-]|[0-9A-Za-z_.])*/.exec(src.slice(i))!;
      push("num", m[0]);
      continue;
    }
    if (c === '"' || c === "'") {
      push(c === '"' ? "str" : "chr", src.slice(i, literal(src, i)));
      continue;
    }
    // #include <a/b.h>: the header name is one token.
    if (c === "<" && pp === "include") {
      const end = src.indexOf(">", i);
      if (end > 0 && !src.slice(i, end).includes("\n")) {
        push("str", src.slice(i, end + 1));
        continue;
      }
    }
    const p = PUNCT.find((x) => src.startsWith(x, i));
    push("punct", p ?? c);
  }
  return out;
}

/** End (exclusive) of the string or char literal that starts at `i` (at its quote). */
function literal(src: string, i: number): number {
  const q = src[i];
  let j = i + 1;
  while (j < src.length && src[j] !== q && src[j] !== "\n") j += src[j] === "\\" ? 2 : 1;
  return Math.min(src.length, j + 1);
}

/** Whether a token counts for the grammar (not whitespace nor a comment). */
export function significant(t: Tok): boolean {
  return t.kind !== "ws" && t.kind !== "comment";
}

/** Index of the next significant token after `i` (tokens.length when none). */
export function nextSig(toks: Tok[], i: number): number {
  let j = i + 1;
  while (j < toks.length && !significant(toks[j]!)) j++;
  return j;
}

/** Index of the previous significant token before `i` (-1 when none). */
export function prevSig(toks: Tok[], i: number): number {
  let j = i - 1;
  while (j >= 0 && !significant(toks[j]!)) j--;
  return j;
}

/** Index of the token closing the bracket opened at `i` ("(", "[" or "{"); -1 when unbalanced. */
export function closing(toks: Tok[], i: number): number {
  const open = toks[i]!.text;
  const close = open === "(" ? ")" : open === "[" ? "]" : "}";
  let depth = 0;
  for (let j = i; j < toks.length; j++) {
    const t = toks[j]!;
    if (t.kind !== "punct") continue;
    if (t.text === open) depth++;
    else if (t.text === close && --depth === 0) return j;
  }
  return -1;
}

/** The significant tokens between `from` and `to` (exclusive), split at top-level commas, as trimmed text. */
export function splitArgs(toks: Tok[], from: number, to: number): string[] {
  const args: string[] = [];
  let depth = 0;
  let cur = "";
  for (let j = from; j < to; j++) {
    const t = toks[j]!;
    if (t.kind === "punct" && "([{".includes(t.text)) depth++;
    if (t.kind === "punct" && ")]}".includes(t.text)) depth--;
    if (depth === 0 && t.kind === "punct" && t.text === ",") {
      args.push(cur.trim());
      cur = "";
      continue;
    }
    cur += t.kind === "comment" ? " " : t.text;
  }
  if (cur.trim() || args.length) args.push(cur.trim());
  return args;
}
