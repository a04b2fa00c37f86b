import { assertEquals, assertThrows } from "../../_assert.ts";
import { parseDuration } from "../../../core/cli/store_commands.ts";
import { InvalidInputError } from "../../../core/errors.ts";

Deno.test("parseDuration() reads buildctl's durations", () => {
  const cases: [string, number][] = [
    ["24h", 24 * 3600e3],
    ["30m", 30 * 60e3],
    ["1h30m", 90 * 60e3],
    ["1.5h", 90 * 60e3],
    ["2d12h", 60 * 3600e3],
    ["500ms", 500],
  ];
  for (const [text, milliseconds] of cases) assertEquals(parseDuration(text), milliseconds, text);
});

Deno.test("parseDuration() rejects what it cannot read", () => {
  for (const text of ["", "24", "h", "1h30", "1y", "-1h", "1h 30m"]) {
    assertThrows(() => parseDuration(text), InvalidInputError, `Invalid --keep-duration "${text}"`);
  }
});
