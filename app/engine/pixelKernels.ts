// The WebAssembly pixel kernels (pixelKernels.c): one instance per thread, created on first use,
// with its memory laid out by the caller. Calls are synchronous, so a thread's calls never
// overlap: each call lays out its own scratch buffers after the constants, and its results stay
// valid until that thread's next call.
import { PIXEL_KERNELS_WASM } from './pixelKernelsBinary.js';

/** Addresses are byte offsets into the module's memory. */
export interface KernelExports {
  memory: WebAssembly.Memory;
  heap_base(): number;
  grey_buckets(rgb: number, n: number, out: number, pending: number, r: number, g: number, b: number, bucket: number): number;
  reduce_rows(src: number, width: number, outHeight: number, index: number, weight: number, stride: number, acc: number, out: number): void;
  transpose_bytes(src: number, width: number, height: number, out: number): void;
  laplacian_sums(grey: number, width: number, height: number, sums: number): void;
  max_into(acc: number, src: number, n: number): void;
  block_maxima(map: number, width: number, channels: number, xCuts: number, nx: number, yCuts: number, ny: number, blocks: number): void;
  quantise_nhwc(pixels: number, count: number, channels: number, tables: number, out: number): void;
  quantise_space_to_depth(pixels: number, width: number, height: number, channels: number, tables: number, zeroPoint: number, out: number): void;
  halve_packed(pixels: number, width: number, height: number, channels: number, outWidth: number, outHeight: number, out: number): void;
}

const PAGE = 65536;
const align = (n: number) => (n + 15) & ~15;

export class PixelKernels {
  readonly run: KernelExports;
  private constantsEnd: number;
  private readonly constants = new Map<string, number>();

  constructor() {
    const module = new WebAssembly.Module(Buffer.from(PIXEL_KERNELS_WASM, 'base64'));
    this.run = new WebAssembly.Instance(module, {}).exports as unknown as KernelExports;
    this.constantsEnd = align(this.run.heap_base());
  }

  /** Where `data` lies in the module's memory, copied in on the first call for `key`. Call before scratch(). */
  constant(key: string, data: () => ArrayBufferView): number {
    let at = this.constants.get(key);
    if (at === undefined) {
      const bytes = data();
      at = this.constantsEnd;
      this.ensure(at + bytes.byteLength);
      this.write(at, bytes);
      this.constantsEnd = align(at + bytes.byteLength);
      this.constants.set(key, at);
    }
    return at;
  }

  /** Addresses of fresh buffers of these byte sizes (16-byte aligned), valid until this thread's next call. */
  scratch(sizes: number[]): number[] {
    let at = this.constantsEnd;
    const addresses = sizes.map((size) => {
      const here = at;
      at = align(at + size);
      return here;
    });
    this.ensure(at);
    return addresses;
  }

  write(at: number, data: ArrayBufferView): void {
    new Uint8Array(this.run.memory.buffer, at, data.byteLength).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  }

  /** Views into the module's memory: taken after the last call that may grow it. */
  bytes(at: number, length: number): Uint8Array {
    return new Uint8Array(this.run.memory.buffer, at, length);
  }

  int32s(at: number, length: number): Int32Array {
    return new Int32Array(this.run.memory.buffer, at, length);
  }

  int64s(at: number, length: number): BigInt64Array {
    return new BigInt64Array(this.run.memory.buffer, at, length);
  }

  private ensure(end: number): void {
    const have = this.run.memory.buffer.byteLength;
    if (end > have) this.run.memory.grow(Math.ceil((end - have) / PAGE));
  }
}

let kernels: PixelKernels | undefined;

/** This thread's instance. */
export function pixelKernels(): PixelKernels {
  return (kernels ??= new PixelKernels());
}
