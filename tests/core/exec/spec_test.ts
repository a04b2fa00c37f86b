import {
  createRuntimeSpec,
  DEFAULT_CAPABILITIES,
  processEnv,
  type RuntimeSpecOptions,
} from "../../../core/exec/spec.ts";
import { assertEquals } from "../../_assert.ts";

const BASE: RuntimeSpecOptions = {
  rootPath: "/var/lib/tsbuild/rootfs",
  args: ["/bin/sh", "-c", "make"],
  env: ["CC=gcc"],
  cwd: "/src",
  user: { uid: 1000, gid: 1000, additionalGids: [50], home: "/home/app" },
  hostname: "builder",
  network: "none",
};

Deno.test("createRuntimeSpec() sets the process", () => {
  const spec = createRuntimeSpec(BASE);

  assertEquals(spec.process.args, ["/bin/sh", "-c", "make"]);
  assertEquals(spec.process.cwd, "/src");
  assertEquals(spec.process.user, { uid: 1000, gid: 1000, additionalGids: [50] });
  assertEquals(spec.process.terminal, false);
  assertEquals(spec.process.noNewPrivileges, false);
  assertEquals(spec.process.capabilities.bounding, DEFAULT_CAPABILITIES);
  assertEquals(spec.process.rlimits, [{ type: "RLIMIT_NOFILE", hard: 1048576, soft: 1024 }]);
  assertEquals(spec.root, { path: "/var/lib/tsbuild/rootfs", readonly: false });
  assertEquals(spec.hostname, "builder");
});

Deno.test("createRuntimeSpec() caps the open files limit", () => {
  assertEquals(createRuntimeSpec({ ...BASE, maxOpenFiles: 512 }).process.rlimits, [
    { type: "RLIMIT_NOFILE", hard: 512, soft: 512 },
  ]);
});

Deno.test("createRuntimeSpec() isolates the network for network none", () => {
  const spec = createRuntimeSpec(BASE);

  assertEquals(spec.linux.namespaces.map((namespace) => namespace.type), [
    "pid",
    "ipc",
    "uts",
    "mount",
    "network",
  ]);
  assertEquals(spec.mounts.map((mount) => mount.destination), [
    "/proc",
    "/dev",
    "/dev/pts",
    "/dev/shm",
    "/dev/mqueue",
    "/sys",
  ]);
});

Deno.test("createRuntimeSpec() binds hosts and resolv.conf for network host", () => {
  const spec = createRuntimeSpec({
    ...BASE,
    network: "host",
    networkFiles: { hosts: "/bundle/hosts", resolvConf: "/bundle/resolv.conf" },
  });

  assertEquals(spec.linux.namespaces.map((namespace) => namespace.type), [
    "pid",
    "ipc",
    "uts",
    "mount",
  ]);
  assertEquals(spec.mounts.slice(6), [
    {
      destination: "/etc/resolv.conf",
      type: "bind",
      source: "/bundle/resolv.conf",
      options: ["rbind", "ro"],
    },
    { destination: "/etc/hosts", type: "bind", source: "/bundle/hosts", options: ["rbind", "ro"] },
  ]);
});

Deno.test("createRuntimeSpec() appends the request's mounts", () => {
  const spec = createRuntimeSpec({
    ...BASE,
    mounts: [
      { type: "bind", source: "/cache", dest: "/root/.cache", readonly: false },
      { type: "bind", source: "/secret", dest: "/run/secret", readonly: true },
      { type: "tmpfs", dest: "/tmp", size: 1048576 },
      { type: "tmpfs", dest: "/scratch" },
    ],
  });

  assertEquals(spec.mounts.slice(6), [
    { destination: "/root/.cache", type: "bind", source: "/cache", options: ["rbind", "rw"] },
    { destination: "/run/secret", type: "bind", source: "/secret", options: ["rbind", "ro"] },
    {
      destination: "/tmp",
      type: "tmpfs",
      source: "tmpfs",
      options: ["nosuid", "nodev", "size=1048576"],
    },
    { destination: "/scratch", type: "tmpfs", source: "tmpfs", options: ["nosuid", "nodev"] },
  ]);
});

Deno.test("createRuntimeSpec() masks Docker's default paths", () => {
  const spec = createRuntimeSpec(BASE);

  assertEquals(spec.linux.maskedPaths.includes("/proc/kcore"), true);
  assertEquals(spec.linux.readonlyPaths.includes("/proc/sys"), true);
  assertEquals(spec.linux.resources.devices, [{ allow: false, access: "rwm" }]);
});

Deno.test("processEnv() adds PATH, HOSTNAME and HOME when missing", () => {
  assertEquals(processEnv(["CC=gcc"], "builder", "/home/app"), [
    "CC=gcc",
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "HOSTNAME=builder",
    "HOME=/home/app",
  ]);
});

Deno.test("processEnv() keeps values the request sets", () => {
  const env = ["PATH=/opt/bin", "HOSTNAME=custom", "HOME=/srv", "EMPTY="];
  assertEquals(processEnv(env, "builder", "/home/app"), env);
});
