import { assertEquals, assertThrows } from "../../_assert.ts";
import { lchown, lutimes } from "../../../core/fs/link_metadata.ts";

Deno.test("lchown() and lutimes() change a symlink, not its target", () => {
  const dir = Deno.makeTempDirSync({ prefix: "tsbuild-link-metadata-" });
  try {
    Deno.writeTextFileSync(`${dir}/target`, "x");
    Deno.utimeSync(`${dir}/target`, 1_000, 1_000);
    Deno.symlinkSync("target", `${dir}/link`);

    lchown(`${dir}/link`, 1234, 5678);
    lutimes(`${dir}/link`, 1_234_567_890.5, new Date(1_500_000_000_250));

    const link = Deno.lstatSync(`${dir}/link`);
    const target = Deno.statSync(`${dir}/target`);
    assertEquals([link.uid, link.gid], [1234, 5678]);
    assertEquals(link.atime?.getTime(), 1_234_567_890_500);
    assertEquals(link.mtime?.getTime(), 1_500_000_000_250);
    assertEquals([target.uid, target.gid], [0, 0]);
    assertEquals(target.mtime?.getTime(), 1_000_000);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("lchown() and lutimes() name a missing path", () => {
  assertThrows(
    () => lchown("/nonexistent/tsbuild", 0, 0),
    Deno.errors.NotFound,
    "No such file or directory (os error 2): lchown '/nonexistent/tsbuild'",
  );
  assertThrows(
    () => lutimes("/nonexistent/tsbuild", 0, 0),
    Deno.errors.NotFound,
    "utimensat '/nonexistent/tsbuild'",
  );
});

Deno.test("lchown() rejects a path with a NUL byte", () => {
  assertThrows(() => lchown("/tmp/a\0b", 0, 0), Deno.errors.InvalidData, "contains a NUL byte");
});
