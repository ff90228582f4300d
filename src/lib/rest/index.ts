// Public API of the REST layer.
export { createRestApp, BASE, type RestOptions } from "./app.ts";
export { RestError, errorResponse, restconfBody, TAG_STATUS } from "./errors.ts";
export { paramHelp, type HelpReply, type ParamHelp, type HelpType } from "./help.ts";
export { jsonPath, metricSpecs, type MetricSpec } from "./metrics.ts";
