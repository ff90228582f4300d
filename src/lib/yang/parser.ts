// YANG statement grammar (RFC 7950 §6): `keyword [argument] (";" | "{" statement* "}")`.
// This module turns module text into a tree of raw statements; resolve.ts gives them meaning.

export interface Stmt {
  /** Keyword, e.g. "leaf", or "prefix:name" for an extension instance. */
  kw: string;
  arg: string | undefined;
  subs: Stmt[];
  line: number;
}

export class YangSyntaxError extends Error {
  constructor(message: string, readonly line: number, readonly source = "") {
    super(`${source ? source + ":" : ""}${line}: ${message}`);
    this.name = "YangSyntaxError";
  }
}

type Token = { kind: "word" | "string" | "lbrace" | "rbrace" | "semi" | "plus"; text: string; line: number };

function tokenize(text: string, source: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  let line = 1;
  const n = text.length;
  const fail = (m: string) => {
    throw new YangSyntaxError(m, line, source);
  };
  while (i < n) {
    const c = text[i]!;
    if (c === "\n") { line++; i++; continue; }
    if (c === " " || c === "\t" || c === "\r") { i++; continue; }
    if (c === "/" && text[i + 1] === "/") {
      while (i < n && text[i] !== "\n") i++;
      continue;
    }
    if (c === "/" && text[i + 1] === "*") {
      const end = text.indexOf("*/", i + 2);
      if (end < 0) fail("unterminated comment");
      for (let k = i; k < end; k++) if (text[k] === "\n") line++;
      i = end + 2;
      continue;
    }
    if (c === "{") { out.push({ kind: "lbrace", text: c, line }); i++; continue; }
    if (c === "}") { out.push({ kind: "rbrace", text: c, line }); i++; continue; }
    if (c === ";") { out.push({ kind: "semi", text: c, line }); i++; continue; }
    if (c === "+") { out.push({ kind: "plus", text: c, line }); i++; continue; }
    if (c === "'") {
      const end = text.indexOf("'", i + 1);
      if (end < 0) fail("unterminated single-quoted string");
      const s = text.slice(i + 1, end);
      out.push({ kind: "string", text: s, line });
      for (const ch of s) if (ch === "\n") line++;
      i = end + 1;
      continue;
    }
    if (c === '"') {
      const startLine = line;
      // Column of the opening quote: continuation lines are dedented up to it (RFC 7950 §6.1.3).
      const col = i - (text.lastIndexOf("\n", i - 1) + 1);
      let s = "";
      i++;
      for (;;) {
        if (i >= n) fail("unterminated double-quoted string");
        const ch = text[i]!;
        if (ch === '"') { i++; break; }
        if (ch === "\\") {
          const e = text[i + 1];
          if (e === "n") s += "\n";
          else if (e === "t") s += "\t";
          else if (e === '"') s += '"';
          else if (e === "\\") s += "\\";
          else fail(`invalid escape \\${e} in double-quoted string`);
          i += 2;
          continue;
        }
        if (ch === "\n") line++;
        s += ch;
        i++;
      }
      out.push({ kind: "string", text: dedent(s, col + 1), line: startLine });
      continue;
    }
    // Unquoted word: up to whitespace, ; { } or a comment start.
    let j = i;
    while (j < n) {
      const d = text[j]!;
      if (" \t\r\n;{}".includes(d)) break;
      if (d === "/" && (text[j + 1] === "/" || text[j + 1] === "*")) break;
      if ((d === "'" || d === '"') && j === i) break;
      j++;
    }
    if (j === i) fail(`unexpected character ${JSON.stringify(c)}`);
    out.push({ kind: "word", text: text.slice(i, j), line });
    i = j;
  }
  return out;
}

function dedent(s: string, col: number): string {
  if (!s.includes("\n")) return s;
  const lines = s.split("\n");
  return lines
    .map((l, k) => {
      if (k > 0) {
        let m = 0;
        while (m < col && m < l.length && (l[m] === " " || l[m] === "\t")) m++;
        l = l.slice(m);
      }
      return k < lines.length - 1 ? l.replace(/[ \t]+$/, "") : l;
    })
    .join("\n");
}

/** Parses the text of one module (or submodule) into its top statement. */
export function parseYang(text: string, source = ""): Stmt {
  const toks = tokenize(text, source);
  let p = 0;
  const fail = (m: string, line: number): never => {
    throw new YangSyntaxError(m, line, source);
  };
  function statement(): Stmt {
    const t = toks[p++];
    if (!t) return fail("unexpected end of text", toks.at(-1)?.line ?? 1);
    if (t.kind !== "word") return fail(`expected a keyword, found ${JSON.stringify(t.text)}`, t.line);
    let arg: string | undefined;
    const a = toks[p];
    if (a && (a.kind === "word" || a.kind === "string")) {
      arg = a.text;
      p++;
      if (a.kind === "string") {
        while (toks[p]?.kind === "plus") {
          const next = toks[p + 1];
          if (!next || next.kind !== "string") fail("'+' must join two quoted strings", toks[p]!.line);
          arg += next!.text;
          p += 2;
        }
      }
    }
    const e = toks[p++];
    if (!e) return fail(`statement ${t.text} is not terminated`, t.line);
    const st: Stmt = { kw: t.text, arg, subs: [], line: t.line };
    if (e.kind === "semi") return st;
    if (e.kind !== "lbrace") return fail(`expected ';' or '{' after ${t.text}, found ${JSON.stringify(e.text)}`, e.line);
    while (toks[p] && toks[p]!.kind !== "rbrace") st.subs.push(statement());
    if (!toks[p]) fail(`missing '}' for ${t.text} opened here`, t.line);
    p++;
    return st;
  }
  const top = statement();
  if (p < toks.length) fail("text after the end of the module", toks[p]!.line);
  if (top.kw !== "module" && top.kw !== "submodule") fail(`expected module, found ${top.kw}`, top.line);
  if (!top.arg) fail("module without a name", top.line);
  return top;
}

export function sub(st: Stmt, kw: string): Stmt | undefined {
  return st.subs.find((s) => s.kw === kw);
}

export function subs(st: Stmt, kw: string): Stmt[] {
  return st.subs.filter((s) => s.kw === kw);
}

export function subArg(st: Stmt, kw: string): string | undefined {
  return sub(st, kw)?.arg;
}
