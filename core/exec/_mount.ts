/**
 * The mount(2) and umount2(2) calls, through libc, which Deno does not expose.
 *
 * @module
 */

function open() {
  return Deno.dlopen("libc.so.6", {
    mount: { parameters: ["buffer", "buffer", "buffer", "u64", "buffer"], result: "i32" },
    umount2: { parameters: ["buffer", "i32"], result: "i32" },
    __errno_location: { parameters: [], result: "pointer" },
  });
}

let library: ReturnType<typeof open> | undefined;

function libc() {
  library ??= open();
  return library.symbols;
}

function cString(value: string): Uint8Array<ArrayBuffer> {
  return new TextEncoder().encode(value + "\0");
}

function errno(): number {
  const pointer = libc().__errno_location();
  return pointer === null ? 0 : new Deno.UnsafePointerView(pointer).getInt32();
}

/** errno of a mount that is still in use. */
export const EBUSY = 16;

/** umount2 flag that detaches the mount now and frees it once nothing uses it. */
const MNT_DETACH = 2;

/** A failed mount(2) or umount2(2), with the errno it set. */
export class MountCallError extends Error {
  readonly errno: number;
  constructor(message: string, errno: number) {
    super(message);
    this.name = "MountCallError";
    this.errno = errno;
  }
}

/** Mounts a file system of `type` at `target` with the comma-separated `data` options. */
export function mountFilesystem(type: string, source: string, target: string, data: string): void {
  if (libc().mount(cString(source), cString(target), cString(type), 0n, cString(data)) !== 0) {
    const code = errno();
    throw new MountCallError(`Failed to mount ${type} at "${target}": errno ${code}`, code);
  }
}

/**
 * Unmounts `target`. A mount still busy after a few tries is detached instead,
 * so the caller can go on and the kernel frees it once the last user is gone.
 */
export async function unmount(target: string): Promise<void> {
  for (let attempt = 0; attempt < 5; attempt++) {
    if (libc().umount2(cString(target), 0) === 0) return;
    const code = errno();
    if (code !== EBUSY) {
      throw new MountCallError(`Failed to unmount "${target}": errno ${code}`, code);
    }
    await new Promise((resolve) => setTimeout(resolve, 50 * (attempt + 1)));
  }
  if (libc().umount2(cString(target), MNT_DETACH) !== 0) {
    const code = errno();
    throw new MountCallError(`Failed to detach the mount at "${target}": errno ${code}`, code);
  }
}
