import { expect, test } from "bun:test";
import { ServiceError } from "../sdk/types.ts";
import { errorResponse } from "./errors.ts";

test("a service's 5xx is 500, but for 503, 504 and 507, which keep their status and their message", async () => {
  for (const [status, expected] of [[500, 500], [502, 500], [503, 503], [504, 504], [507, 507]] as const) {
    const r = errorResponse(new ServiceError(`failed with ${status}`, status));
    expect(r.status).toBe(expected);
    expect(await r.text()).toBe(`failed with ${status}`);
  }
});
