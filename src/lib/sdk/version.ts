// The version of the service SDK (src/lib/sdk, and the src/lib modules plug-ins may import, see
// src/lib/plugin/host.ts). A plug-in package records the version it was built for; the daemon
// loads it when the major numbers are equal and the plug-in's minor is not newer than its own.
// Bump the minor for additions, the major for anything a built plug-in could notice.
// 1.1: sdk/frames (Ethernet, ARP, IPv4, ICMP in slow paths), sdk/mac, timeoutsNs, the array
// codec, CubeControl.state(at) (the path a read asks for).
export const SDK_VERSION = "1.1";

/** Why a plug-in built for SDK `version` cannot run here, or undefined when it can. */
export function sdkMismatch(version: string): string | undefined {
  const m = /^(\d+)\.(\d+)$/.exec(version);
  if (!m) return `SDK version ${JSON.stringify(version)} is not MAJOR.MINOR`;
  const [major, minor] = SDK_VERSION.split(".").map(Number) as [number, number];
  if (Number(m[1]) !== major || Number(m[2]) > minor) return `built for SDK ${version}; this daemon supports ${major}.0 to ${SDK_VERSION}`;
  return undefined;
}
