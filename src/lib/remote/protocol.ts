// Loads remote.proto from the text embedded in the executable (no file on disk at run time).
import * as grpc from "@grpc/grpc-js";
import { fromJSON } from "@grpc/proto-loader";
import protobuf from "protobufjs";
import protoText from "./remote.proto" with { type: "text" };

export interface ReplyMsg {
  ok: boolean;
  error?: string;
  status?: number;
  tag?: string;
  field?: string;
  json?: string;
  data?: Uint8Array;
  values?: Uint8Array[];
  keys?: Uint8Array[];
  registration?: { name: string; kind: string; yang: string; version: string; ownsConfig?: boolean; createReplaces?: string[]; stackPlace?: string; objects?: Array<{ name: string; data: Uint8Array }> };
}

export interface CubeCallMsg {
  cube: string;
  op: string;
  json: string;
  context: string;
}

export interface PacketInMsg {
  cube: string;
  portId: number;
  portName: string;
  direction: string;
  reason: number;
  trafficClass: number;
  metadata: number[];
  data: Uint8Array;
  context: string;
}

export interface SdkCallMsg {
  cube: string;
  op: string;
  name?: string;
  key?: Uint8Array;
  value?: Uint8Array;
  json?: string;
}

export interface DaemonMessage {
  id: string | number;
  hello?: { daemonVersion: string };
  call?: CubeCallMsg;
  packetIn?: PacketInMsg;
  reply?: ReplyMsg;
}

export interface ServiceMessage {
  id: string | number;
  reply?: ReplyMsg;
  sdk?: SdkCallMsg;
  log?: { cube: string; level: string; message: string };
}

let cached: grpc.ServiceClientConstructor | undefined;

/** The RemoteService client/service definition. */
export function remoteService(): grpc.ServiceClientConstructor {
  if (cached) return cached;
  const root = protobuf.parse(protoText, { keepCase: false }).root;
  const def = fromJSON(root.toJSON(), { longs: Number, defaults: true, oneofs: false, enums: String });
  const pkg = grpc.loadPackageDefinition(def) as unknown as {
    polycube: { remote: { v1: { RemoteService: grpc.ServiceClientConstructor } } };
  };
  cached = pkg.polycube.remote.v1.RemoteService;
  return cached;
}
