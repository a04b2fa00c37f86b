/**
 * Tests of plugin permissions: parsing grants, checking declarations, the intersection a plugin
 * runs with, and the advice in denial messages.
 *
 * @module
 */

import { assertEquals, assertThrows } from "../../_assert.ts";
import { InvalidInputError } from "../../../core/errors.ts";
import {
  checkDeclaredPermissions,
  covers,
  findDeniedAccess,
  grantAdvice,
  intersectPermissions,
  noPermissions,
  parsePluginAllow,
  pathAllowed,
  workerPermissions,
} from "../../../core/plugin/sandbox_permissions.ts";

Deno.test("parsePluginAllow() reads several kinds and resolves relative paths", () => {
  const granted = parsePluginAllow("read=/etc,net=127.0.0.1:8080,write=out,read=/var", "/work");
  assertEquals(granted, {
    read: ["/etc", "/var"],
    write: ["/work/out"],
    net: ["127.0.0.1:8080"],
    run: [],
    env: [],
  });
});

Deno.test("parsePluginAllow() rejects an unknown kind and a missing value", () => {
  assertThrows(
    () => parsePluginAllow("read=/etc,sys=all", "/"),
    InvalidInputError,
    `Invalid --plugin-allow "read=/etc,sys=all": unknown permission "sys" (expected read, write, net, run, env)`,
  );
  assertThrows(
    () => parsePluginAllow("net", "/"),
    InvalidInputError,
    `Invalid --plugin-allow "net": "net" needs a value, e.g. net=127.0.0.1:8080`,
  );
});

Deno.test("checkDeclaredPermissions() rejects unknown kinds and relative paths", () => {
  const where = `Failed to load plugin from "./x.ts"`;
  assertThrows(
    () => checkDeclaredPermissions({ ffi: ["x"] }, where),
    InvalidInputError,
    `Failed to load plugin from "./x.ts": unknown permission "ffi" in "permissions" (allowed: read, write, net, run, env)`,
  );
  assertThrows(
    () => checkDeclaredPermissions({ read: ["etc"] }, where),
    InvalidInputError,
    `"permissions.read" entry "etc" must be an absolute path`,
  );
  assertThrows(
    () => checkDeclaredPermissions({ net: "127.0.0.1" }, where),
    InvalidInputError,
    `"permissions.net" must be a list of non-empty strings`,
  );
  assertEquals(checkDeclaredPermissions(undefined, where), noPermissions());
});

Deno.test("intersectPermissions() never gives more than declared", () => {
  const declared = { ...noPermissions(), read: ["/etc/hostname", "/srv"], net: ["127.0.0.1"] };
  const granted = {
    ...noPermissions(),
    read: ["/etc", "/srv/data", "/home"],
    net: ["127.0.0.1:8080", "10.0.0.1:80"],
    env: ["HOME"],
  };
  assertEquals(intersectPermissions(declared, granted), {
    read: ["/etc/hostname", "/srv/data"],
    write: [],
    net: ["127.0.0.1:8080"],
    run: [],
    env: [],
  });
});

Deno.test("covers() matches paths by component and hosts with any port", () => {
  assertEquals(covers("read", "/etc", "/etc/passwd"), true);
  assertEquals(covers("read", "/etc", "/etcetera"), false);
  assertEquals(covers("read", "/", "/etc"), true);
  assertEquals(covers("net", "127.0.0.1", "127.0.0.1:5000"), true);
  assertEquals(covers("net", "127.0.0.1:5000", "127.0.0.1:5001"), false);
  assertEquals(covers("env", "HOME", "HOME"), true);
});

Deno.test("workerPermissions() names every kind so none is inherited", () => {
  assertEquals(workerPermissions({ ...noPermissions(), read: ["/etc"] }), {
    read: ["/etc"],
    write: false,
    net: false,
    run: false,
    env: false,
    sys: false,
    ffi: false,
    import: false,
  });
});

Deno.test("findDeniedAccess() reads Deno's NotCapable message through causes", () => {
  let denied: unknown;
  try {
    throw Object.assign(
      new Error(`Requires read access to "/etc/passwd", run again with the --allow-read flag`),
      { name: "NotCapable" },
    );
  } catch (error) {
    denied = new Error("wrapped", { cause: error });
  }
  assertEquals(findDeniedAccess(denied), { kind: "read", target: "/etc/passwd" });
  assertEquals(findDeniedAccess(new Error("Requires read access to x")), undefined);
});

Deno.test("grantAdvice() tells a grantable access from an undeclared one", () => {
  const declared = { ...noPermissions(), read: ["/etc"] };
  assertEquals(
    grantAdvice({ kind: "read", target: "/etc/passwd" }, declared),
    "grant it with --plugin-allow read=/etc/passwd",
  );
  assertEquals(
    grantAdvice({ kind: "read", target: "/root/.ssh/id_rsa" }, declared),
    `the plugin does not declare it in "permissions.read", so it cannot be granted`,
  );
  assertEquals(
    grantAdvice({ kind: "sys", target: "" }, declared),
    "plugins cannot be granted sys access",
  );
});

Deno.test("pathAllowed() follows a symlink that leaves the granted directory", async () => {
  const dir = await Deno.makeTempDir({ prefix: "tsbuild-perm-" });
  try {
    await Deno.mkdir(`${dir}/granted`);
    await Deno.symlink("/etc", `${dir}/granted/escape`);
    assertEquals(await pathAllowed(`${dir}/granted/new/file`, [`${dir}/granted`]), true);
    assertEquals(await pathAllowed(`${dir}/granted/escape/passwd`, [`${dir}/granted`]), false);
    assertEquals(await pathAllowed(`${dir}/other`, [`${dir}/granted`]), false);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
