// Compiled schemas of the loaded services: the core's when it has them, else compiled here once per model text.
import type { DaemonCore } from "./core-api.ts";
import { loadModule, type Schema } from "../yang/index.ts";
import { RestError } from "./errors.ts";

export class SchemaCache {
  private cache = new Map<string, { text: string; schema: Schema }>();
  constructor(private core: DaemonCore) {}

  /** The schema of a loaded service, or undefined if no such service is loaded. */
  get(service: string): Schema | undefined {
    const info = this.core.service(service);
    if (!info) {
      this.cache.delete(service);
      return undefined;
    }
    if (info.schema) return info.schema;
    const hit = this.cache.get(service);
    if (hit && hit.text === info.yang) return hit.schema;
    try {
      const schema = loadModule(info.yang);
      this.cache.set(service, { text: info.yang, schema });
      return schema;
    } catch (e) {
      throw RestError.text(500, `the model of service ${service} does not load: ${(e as Error).message}`);
    }
  }
}
