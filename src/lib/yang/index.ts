// Public API of the YANG engine.
export { loadModule, YangError, resolveLeafref, dataParent, type ModuleSource } from "./compile.ts";
export { YangSyntaxError } from "./parser.ts";
export * from "./schema.ts";
export { checkValue, valueText, type ValueOptions, type ValueResult } from "./value.ts";
export {
  normalise, applyDefaults, checkTree, checkPart, refersInto, validateDocument, entryKeys, entryField, findEntry, instancesOf,
  type ValidationError, type ErrorTag, type Operation, type NormaliseOptions, type TreeOptions,
} from "./validate.ts";
export { diffConfig, diffPart, pathText } from "./diff.ts";
export { embeddedModules } from "./embedded.ts";
export { compilePattern } from "./xsd-regex.ts";
