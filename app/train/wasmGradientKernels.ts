// The wasm backend of TF.js 4.22 implements every forward kernel our backbones use, but not the
// filter gradient of a convolution nor either gradient of a depthwise convolution, so on its own
// it cannot fine-tune a CNN; nor UnsortedSegmentSum, which is the gradient of tf.gather. These
// kernels are registered for wasm here, written in plain JS over the tensors' data. TF.js's CPU backend has them too, but reads every element
// through an index-computing buffer: its Conv2DBackpropFilter took 8.7 s for one 1×1 conv of a
// 32×24×528 map to 136 channels here, these loops take well under a second.
import * as tf from '@tensorflow/tfjs';

export const KERNELS_MISSING_ON_WASM = ['Conv2DBackpropFilter', 'DepthwiseConv2dNativeBackpropFilter', 'DepthwiseConv2dNativeBackpropInput', 'UnsortedSegmentSum'] as const;

interface HeapBackend {
  readSync(dataId: object): tf.backend_util.BackendValues;
  makeOutput(shape: number[], dtype: tf.DataType, memoryOffset?: number, values?: tf.backend_util.BackendValues): tf.TensorInfo;
}

type Pad = 'valid' | 'same' | number | tf.backend_util.ExplicitPadding;

interface ConvAttrs {
  strides: [number, number] | number;
  pad: Pad;
  dataFormat?: 'NHWC' | 'NCHW';
  dilations?: [number, number] | number;
  dimRoundingMode?: 'floor' | 'round' | 'ceil';
  filterShape?: [number, number, number, number];
  inputShape?: [number, number, number, number];
}

/** The geometry TF.js itself uses for the forward op, so padding and output sizes agree exactly. */
function geometry(xShape: number[], filterShape: number[], attrs: ConvAttrs, depthwise: boolean): tf.backend_util.Conv2DInfo {
  if (attrs.dataFormat && attrs.dataFormat !== 'NHWC') throw new Error(`gradient kernels support NHWC only, got ${attrs.dataFormat}`);
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    attrs.strides,
    attrs.dilations ?? 1,
    attrs.pad,
    attrs.dimRoundingMode,
    depthwise,
  );
}

/** Calls `visit(xOffset, dyOffset, tap)` for every (output position, filter tap) pair that reads the input. */
function forEachTap(info: tf.backend_util.Conv2DInfo, xChannels: number, dyChannels: number, visit: (xOffset: number, dyOffset: number, tap: number) => void): void {
  const { batchSize, inHeight, inWidth, outHeight, outWidth, strideHeight, strideWidth, dilationHeight, dilationWidth, filterHeight, filterWidth } = info;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  for (let n = 0; n < batchSize; n++) {
    for (let oy = 0; oy < outHeight; oy++) {
      for (let ox = 0; ox < outWidth; ox++) {
        const dyOffset = ((n * outHeight + oy) * outWidth + ox) * dyChannels;
        for (let i = 0; i < filterHeight; i++) {
          const iy = oy * strideHeight + i * dilationHeight - top;
          if (iy < 0 || iy >= inHeight) continue;
          for (let j = 0; j < filterWidth; j++) {
            const ix = ox * strideWidth + j * dilationWidth - left;
            if (ix < 0 || ix >= inWidth) continue;
            visit(((n * inHeight + iy) * inWidth + ix) * xChannels, dyOffset, i * filterWidth + j);
          }
        }
      }
    }
  }
}

/** dW[kh, kw, Cin, Cout] = Σ over positions of x (at the tap) ⊗ dy. */
export function conv2dBackpropFilter(x: Float32Array, xShape: number[], dy: Float32Array, attrs: ConvAttrs): Float32Array {
  const filterShape = attrs.filterShape!;
  const [, , cin, cout] = filterShape;
  const info = geometry(xShape, filterShape, attrs, false);
  const dw = new Float32Array(filterShape.reduce((a, b) => a * b, 1));
  forEachTap(info, cin, cout, (xo, dyo, tap) => {
    const base = tap * cin * cout;
    for (let c = 0; c < cin; c++) {
      const xv = x[xo + c];
      // Inputs come out of ReLUs: skipping zeros saves a good share of the work.
      if (xv === 0) continue;
      const row = base + c * cout;
      for (let o = 0; o < cout; o++) dw[row + o] += xv * dy[dyo + o];
    }
  });
  return dw;
}

/** Depthwise dW[kh, kw, C, M]: output channel c·M + m reads input channel c. */
export function depthwiseBackpropFilter(x: Float32Array, xShape: number[], dy: Float32Array, attrs: ConvAttrs): Float32Array {
  const filterShape = attrs.filterShape!;
  const [, , channels, multiplier] = filterShape;
  const info = geometry(xShape, filterShape, attrs, true);
  const dw = new Float32Array(filterShape.reduce((a, b) => a * b, 1));
  forEachTap(info, channels, channels * multiplier, (xo, dyo, tap) => {
    const base = tap * channels * multiplier;
    for (let c = 0; c < channels; c++) {
      const xv = x[xo + c];
      if (xv === 0) continue;
      for (let m = 0; m < multiplier; m++) dw[base + c * multiplier + m] += xv * dy[dyo + c * multiplier + m];
    }
  });
  return dw;
}

/** Depthwise dx[N, H, W, C] = Σ over taps of filter · dy. */
export function depthwiseBackpropInput(dy: Float32Array, filter: Float32Array, filterShape: number[], attrs: ConvAttrs): Float32Array {
  const inputShape = attrs.inputShape!;
  const [, , channels, multiplier] = filterShape;
  const info = geometry(inputShape, filterShape, attrs, true);
  const dx = new Float32Array(inputShape.reduce((a, b) => a * b, 1));
  forEachTap(info, channels, channels * multiplier, (xo, dyo, tap) => {
    const base = tap * channels * multiplier;
    for (let c = 0; c < channels; c++) {
      let s = 0;
      for (let m = 0; m < multiplier; m++) s += filter[base + c * multiplier + m] * dy[dyo + c * multiplier + m];
      dx[xo + c] += s;
    }
  });
  return dx;
}

/** out[segment[i]] += x[i] over the first axis; rows with a segment outside [0, count) are dropped, as in TF. */
export function unsortedSegmentSum(x: Float32Array, xShape: number[], segments: ArrayLike<number>, count: number): Float32Array {
  const row = xShape.slice(1).reduce((a, b) => a * b, 1);
  const out = new Float32Array(count * row);
  for (let i = 0; i < xShape[0]; i++) {
    const s = segments[i];
    if (s < 0 || s >= count) continue;
    for (let k = 0; k < row; k++) out[s * row + k] += x[i * row + k];
  }
  return out;
}

let registered = false;

/** Registers the kernels for 'wasm' once; any that a later TF.js release provides is left alone. */
export function registerWasmGradientKernels(): string[] {
  if (registered) return [];
  registered = true;
  const added: string[] = [];
  const register = (kernelName: string, compute: (inputs: Record<string, { values: Float32Array; shape: number[] }>, attrs: ConvAttrs & { numSegments?: number }) => { values: Float32Array; shape: number[] }) => {
    if (tf.getKernel(kernelName, 'wasm')) return;
    tf.registerKernel({
      kernelName,
      backendName: 'wasm',
      kernelFunc: ({ inputs, backend, attrs }) => {
        const heap = backend as unknown as HeapBackend;
        const read: Record<string, { values: Float32Array; shape: number[] }> = {};
        for (const [key, info] of Object.entries(inputs as Record<string, tf.TensorInfo>)) {
          if (info.dtype !== 'float32' && !(kernelName === 'UnsortedSegmentSum' && key === 'segmentIds')) throw new Error(`${kernelName}: ${key} is ${info.dtype}, only float32 is supported`);
          read[key] = { values: heap.readSync(info.dataId) as Float32Array, shape: info.shape };
        }
        const out = compute(read, attrs as unknown as ConvAttrs & { numSegments?: number });
        return heap.makeOutput(out.shape, 'float32', undefined, out.values);
      },
    });
    added.push(kernelName);
  };
  register('Conv2DBackpropFilter', ({ x, dy }, attrs) => ({ values: conv2dBackpropFilter(x.values, x.shape, dy.values, attrs), shape: attrs.filterShape! }));
  register('DepthwiseConv2dNativeBackpropFilter', ({ x, dy }, attrs) => ({ values: depthwiseBackpropFilter(x.values, x.shape, dy.values, attrs), shape: attrs.filterShape! }));
  register('DepthwiseConv2dNativeBackpropInput', ({ dy, filter }, attrs) => ({ values: depthwiseBackpropInput(dy.values, filter.values, filter.shape, attrs), shape: attrs.inputShape! }));
  register('UnsortedSegmentSum', ({ x, segmentIds }, attrs) => ({ values: unsortedSegmentSum(x.values, x.shape, segmentIds.values, attrs.numSegments!), shape: [attrs.numSegments!, ...x.shape.slice(1)] }));
  return added;
}
