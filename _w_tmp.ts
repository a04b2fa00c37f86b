const url = new URL("./core/image/_compress_worker.ts", import.meta.url);
const ws = [new Worker(url, { type: "module" }), new Worker(url, { type: "module" })];
await new Promise((r) => setTimeout(r, 1000));
console.log(Deno.memoryUsage());
ws.forEach((w) => w.terminate());
