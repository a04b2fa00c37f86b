import { packLayer } from "./core/oci/layer_pack.ts";
import { compressBlocks } from "./core/image/_parallel_compress.ts";
const c = Deno.args[0] as "gzip" | "zstd";
const t = performance.now();
const packed = packLayer(Deno.args[1], { compression: "none" });
let n = 0;
for await (const chunk of compressBlocks(packed.stream, { compression: c, workers: Number(Deno.args[2] ?? 2) })) n += chunk.length;
console.log(c, n, ((performance.now() - t) / 1000).toFixed(2), (await packed.done).diffId);
