import { packLayer } from "/work/main/core/oci/layer_pack.ts";
const packed = packLayer("/tmp/lc/ctx", { compression: "none" });
let n = 0;
for await (const chunk of packed.stream) n += chunk.length;
console.log(n);
