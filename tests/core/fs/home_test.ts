import { assertEquals } from "../../_assert.ts";
import { homeDirectory } from "../../../core/fs/home.ts";

Deno.test("homeDirectory() takes HOME, else the passwd entry", async () => {
  const script = 'import { homeDirectory } from "' +
    new URL("../../../core/fs/home.ts", import.meta.url).href +
    '"; console.log(homeDirectory());';
  const withHome = await new Deno.Command(Deno.execPath(), {
    args: ["eval", script],
    env: { HOME: "/srv/builder" },
    stdout: "piped",
  }).output();
  const withoutHome = await new Deno.Command(Deno.execPath(), {
    args: ["eval", script],
    clearEnv: true,
    env: {
      PATH: Deno.env.get("PATH") ?? "",
      DENO_DIR: Deno.env.get("DENO_DIR") ?? `${homeDirectory()}/.cache/deno`,
    },
    stdout: "piped",
  }).output();

  assertEquals(new TextDecoder().decode(withHome.stdout).trim(), "/srv/builder");
  const passwd = Deno.readTextFileSync("/etc/passwd").split("\n").find((line) =>
    line.split(":")[2] === String(Deno.uid())
  )!;
  assertEquals(new TextDecoder().decode(withoutHome.stdout).trim(), passwd.split(":")[5]);
});
