import { join } from "../../../core/deps.ts";
import { InvalidInputError, NotFoundError } from "../../../core/errors.ts";
import {
  type AccountFiles,
  parseGroup,
  parsePasswd,
  type ResolvedUser,
  resolveUser,
  resolveUserFromFiles,
} from "../../../core/exec/user.ts";
import { assertEquals, assertThrows } from "../../_assert.ts";

const FILES: AccountFiles = {
  passwd: [
    "# comment line",
    "root:x:0:0:root:/root:/bin/sh",
    "app:x:1000:1000:app:/home/app:/bin/sh",
    "broken:x:notanumber:1:::",
    "",
    "daemon:x:2:2:daemon:/sbin:/sbin/nologin",
  ].join("\n"),
  group: [
    "root:x:0:",
    "staff:x:50:app,daemon",
    "wheel:x:10:root, app",
    "app:x:1000:",
    "daemon:x:2:",
  ].join("\n"),
};

const RESOLVED: Array<[string, ResolvedUser]> = [
  ["", { uid: 0, gid: 0, additionalGids: [10], home: "/root" }],
  ["0", { uid: 0, gid: 0, additionalGids: [10], home: "/root" }],
  ["root", { uid: 0, gid: 0, additionalGids: [10], home: "/root" }],
  ["app", { uid: 1000, gid: 1000, additionalGids: [50, 10], home: "/home/app" }],
  ["1000", { uid: 1000, gid: 1000, additionalGids: [50, 10], home: "/home/app" }],
  ["1000:1000", { uid: 1000, gid: 1000, additionalGids: [], home: "/home/app" }],
  ["app:app", { uid: 1000, gid: 1000, additionalGids: [], home: "/home/app" }],
  ["app:1000", { uid: 1000, gid: 1000, additionalGids: [], home: "/home/app" }],
  ["app:staff", { uid: 1000, gid: 50, additionalGids: [], home: "/home/app" }],
  ["1000:staff", { uid: 1000, gid: 50, additionalGids: [], home: "/home/app" }],
  ["daemon", { uid: 2, gid: 2, additionalGids: [50], home: "/sbin" }],
  ["4242", { uid: 4242, gid: 0, additionalGids: [], home: "/" }],
  ["4242:4243", { uid: 4242, gid: 4243, additionalGids: [], home: "/" }],
  [":staff", { uid: 0, gid: 50, additionalGids: [], home: "/root" }],
  ["2147483647", { uid: 2147483647, gid: 0, additionalGids: [], home: "/" }],
];

for (const [user, expected] of RESOLVED) {
  Deno.test(`resolveUserFromFiles() resolves "${user}"`, () => {
    assertEquals(resolveUserFromFiles(user, FILES), expected);
  });
}

const NOT_FOUND: Array<[string, AccountFiles, string]> = [
  ["nobody", FILES, 'Failed to resolve user "nobody": no entry in /etc/passwd'],
  ["nobody:staff", FILES, 'Failed to resolve user "nobody": no entry in /etc/passwd'],
  ["app:nogroup", FILES, 'Failed to resolve group "nogroup": no entry in /etc/group'],
  ["1000:nogroup", FILES, 'Failed to resolve group "nogroup": no entry in /etc/group'],
  ["app", {}, 'Failed to resolve user "app": /etc/passwd does not exist'],
  [
    "0:staff",
    { passwd: FILES.passwd },
    'Failed to resolve group "staff": /etc/group does not exist',
  ],
];

for (const [user, files, message] of NOT_FOUND) {
  Deno.test(`resolveUserFromFiles() rejects "${user}" as not found`, () => {
    const error = assertThrows(() => resolveUserFromFiles(user, files), NotFoundError);
    assertEquals(error.message, message);
  });
}

const INVALID: Array<[string, string]> = [
  ["a:b:c", 'Invalid user "a:b:c": expected "user" or "user:group"'],
  [
    "2147483648",
    'Invalid user "2147483648": ids must be between 0 and 2147483647, got "2147483648"',
  ],
  [
    "app:99999999999",
    'Invalid user "app:99999999999": ids must be between 0 and 2147483647, got "99999999999"',
  ],
  ["app:", 'Invalid user "app:": the group after ":" is empty'],
];

for (const [user, message] of INVALID) {
  Deno.test(`resolveUserFromFiles() rejects "${user}" as invalid`, () => {
    const error = assertThrows(() => resolveUserFromFiles(user, FILES), InvalidInputError);
    assertEquals(error.message, message);
  });
}

Deno.test("resolveUserFromFiles() without account files runs numeric users with gid 0", () => {
  assertEquals(resolveUserFromFiles("", {}), { uid: 0, gid: 0, additionalGids: [], home: "/" });
  assertEquals(resolveUserFromFiles("1000", {}), {
    uid: 1000,
    gid: 0,
    additionalGids: [],
    home: "/",
  });
  assertEquals(resolveUserFromFiles("1000:1000", {}), {
    uid: 1000,
    gid: 1000,
    additionalGids: [],
    home: "/",
  });
});

Deno.test("parsePasswd() skips comments and malformed lines", () => {
  assertEquals(parsePasswd(FILES.passwd!).map((entry) => entry.name), ["root", "app", "daemon"]);
});

Deno.test("parseGroup() reads member lists", () => {
  assertEquals(parseGroup(FILES.group!)[2], { name: "wheel", gid: 10, members: ["root", "app"] });
});

Deno.test("resolveUser() reads the account files inside the root file system", async () => {
  const rootfs = await Deno.makeTempDir({ prefix: "tsbuild-user-test-" });
  try {
    await Deno.mkdir(join(rootfs, "etc"));
    await Deno.mkdir(join(rootfs, "accounts"));
    await Deno.writeTextFile(
      join(rootfs, "accounts/passwd"),
      "builder:x:1234:1234::/home/builder:/bin/sh\n",
    );
    // An absolute link target is resolved inside the root file system, not on the host.
    await Deno.symlink("/accounts/passwd", join(rootfs, "etc/passwd"));

    assertEquals(resolveUser(rootfs, "builder"), {
      uid: 1234,
      gid: 1234,
      additionalGids: [],
      home: "/home/builder",
    });
  } finally {
    await Deno.remove(rootfs, { recursive: true });
  }
});
