import { PLUGIN_API_VERSION } from "../../../core/plugin/types.ts";
import builtinExporters from "../../../plugins/exporters/mod.ts";
import { assertEquals } from "../../_assert.ts";

Deno.test("builtin-exporters plugin offers oci, docker, local, tar and registry", () => {
  assertEquals(builtinExporters.apiVersion, PLUGIN_API_VERSION);
  assertEquals(builtinExporters.name, "builtin-exporters");
  assertEquals(builtinExporters.exporters?.map((exporter) => exporter.name), [
    "oci",
    "docker",
    "local",
    "tar",
    "registry",
  ]);
  assertEquals(builtinExporters.sources, undefined);
  assertEquals(builtinExporters.frontends, undefined);
});
