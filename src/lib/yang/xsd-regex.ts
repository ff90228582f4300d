// YANG patterns are XML Schema regular expressions (RFC 7950 §9.4.5), always anchored at both
// ends. JavaScript's RegExp in unicode mode is close; what differs is translated here:
//  - ^ and $ are ordinary characters in XSD;
//  - single-character escapes (\. \- \^ ...) become \u{..} so they are valid in and out of classes;
//  - \d means any Unicode decimal digit, \i and \c are XML name-start / name characters;
//  - character-class subtraction [a-z-[aeiou]] becomes a lookahead-guarded class.

const NAME_START = "A-Z_a-z:\\u{C0}-\\u{D6}\\u{D8}-\\u{F6}\\u{F8}-\\u{2FF}\\u{370}-\\u{37D}\\u{37F}-\\u{1FFF}\\u{200C}-\\u{200D}\\u{2070}-\\u{218F}\\u{2C00}-\\u{2FEF}\\u{3001}-\\u{D7FF}\\u{F900}-\\u{FDCF}\\u{FDF0}-\\u{FFFD}";
const NAME_CHAR = NAME_START + "\\-.0-9\\u{B7}\\u{300}-\\u{36F}\\u{203F}-\\u{2040}";

function hex(ch: string): string {
  return `\\u{${ch.codePointAt(0)!.toString(16)}}`;
}

/** Translates one escape starting at src[i] === "\\"; returns the JS text and the next index. */
function escape(src: string, i: number, inClass: boolean): [string, number] {
  const e = src[i + 1];
  if (e === undefined) throw new Error("pattern ends with a backslash");
  switch (e) {
    case "n": return ["\\n", i + 2];
    case "r": return ["\\r", i + 2];
    case "t": return ["\\t", i + 2];
    case "d": return [inClass ? "\\p{Nd}" : "\\p{Nd}", i + 2];
    case "D": return [inClass ? "\\P{Nd}" : "\\P{Nd}", i + 2];
    case "s": return ["\\s", i + 2];
    case "S": return ["\\S", i + 2];
    case "w": return [inClass ? "\\p{L}\\p{M}\\p{N}\\p{S}\\p{Pc}" : "[^\\p{P}\\p{Z}\\p{C}]", i + 2];
    case "W": return [inClass ? "\\p{P}\\p{Z}\\p{C}" : "[\\p{P}\\p{Z}\\p{C}]", i + 2];
    case "i": return [inClass ? NAME_START : `[${NAME_START}]`, i + 2];
    case "I": return [`[^${NAME_START}]`, i + 2];
    case "c": return [inClass ? NAME_CHAR : `[${NAME_CHAR}]`, i + 2];
    case "C": return [`[^${NAME_CHAR}]`, i + 2];
    case "p":
    case "P": {
      const end = src.indexOf("}", i);
      if (src[i + 2] !== "{" || end < 0) throw new Error(`malformed \\${e} escape`);
      let name = src.slice(i + 3, end);
      // XSD block escapes (IsBasicLatin...) map to script-less ranges JS does not know: keep the
      // common ones, reject the rest loudly instead of matching the wrong set.
      if (name.startsWith("Is")) {
        const blocks: Record<string, string> = { IsBasicLatin: "\\u{0}-\\u{7F}", IsLatin1Supplement: "\\u{80}-\\u{FF}" };
        const r = blocks[name];
        if (!r) throw new Error(`unsupported block escape \\${e}{${name}}`);
        const cls = e === "p" ? `[${r}]` : `[^${r}]`;
        return [inClass && e === "p" ? r : cls, end + 1];
      }
      if (name === "L&") name = "LC";
      return [`\\${e}{${name}}`, end + 1];
    }
    default:
      if (/[a-zA-Z0-9]/.test(e)) throw new Error(`unknown escape \\${e}`);
      return [hex(e), i + 2];
  }
}

/** Translates a bracketed class starting at src[i] === "["; returns JS text and next index. */
function charClass(src: string, i: number): [string, number] {
  let j = i + 1;
  let out = "[";
  if (src[j] === "^") { out += "^"; j++; }
  let first = true;
  while (j < src.length) {
    const c = src[j]!;
    if (c === "]" && !first) {
      return [out + "]", j + 1];
    }
    if (c === "-" && src[j + 1] === "[") {
      // Subtraction: [base-[sub]] == (?![sub])[base]
      const [subCls, next] = charClass(src, j + 1);
      if (src[next] !== "]") throw new Error("character class subtraction must end the class");
      return [`(?:(?!${subCls})${out}])`, next + 1];
    }
    if (c === "\\") {
      const [t, next] = escape(src, j, true);
      out += t;
      j = next;
    } else if (c === "[" ) {
      out += "\\[";
      j++;
    } else if ("^$.*+?(){}|/".includes(c) || c === "-") {
      out += c === "-" ? "-" : hex(c);
      j++;
    } else {
      out += c;
      j++;
    }
    first = false;
  }
  throw new Error("unterminated character class");
}

export function xsdToJsSource(src: string): string {
  let out = "";
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (c === "\\") {
      const [t, next] = escape(src, i, false);
      out += t;
      i = next;
    } else if (c === "[") {
      const [t, next] = charClass(src, i);
      out += t;
      i = next;
    } else if (c === "^" || c === "$" || c === "/") {
      out += hex(c);
      i++;
    } else if (c === "(" && src[i + 1] === "?") {
      throw new Error("'(?' groups are not XSD syntax");
    } else {
      out += c;
      i++;
    }
  }
  return out;
}

/** Compiles a YANG pattern into an anchored JS RegExp; throws naming the problem if it cannot. */
export function compilePattern(src: string): RegExp {
  const js = xsdToJsSource(src);
  try {
    return new RegExp(`^(?:${js})$`, "u");
  } catch (e) {
    throw new Error(`pattern ${JSON.stringify(src)} is not a valid regular expression: ${(e as Error).message}`);
  }
}
