// The original's OpenMetrics text: HELP and TYPE before every sample, "_<i>" for several values,
// labels with ", ", and nothing for values that are not numbers.
import { describe, expect, test } from "bun:test";
import { openMetric, openMetricsText } from "./openmetrics.ts";

const meta = { help: "Packets seen", type: "Counter", labels: [{ name: "IP_PROTO", value: "UDP" }, { name: "L4", value: "NTP" }] };

describe("open-metrics", () => {
  test("one value, with labels", () => {
    expect(openMetric("ntp_packets_total", meta, [12])).toBe('#HELP ntp_packets_total Packets seen\n#TYPE ntp_packets_total counter\nntp_packets_total{IP_PROTO="UDP", L4="NTP"} 12');
  });

  test("several values: one sample each, suffixed; no labels gives {}", () => {
    expect(openMetric("hist", { help: "h", type: "Gauge", labels: [] }, [1, "18446744073709551615"])).toBe(
      "#HELP hist h\n#TYPE hist gauge\nhist_0{} 1\n#HELP hist h\n#TYPE hist gauge\nhist_1{} 18446744073709551615",
    );
  });

  test("per-CPU values are summed; hash entries, structs and empty maps give nothing", () => {
    expect(openMetric("c", { help: "h", type: "Counter", labels: [] }, [{ key: 0, value: [1, 2, 3] }])).toBe("#HELP c h\n#TYPE c counter\nc{} 6");
    expect(openMetric("c", meta, [{ key: 1, value: 2 }])).toBe("");
    expect(openMetric("c", meta, [{ a: 1 }])).toBe("");
    expect(openMetric("c", meta, null)).toBe("");
  });

  test("ingress metrics first, then egress, one line apart", () => {
    expect(openMetricsText(["a", ""], ["b"])).toBe("a\nb");
    expect(openMetricsText([], ["b", "c"])).toBe("b\nc");
    expect(openMetricsText([""], [])).toBe("");
  });
});
