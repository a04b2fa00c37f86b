/**
 * End-to-end tests of platforms: the automatic platform ARGs, a build for
 * several platforms exported as an OCI image index, and RUN steps for a
 * platform this host cannot execute.
 *
 * @module
 */

import { assert, assertEquals, assertRejects, assertStringIncludes } from "../_assert.ts";
import { sharedRegistry } from "../_fixtures/shared_registry.ts";
import { InvalidInputError } from "../../core/errors.ts";
import { formatPlatform, hostPlatform } from "../../core/oci/platform.ts";
import { checkExecutable, emulatedArchitectures } from "../../core/solver/_platform_check.ts";
import { createTempDir, runTool, writeFiles } from "./_build.ts";
import { buildContext, fileText, readBlobText, readImage } from "./_dockerfile_fixture.ts";

const HOST = hostPlatform();
const OTHER_ARCH = HOST.architecture === "arm64" ? "amd64" : "arm64";
const OTHER = OTHER_ARCH === "arm64" ? "linux/arm64" : "linux/amd64";

Deno.test("build for two platforms exports an OCI image index", async () => {
  const { busyboxRef } = await sharedRegistry();
  await using temp = await createTempDir();
  const context = `${temp.path}/context`;
  await writeFiles(context, {
    Dockerfile: `FROM --platform=$BUILDPLATFORM ${busyboxRef} AS build
ARG TARGETARCH
RUN echo "for $TARGETARCH on $(uname -m), arch in stage: [$BUILDARCH]" > /out
FROM scratch
ARG TARGETPLATFORM
COPY --from=build /out /out
COPY <<EOF /platform
$TARGETPLATFORM
EOF
`,
  });
  const layout = `${temp.path}/layout`;
  const platforms = `linux/${HOST.architecture},${OTHER}`;
  const { report, events } = await buildContext({
    root: `${temp.path}/root`,
    context,
    platform: platforms,
    names: ["example.test/multi:1"],
    outputs: [{ type: "oci", attrs: { dest: layout, tar: "false" } }],
  });

  const index = JSON.parse(await Deno.readTextFile(`${layout}/index.json`));
  assertEquals(index.manifests.length, 1);
  assertEquals(index.manifests[0].mediaType, "application/vnd.oci.image.index.v1+json");
  assertEquals(index.manifests[0].annotations["org.opencontainers.image.ref.name"], "1");
  assertEquals(report.exports[0].result.digest, index.manifests[0].digest);
  const nested = JSON.parse(await readBlobText(layout, index.manifests[0].digest));
  const architectures = nested.manifests.map((entry: { platform: { architecture: string } }) =>
    entry.platform.architecture
  );
  assertEquals(architectures, [HOST.architecture, OTHER_ARCH]);

  const machine = (await runTool("uname", ["-m"])).trim();
  for (const [position, architecture] of architectures.entries()) {
    const image = await readImage(layout, { manifestDigest: nested.manifests[position].digest });
    assertEquals(image.config.architecture, architecture);
    assertEquals(
      fileText(image, "platform"),
      `linux/${architecture}${architecture === "arm64" ? "/v8" : ""}\n`,
    );
    assertEquals(fileText(image, "out"), `for ${architecture} on ${machine}, arch in stage: []\n`);
  }

  const skopeo = JSON.parse(await runTool("skopeo", ["inspect", "--raw", `oci:${layout}:1`]));
  assertEquals(skopeo.manifests.length, 2);

  // As in BuildKit, each step's name says which platform it builds for.
  const steps = new Set(events.flatMap((event) => "vertex" in event ? [event.vertex?.name] : []));
  for (const platform of [formatPlatform(HOST), OTHER]) {
    assert(
      [...steps].some((name) =>
        name?.startsWith(`[${platform} stage-1 3/4] COPY --from=build`) ||
        name?.startsWith(`[${platform}/v8 stage-1 3/4] COPY --from=build`)
      ),
      `no COPY step for ${platform} in ${[...steps].join("\n")}`,
    );
  }
});

Deno.test("build for two platforms refuses an exporter of one image", async () => {
  await using temp = await createTempDir();
  const context = `${temp.path}/context`;
  await writeFiles(context, { Dockerfile: "FROM scratch\nCOPY Dockerfile /\n" });
  const error = await buildContext({
    root: `${temp.path}/root`,
    context,
    platform: `linux/${HOST.architecture},${OTHER}`,
    outputs: [{ type: "docker", attrs: { dest: `${temp.path}/image.tar` } }],
  }).catch((error) => error as Error);
  assert(error instanceof InvalidInputError);
  assertStringIncludes(
    error.message,
    'Failed to export "type=docker": the build is for 2 platforms',
  );
});

Deno.test({
  name: "RUN for a platform the host cannot execute fails saying so",
  ignore: HOST.os !== "linux",
  async fn() {
    if ((await emulatedArchitectures("/proc/sys/fs/binfmt_misc")).has(OTHER_ARCH)) {
      // An emulator is registered here, so the step would run; the unit test below covers the check.
      return;
    }
    const { busyboxRef } = await sharedRegistry();
    await using temp = await createTempDir();
    const context = `${temp.path}/context`;
    await writeFiles(context, {
      Dockerfile: `FROM --platform=$BUILDPLATFORM ${busyboxRef} AS tools
FROM scratch
COPY --from=tools / /
RUN echo never
`,
    });
    const error = await buildContext({ root: `${temp.path}/root`, context, platform: OTHER })
      .catch((error) => error as Error);
    assert(error instanceof InvalidInputError);
    assertStringIncludes(
      error.message,
      `Failed to run "/bin/sh -c echo never" for platform "${OTHER}${
        OTHER_ARCH === "arm64" ? "/v8" : ""
      }": this host (linux/${HOST.architecture}) cannot execute its binaries and no binfmt_misc emulator for "${OTHER_ARCH}" is registered`,
    );
    assertStringIncludes(error.message, "Dockerfile:4");
  },
});

Deno.test("checkExecutable() accepts a platform a binfmt_misc entry emulates", async () => {
  await using temp = await createTempDir();
  const elfHeader = (machine: number, bigEndian = false) =>
    "7f454c46020" + (bigEndian ? "2" : "1") + "0100000000000000000002" + "00" +
    (bigEndian
      ? machine.toString(16).padStart(4, "0")
      : machine.toString(16).padStart(4, "0").replace(/(..)(..)/, "$2$1"));
  await Deno.writeTextFile(
    `${temp.path}/qemu-aarch64`,
    `enabled\ninterpreter /usr/bin/qemu-aarch64\nflags: F\noffset 0\nmagic ${
      elfHeader(0xb7)
    }\nmask ffffffffffffff00fffffffffffffffffeffffff\n`,
  );
  await Deno.writeTextFile(
    `${temp.path}/qemu-s390x`,
    `disabled\ninterpreter /usr/bin/qemu-s390x\nflags: F\noffset 0\nmagic ${
      elfHeader(0x16, true)
    }\n`,
  );
  await Deno.writeTextFile(`${temp.path}/status`, "enabled\n");
  assertEquals([...await emulatedArchitectures(temp.path)], ["arm64"]);

  const host = { os: "linux", architecture: "amd64" };
  await checkExecutable({ os: "linux", architecture: "arm64" }, { binfmtDir: temp.path, host });
  await checkExecutable({ os: "linux", architecture: "386" }, { binfmtDir: temp.path, host });
  await assertRejects(
    () => checkExecutable({ os: "linux", architecture: "s390x" }, { binfmtDir: temp.path, host }),
    InvalidInputError,
    'no binfmt_misc emulator for "s390x"',
  );
  await assertRejects(
    () => checkExecutable({ os: "windows", architecture: "amd64" }, { binfmtDir: temp.path, host }),
    InvalidInputError,
    'for platform "windows/amd64"',
  );
});
