// The base modules, embedded so that the compiled executable needs no files beside it.
import polycubeBase from "../../../yang/polycube-base.yang" with { type: "text" };
import polycubeStandardBase from "../../../yang/polycube-standard-base.yang" with { type: "text" };
import polycubeTransparentBase from "../../../yang/polycube-transparent-base.yang" with { type: "text" };
import ietfInetTypes from "../../../yang/ietf-inet-types.yang" with { type: "text" };
import ietfYangTypes from "../../../yang/ietf-yang-types.yang" with { type: "text" };

export const embeddedModules: Record<string, string> = {
  "polycube-base": polycubeBase,
  "polycube-standard-base": polycubeStandardBase,
  "polycube-transparent-base": polycubeTransparentBase,
  "ietf-inet-types": ietfInetTypes,
  "ietf-yang-types": ietfYangTypes,
};
