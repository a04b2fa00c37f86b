import { assertEquals } from "../_assert.ts";
import { TSBUILD_DENO_FLAGS } from "../../tools/deno_flags.ts";
import config from "../../deno.json" with { type: "json" };

Deno.test("TSBUILD_DENO_FLAGS are the tsbuild task's flags, which compile bakes in too", () => {
  assertEquals(TSBUILD_DENO_FLAGS, [
    "--allow-all",
    "--unstable-worker-options",
    "--v8-flags=--no-lazy",
  ]);
  for (const flag of TSBUILD_DENO_FLAGS) {
    assertEquals(config.tasks.compile.includes(` ${flag} `), true, `compile lacks ${flag}`);
  }
});
