// Checks a live REST API against its OpenAPI document (src/lib/rest/openapi.ts): the document
// validates (a maintained OpenAPI validator), and every GET path it lists under one cube answers
// as documented, with the list keys in the path taken from the cube's own entries.
import { Validator } from "@seriousme/openapi-schema-validator";
import Ajv from "ajv";

type Obj = Record<string, any>;

export async function validateDocument(doc: unknown): Promise<{ valid: boolean; errors?: unknown }> {
  const v = new Validator();
  const r = await v.validate(doc as Parameters<Validator["validate"]>[0]);
  return { valid: r.valid, errors: r.errors };
}

export interface PathReport {
  /** Concrete URLs that answered 200 with a body matching the schema. */
  matched: string[];
  /** Leaves not set (and without a default): a documented refusal. */
  unset: string[];
  /** Templates not reached because a list above them is empty. */
  unreached: string[];
  /** Anything else: the status or schema errors. */
  wrong: string[];
}

const isParam = (seg: string) => seg.startsWith("{") && seg.endsWith("}");

/** Every GET path of `service` under the cube `cube`, requested at `base` (…/polycube/v1). */
export async function checkCubePaths(base: string, doc: Obj, service: string, cube: string): Promise<PathReport> {
  const ajv = new Ajv({ strict: false, allErrors: false });
  const report: PathReport = { matched: [], unset: [], unreached: [], wrong: [] };
  const prefix = `/${service}/{cube}`;
  const cache = new Map<string, unknown>();
  const get = async (url: string) => {
    if (!cache.has(url)) {
      const r = await fetch(`${base}${url}`);
      const text = await r.text();
      let body: unknown = text;
      try {
        body = JSON.parse(text);
      } catch {
        /* plain text */
      }
      cache.set(url, { status: r.status, body });
    }
    return cache.get(url) as { status: number; body: unknown };
  };
  for (const [template, item] of Object.entries(doc.paths as Obj)) {
    if (!(template === prefix || template.startsWith(`${prefix}/`)) || !item.get) continue;
    const segs = template.split("/").slice(1);
    // Expand the template: each run of key parameters is filled from the first entry of its list.
    let url = "";
    let reached = true;
    for (let i = 0; i < segs.length && reached; i++) {
      const seg = segs[i]!;
      if (seg === "{cube}") url += `/${encodeURIComponent(cube)}`;
      else if (isParam(seg)) {
        const list = await get(`${url}/`);
        const entries = Array.isArray(list.body) ? list.body.filter((e) => e && typeof e === "object" && !Array.isArray(e)) : [];
        if (list.status !== 200 || !entries.length) {
          reached = false;
          break;
        }
        const listName = segs[i - 1]!;
        while (i < segs.length && isParam(segs[i]!)) {
          const key = segs[i]!.slice(listName.length + 2, -1);
          url += `/${encodeURIComponent(String(entries[0][key]))}`;
          i++;
        }
        i--;
      } else url += `/${seg}`;
    }
    if (!reached) {
      report.unreached.push(template);
      continue;
    }
    const r = await get(`${url}/`);
    const schema = item.get.responses?.["200"]?.content?.["application/json"]?.schema;
    const isLeaf = schema && !schema.$ref && !schema.allOf && schema.type !== "array" && schema.type !== "object";
    if (r.status !== 200) {
      if (isLeaf && r.status >= 400 && r.status < 500 && item.get.responses.default) report.unset.push(url);
      else report.wrong.push(`${url}: status ${r.status} ${JSON.stringify(r.body).slice(0, 200)}`);
      continue;
    }
    const validate = ajv.compile({ ...schema, components: doc.components });
    if (validate(r.body)) report.matched.push(url);
    else report.wrong.push(`${url}: ${ajv.errorsText(validate.errors)} in ${JSON.stringify(r.body).slice(0, 300)}`);
  }
  return report;
}
