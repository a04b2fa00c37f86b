// deno-lint-ignore-file no-console -- a command-line script prints where its registry is
/**
 * Starts a registry on loopback with a busybox base image in it, for trying
 * tsbuild without Docker Hub: `deno task registry [PORT]` (default 5000).
 * It runs until Ctrl-C and removes its storage when it stops.
 *
 * @module
 */

import { pushBusybox } from "../tests/_fixtures/push_busybox.ts";
import { startRegistry } from "../tests/_fixtures/registry.ts";

const port = Number(Deno.args[0] ?? 5000);
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error(`Invalid port "${Deno.args[0]}": expected a number from 1 to 65535`);
  Deno.exit(2);
}

// The registry's own bind error comes only after the push would have gone to whatever already
// listens there, so the port is checked first.
try {
  Deno.listen({ hostname: "127.0.0.1", port }).close();
} catch (error) {
  if (!(error instanceof Deno.errors.AddrInUse)) throw error;
  console.error(
    `Port ${port} on 127.0.0.1 is in use; pass another: deno task registry ${
      port === 5000 ? 5001 : 5000
    }`,
  );
  Deno.exit(1);
}

let registry;
try {
  registry = await startRegistry({ port });
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
  Deno.exit(1);
}
const digest = await pushBusybox(registry.host, "busybox:1");
console.log(`Registry listening on ${registry.host}, with ${registry.host}/busybox:1 (${digest})`);
console.log("Press Ctrl-C to stop it.");

const stop = async () => {
  await registry.stop();
  Deno.exit(0);
};
Deno.addSignalListener("SIGINT", stop);
Deno.addSignalListener("SIGTERM", stop);

// A signal listener does not keep Deno running. This loop does, and it also ends the script,
// with the registry's log on stderr, if the registry process dies.
while (true) {
  await new Promise((resolve) => setTimeout(resolve, 1000));
  try {
    Deno.kill(registry.pid, "SIGCONT");
  } catch {
    console.error(`docker-registry (pid ${registry.pid}) stopped; its log:`);
    console.error(await Deno.readTextFile(registry.logPath).catch(() => "(no log)"));
    await registry.stop();
    Deno.exit(1);
  }
}
