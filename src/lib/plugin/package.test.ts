import { describe, expect, test } from "bun:test";
import { FORMAT, packBytes, unpackBytes, type PluginPackage } from "./package.ts";

const good = (): PluginPackage => ({
  manifest: { format: FORMAT, name: "demo", version: "1.0", kind: "standard", sdk: "1.0", objects: ["demo"], sha256: {} },
  model: "module demo {}",
  code: "export default {};",
  objects: new Map([["demo.tc", new Uint8Array([1, 2, 3])], ["demo.xdp", new Uint8Array([4, 5, 255])]]),
});

describe("plug-in package", () => {
  test("round trip: a tar.gz whose manifest has every member's sha256", async () => {
    const bytes = await packBytes(good());
    expect([bytes[0], bytes[1]]).toEqual([0x1f, 0x8b]);
    const p = await unpackBytes(bytes);
    expect(p.model).toBe("module demo {}");
    expect([...p.objects.get("demo.xdp")!]).toEqual([4, 5, 255]);
    expect(Object.keys(p.manifest.sha256).sort()).toEqual(["bpf/demo.tc.o", "bpf/demo.xdp.o", "model/demo.yang", "service.js"]);
  });

  test("refusals name the reason", async () => {
    await expect(unpackBytes(new TextEncoder().encode("not an archive"))).rejects.toThrow("not a plug-in package");
    const files = await new Bun.Archive(await packBytes(good())).files();
    const repack = async (edit: (m: Record<string, unknown>) => void, extra: Record<string, string> = {}) => {
      const m = JSON.parse(await files.get("manifest.json")!.text());
      edit(m);
      const members: Record<string, Uint8Array | string> = { "manifest.json": JSON.stringify(m) };
      for (const [k, f] of files) if (k !== "manifest.json") members[k] = await f.bytes();
      return new Bun.Archive({ ...members, ...extra }, { compress: "gzip" }).bytes();
    };
    await expect(unpackBytes(await repack((m) => void (m.format = "other/1")))).rejects.toThrow("format");
    await expect(unpackBytes(await repack((m) => void delete m.sdk))).rejects.toThrow("sdk is missing");
    await expect(unpackBytes(await repack(() => {}, { "service.js": "tampered" }))).rejects.toThrow("service.js is damaged");
    await expect(unpackBytes(await repack((m) => void (m.objects = ["other"])))).rejects.toThrow("the package has no bpf/other.tc.o");
  });
});
