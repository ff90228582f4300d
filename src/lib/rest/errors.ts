// Error replies as the original polycubed sends them (§3.3):
//  - tagged errors: RESTCONF JSON {"ietf-restconf:errors":{"error":[{error-type, error-tag, error-info}]}}
//    with the status of the tag;
//  - untagged errors: plain text, 400 (or the ServiceError's status; 5xx becomes 500, but for 503, 504 and 507).
import { ServiceError } from "../sdk/types.ts";
import type { ErrorTag, ValidationError } from "../yang/index.ts";

export const TAG_STATUS: Record<ErrorTag, number> = {
  "invalid-value": 400,
  "missing-attribute": 400,
  "missing-element": 400,
  "bad-attribute": 400,
  "bad-element": 400,
  "data-exists": 409,
  "data-missing": 409,
  "operation-not-supported": 405,
};

/** A reply the REST layer decided on; thrown from deep inside a handler, turned into a Response once. */
export class RestError extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** Present for RESTCONF-style errors. */
    readonly errors?: Array<{ tag: ErrorTag; info?: string; message?: string }>,
  ) {
    super(message);
    this.name = "RestError";
  }

  static tagged(tag: ErrorTag, info: string, message = info): RestError {
    return new RestError(TAG_STATUS[tag], message, [{ tag, info, message }]);
  }

  static validation(errors: ValidationError[]): RestError {
    const status = Math.max(...errors.map((e) => TAG_STATUS[e.tag] ?? 400));
    return new RestError(
      status,
      errors.map((e) => e.message).join("; "),
      errors.map((e) => ({ tag: e.tag, info: e.field, message: e.message })),
    );
  }

  static text(status: number, message: string): RestError {
    return new RestError(status, message);
  }
}

export function restconfBody(errors: NonNullable<RestError["errors"]>): string {
  return JSON.stringify({
    "ietf-restconf:errors": {
      error: errors.map((e) => {
        const o: Record<string, string> = { "error-type": "application", "error-tag": e.tag };
        if (e.info) o["error-info"] = e.info;
        // Not in the original: the human-readable reason, which the CLI prints.
        if (e.message && e.message !== e.info) o["error-message"] = e.message;
        return o;
      }),
    },
  });
}

/**
 * 5xx statuses that reach the client as they are (the others become 500, as in the original):
 * a remote service that is unreachable (503) or did not answer in time (504), a kernel that
 * cannot do what was asked now (503), a table that is full (507). A client can tell them from
 * the daemon's own failures.
 */
const PASSED_5XX = new Set([503, 504, 507]);

/** Turns anything thrown by a handler into the reply the original would send. */
export function errorResponse(e: unknown): Response {
  if (e instanceof RestError) {
    if (e.errors?.length)
      return new Response(restconfBody(e.errors), { status: e.status, headers: { "content-type": "application/json" } });
    return new Response(e.message, { status: e.status, headers: { "content-type": "text/plain; charset=utf-8" } });
  }
  if (e instanceof ServiceError) {
    if (e.tag && e.tag in TAG_STATUS) {
      const tag = e.tag as ErrorTag;
      return errorResponse(new RestError(e.status >= 400 && e.status < 500 ? e.status : TAG_STATUS[tag], e.message, [{ tag, info: e.field ?? "", message: e.message }]));
    }
    const status = e.status >= 500 ? (PASSED_5XX.has(e.status) ? e.status : 500) : e.status >= 400 ? e.status : 400;
    return errorResponse(RestError.text(status, e.message));
  }
  const msg = e instanceof Error ? e.message : String(e);
  return errorResponse(RestError.text(500, msg));
}

/** Parses a request body as JSON; empty means undefined. Malformed JSON is a 400 naming the problem. */
export async function readJson(req: Request): Promise<unknown> {
  const text = await req.text();
  if (!text.trim()) return undefined;
  try {
    return JSON.parse(text);
  } catch (e) {
    throw RestError.text(400, `Malformed JSON body: ${(e as Error).message}`);
  }
}
