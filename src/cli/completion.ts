// Shell completion: `polycubectl completion bash|zsh` prints a script whose function runs
// `polycubectl --complete <words…>` (the words typed after the program name, the last one
// being the word under the cursor, possibly empty). The candidates come from the daemon's
// OPTIONS ?help=<TYPE>&completion, so services need nothing in the CLI.
import { pathUrl, type Verb } from "./args.ts";
import type { CliConfig } from "./config.ts";
import { send } from "./http.ts";

const VERBS = new Set(["add", "del", "set", "show"]);
const FLAGS = ["-normal", "-brief", "-verbose", "-json", "-yaml", "-hide="];
const BUILTIN_PEERS = new Set(["connect", "disconnect", "attach", "detach"]);

async function ask(cfg: CliConfig, url: string): Promise<string[]> {
  try {
    const r = await send({ method: "OPTIONS", url }, cfg);
    if (r.status < 200 || r.status >= 300) return [];
    const words = JSON.parse(r.text) as unknown;
    return Array.isArray(words) ? words.map(String) : [];
  } catch {
    return [];
  }
}

const helpUrl = (cfg: CliConfig, path: string[], type: string) => `${pathUrl(cfg.url, path).replace(/\/+$/, "")}?help=${type}&completion`;

/** Candidate words for the word under the cursor, the last of `words`. */
export async function completeWords(words: string[], cfg: CliConfig): Promise<string[]> {
  const cur = words.at(-1) ?? "";
  const before = words.slice(0, -1);
  const path: string[] = [];
  let verb: Verb | undefined;
  let pairs = 0;
  for (const w of before) {
    if (w.startsWith("-") || w === "?") continue;
    if (w.includes("=")) pairs++;
    else if (VERBS.has(w) && !verb) verb = w as Verb;
    else path.push(w);
  }
  let candidates: string[];
  if (cur.startsWith("-")) candidates = verb === "show" ? FLAGS : [];
  else if (path.length === 0 && !verb) candidates = await ask(cfg, `${cfg.url}?help=NONE&completion`);
  else if (BUILTIN_PEERS.has(path[0]!)) {
    if (path.length >= 3) candidates = path[0] === "attach" && pairs === 0 ? ["position=", "before=", "after="] : [];
    else candidates = await ask(cfg, helpUrl(cfg, [path[0]!], "NONE"));
  } else if (cur.includes("=")) {
    // A value: the leaf's enumeration, if the daemon knows one.
    const key = cur.slice(0, cur.indexOf("="));
    candidates = (await ask(cfg, helpUrl(cfg, [...path, ...key.split(".")], "NONE"))).map((v) => `${key}=${v}`);
  } else candidates = await ask(cfg, helpUrl(cfg, path, (verb ?? "none").toUpperCase()));
  // Enumerations match without regard to case, as the daemon does (`action=f` → `action=FORWARD`).
  const low = cur.toLowerCase();
  return candidates.filter((c) => c.startsWith(cur) || c.toLowerCase().startsWith(low));
}

export function completionScript(shell: string): string | undefined {
  if (shell === "bash")
    return `# polycubectl completion for bash: source this file, or put it in
# /etc/bash_completion.d/polycubectl. Candidates come from the daemon.
_polycubectl() {
  local line="\${COMP_LINE:0:COMP_POINT}" cur strip c
  local -a words cands
  read -ra words <<< "$line"
  [[ "$line" =~ [[:space:]]$ || \${#words[@]} -eq 0 ]] && words+=("")
  cur="\${words[\${#words[@]}-1]}"
  local IFS=$'\\n'
  cands=( $("\${COMP_WORDS[0]}" --complete "\${words[@]:1}" 2>/dev/null) )
  # bash splits the current word at '=' and ':' (COMP_WORDBREAKS): answer relative to that part.
  strip=""
  [[ "$cur" == *[=:]* ]] && strip="\${cur%"\${cur##*[=:]}"}"
  COMPREPLY=()
  for c in "\${cands[@]}"; do COMPREPLY+=("\${c#"$strip"}"); done
  [[ \${#COMPREPLY[@]} -eq 1 && "\${cands[0]}" == *= ]] && compopt -o nospace
  return 0
}
complete -F _polycubectl polycubectl
`;
  if (shell === "zsh")
    return `#compdef polycubectl
# polycubectl completion for zsh: source this file, or put it in a directory of $fpath as
# _polycubectl. Candidates come from the daemon.
_polycubectl() {
  local -a cands open closed
  cands=("\${(@f)$(\${words[1]} --complete "\${(@)words[2,CURRENT]}" 2>/dev/null)}")
  open=(\${(M)cands:#*=})
  closed=(\${cands:#*=})
  (( \${#open} )) && compadd -Q -S '' -- \${open}
  (( \${#closed} )) && compadd -Q -- \${closed}
  return 0
}
# Autoloaded from $fpath the file is the function's body: complete now. Sourced: register.
if [[ \${zsh_eval_context[-1]} == loadautofunc ]]; then
  _polycubectl "$@"
else
  compdef _polycubectl polycubectl
fi
`;
  return undefined;
}
