/*
 * The per-photo pixel loops of indexing, compiled to WebAssembly (with SIMD) by
 * scripts/buildPixelKernels.mjs into pixelKernelsBinary.ts. Each one replaces a JS loop whose
 * results it must equal exactly: the tests compare them with the libvips pipeline, the float
 * pooling and the layout definitions. In JS these loops cost ~6 ms of CPU per 1024-px photo
 * (bounds checks, no SIMD), a seventh of indexing one on 2 cores.
 *
 * No libc: the module exports its memory, and the JS side (pixelKernels.ts) lays out every
 * buffer in it.
 */
#include <stdint.h>

#define EXPORT __attribute__((visibility("default")))

extern unsigned char __heap_base;

/** The first byte the module's own data does not use. */
EXPORT uint32_t heap_base(void) { return (uint32_t)(uintptr_t)&__heap_base; }

static void fill_bytes(uint8_t *p, int n, uint8_t v) {
  for (int i = 0; i < n; i++) p[i] = v;
}

/* ---- sharpnessScore.ts ------------------------------------------------------------------ */

/*
 * libvips' sRGB → B_W of packed RGB by luminance buckets: each pixel's grey follows from its
 * luminance summed in double and looked up in `bucket`, whose -1 marks buckets where the exact
 * float path is needed. Those pixels' indices go to `pending` (JS finishes them); returns how many.
 */
EXPORT int grey_buckets(const uint8_t *rgb, int n, uint8_t *out, int32_t *pending,
                        const double *r, const double *g, const double *b, const int16_t *bucket) {
  int count = 0;
  for (int i = 0; i < n; i++) {
    const uint8_t *p = rgb + 3 * i;
    int grey = bucket[(int)(r[p[0]] + g[p[1]] + b[p[2]])];
    out[i] = (uint8_t)grey;
    pending[count] = i;
    count += grey < 0;
  }
  return count;
}

/*
 * vips_reducev on 8-bit samples with a tap plan (sharpnessScore.ts planAxis): output row y is
 * the clamped (2048 + Σ weight · source row index) >> 12 over the `stride` taps from y · stride.
 * `acc` holds `width` int32s.
 */
EXPORT void reduce_rows(const uint8_t *src, int width, int out_height, const int32_t *index, const int32_t *weight,
                        int stride, int32_t *acc, uint8_t *out) {
  for (int y = 0; y < out_height; y++) {
    for (int x = 0; x < width; x++) acc[x] = 2048;
    for (int t = y * stride, end = t + stride; t < end; t++) {
      const int32_t w = weight[t];
      if (w == 0) continue;
      const uint8_t *row = src + index[t] * width;
      for (int x = 0; x < width; x++) acc[x] += w * row[x];
    }
    uint8_t *o = out + y * width;
    for (int x = 0; x < width; x++) {
      const int32_t v = acc[x] >> 12;
      o[x] = (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v);
    }
  }
}

EXPORT void transpose_bytes(const uint8_t *src, int width, int height, uint8_t *out) {
  for (int y = 0; y < height; y++) {
    const uint8_t *row = src + y * width;
    for (int x = 0; x < width; x++) out[x * height + y] = row[x];
  }
}

/* Σ v and Σ v² of the 4-neighbour Laplacian v over the interior, exactly (int64). */
EXPORT void laplacian_sums(const uint8_t *grey, int width, int height, int64_t *sums) {
  int64_t sum = 0;
  int64_t sum_sq = 0;
  for (int y = 1; y < height - 1; y++) {
    const uint8_t *r = grey + y * width;
    int32_t row_sum = 0;
    int64_t row_sq = 0;
    for (int x = 1; x < width - 1; x++) {
      const int32_t v = r[x - 1] + r[x + 1] + r[x - width] + r[x + width] - 4 * r[x];
      row_sum += v;
      row_sq += v * v;
    }
    sum += row_sum;
    sum_sq += row_sq;
  }
  sums[0] = sum;
  sums[1] = sum_sq;
}

/* ---- regionPooling.ts ------------------------------------------------------------------- */

EXPORT void max_into(uint8_t *acc, const uint8_t *src, int n) {
  for (int i = 0; i < n; i++) acc[i] = acc[i] > src[i] ? acc[i] : src[i];
}

/*
 * Maxima of a uint8 NHWC map over the blocks between consecutive cuts: blocks[(by · nx + bx) ·
 * channels + c] for block columns [x_cuts[bx], x_cuts[bx + 1]) and rows [y_cuts[by], y_cuts[by + 1]).
 */
EXPORT void block_maxima(const uint8_t *map, int width, int channels, const int32_t *x_cuts, int nx,
                         const int32_t *y_cuts, int ny, uint8_t *blocks) {
  fill_bytes(blocks, nx * ny * channels, 0);
  for (int by = 0; by < ny; by++) {
    for (int y = y_cuts[by]; y < y_cuts[by + 1]; y++) {
      for (int bx = 0; bx < nx; bx++) {
        uint8_t *block = blocks + (by * nx + bx) * channels;
        for (int x = x_cuts[bx]; x < x_cuts[bx + 1]; x++) max_into(block, map + (y * width + x) * channels, channels);
      }
    }
  }
}

/* ---- quantisedInput.ts ------------------------------------------------------------------ */

/* Packed pixels (3 channels, or 1 for grey) through one 256-byte table per colour, channels last. */
EXPORT void quantise_nhwc(const uint8_t *pixels, int count, int channels, const uint8_t *tables, uint8_t *out) {
  const int g = channels >= 3 ? 1 : 0;
  const int b = channels >= 3 ? 2 : 0;
  for (int i = 0; i < count; i++) {
    const uint8_t *p = pixels + i * channels;
    out[3 * i] = tables[p[0]];
    out[3 * i + 1] = tables[256 + p[g]];
    out[3 * i + 2] = tables[512 + p[b]];
  }
}

/*
 * The same, folded 2×2 into 12 channels ((dy, dx, colour) order) of [⌈H/2⌉, ⌈W/2⌉] blocks, with a
 * line of the zero point before an odd side.
 */
EXPORT void quantise_space_to_depth(const uint8_t *pixels, int width, int height, int channels, const uint8_t *tables,
                                    int zero_point, uint8_t *out) {
  const int pad_top = height & 1;
  const int pad_left = width & 1;
  const int block_row = 12 * ((width + 1) >> 1);
  const int g = channels >= 3 ? 1 : 0;
  const int b = channels >= 3 ? 2 : 0;
  if (pad_top) fill_bytes(out, block_row, (uint8_t)zero_point);
  for (int y = 0; y < height; y++) {
    const int py = y + pad_top;
    uint8_t *o = out + (py >> 1) * block_row + (py & 1) * 6;
    const uint8_t *p = pixels + y * width * channels;
    int x = 0;
    if (pad_left) {
      fill_bytes(o, 3, (uint8_t)zero_point);
      o[3] = tables[p[0]];
      o[4] = tables[256 + p[g]];
      o[5] = tables[512 + p[b]];
      o += 12;
      p += channels;
      x = 1;
    }
    for (; x < width; x += 2, o += 12, p += 2 * channels) {
      o[0] = tables[p[0]];
      o[1] = tables[256 + p[g]];
      o[2] = tables[512 + p[b]];
      o[3] = tables[p[channels]];
      o[4] = tables[256 + p[channels + g]];
      o[5] = tables[512 + p[channels + b]];
    }
  }
}

/* ---- areaResample.ts -------------------------------------------------------------------- */

/*
 * Packed pixels halved both ways by the rounded mean of each 2×2 block ((a + b + c + d + 2) >> 2);
 * out_width / out_height are the halves rounded either way, and an odd side's last block reads its
 * last row or column twice.
 */
EXPORT void halve_packed(const uint8_t *pixels, int width, int height, int channels, int out_width, int out_height, uint8_t *out) {
  const int row = width * channels;
  for (int y = 0; y < out_height; y++) {
    const uint8_t *top = pixels + 2 * y * row;
    const uint8_t *bottom = 2 * y + 1 < height ? top + row : top;
    uint8_t *o = out + y * out_width * channels;
    for (int x = 0; x < out_width; x++) {
      const int left = 2 * x * channels;
      const int right = 2 * x + 1 < width ? left + channels : left;
      for (int c = 0; c < channels; c++) {
        o[x * channels + c] = (uint8_t)((top[left + c] + top[right + c] + bottom[left + c] + bottom[right + c] + 2) >> 2);
      }
    }
  }
}
