// HATEOAS links (§3.5): {"rel","href"} with hrefs //host:port/polycube/v1/<path>/.
import type { Json, JsonObject } from "../sdk/types.ts";
import { dataChildren, type SchemaNode } from "../yang/index.ts";
import { entryWords } from "./tree.ts";

export interface Link {
  rel: string;
  href: string;
}

/**
 * host:port as the original writes it in hrefs: it names the address it is bound to, so a daemon
 * on `localhost` (the default) links to //127.0.0.1:9000/...
 */
export function linkHostPort(host: string, port: number): string {
  const h = host === "localhost" ? "127.0.0.1" : host;
  return `${h.includes(":") ? `[${h}]` : h}:${port}`;
}

export class Linker {
  constructor(private hostPort: string) {}

  href(words: string[]): string {
    const p = words.map((w) => encodeURIComponent(w)).join("/");
    return `//${this.hostPort}/polycube/v1/${p}${p ? "/" : ""}`;
  }

  /** self, then one link per child node in YANG order (keys skipped). */
  children(node: SchemaNode, words: string[]): Link[] {
    const links: Link[] = [{ rel: "self", href: this.href(words) }];
    for (const c of dataChildren(node)) {
      if (node.keys?.includes(c.name) || c.kind === "notification") continue;
      links.push({ rel: c.name, href: this.href([...words, c.name]) });
    }
    return links;
  }

  /** One link per entry of a list. */
  entries(list: SchemaNode, arr: Json[], words: string[]): Link[] {
    return arr.map((e) => {
      const ks = entryWords(list, e);
      return { rel: ks.join("/"), href: this.href([...words, ...ks]) };
    });
  }

  /** Adds _links to an object reply. */
  withLinks(obj: JsonObject, links: Link[]): JsonObject {
    return { ...obj, _links: links as unknown as Json };
  }

  /** The original's quirk for array replies: `_links` becomes an extra element ["_links", [...]]. */
  arrayWithLinks(arr: Json[], links: Link[]): Json[] {
    return [...arr, ["_links", links as unknown as Json]];
  }
}
