// Recognises photo files by their first bytes. Extensions lie (a text file saved as .jpg, a JPEG
// saved as .png), and a folder scan should open the decoder only for files that can be photos.
//
// Decisions:
// - Recognised: JPEG, PNG, WebP, GIF, TIFF (classic and BigTIFF), BMP, AVIF, HEIC, HEIF (other
//   codecs in the HEIF container), JPEG XL. Recognising is not the same as decoding: the sharp
//   build we ship decodes JPEG, PNG, WebP, GIF, TIFF and AVIF, not BMP, HEIC or JPEG XL. Those
//   still count as photos so that the library can list them with a clear "cannot decode" reason
//   (an iPhone library full of HEIC files must not look empty) and pick them up unchanged once
//   a decoder can read them.
// - Not recognised: SVG (drawings, not photos, and an XML parser is not worth a photo scan), and
//   PNM (P1–P6). PNM is a tool-chain format, our decoder cannot read it, and its two-byte magic
//   ("P5" + whitespace) also opens ordinary text files, so claiming it would add false positives
//   to a format no camera writes.
// - Camera RAW files built on TIFF (NEF, ARW, DNG, CR2) start with a TIFF header and are reported
//   as 'tiff'; telling them apart needs the IFD tags, far beyond the sniffed head.

export type ImageKind = 'jpeg' | 'png' | 'webp' | 'gif' | 'tiff' | 'bmp' | 'avif' | 'heic' | 'heif' | 'jxl';

/** Bytes a caller must read from the start of a file for `sniffImageType` to decide. */
export const SNIFF_BYTES = 64;

const AVIF_BRANDS = new Set(['avif', 'avis']);
const HEVC_BRANDS = new Set(['heic', 'heix', 'heim', 'heis', 'hevc', 'hevx', 'hevm', 'hevs']);
// Structural brands of the HEIF container that say nothing about the codec inside.
const HEIF_CONTAINER_BRANDS = new Set(['mif1', 'msf1', 'mif2', 'miaf']);
// BITMAPCOREHEADER … BITMAPV5HEADER, plus the OS/2 2.x variants.
const BMP_DIB_HEADER_SIZES = new Set([12, 16, 40, 52, 56, 64, 108, 124]);

export function sniffImageType(head: Uint8Array): ImageKind | undefined {
  const b = head;
  const n = b.length;
  const at = (offset: number, ...bytes: number[]) => offset + bytes.length <= n && bytes.every((v, i) => b[offset + i] === v);
  const ascii = (offset: number, text: string) => offset + text.length <= n && [...text].every((c, i) => b[offset + i] === c.charCodeAt(0));

  if (at(0, 0xff, 0xd8, 0xff)) return 'jpeg';
  if (at(0, 0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a)) return 'png';
  if (ascii(0, 'RIFF') && ascii(8, 'WEBP')) return 'webp';
  if (ascii(0, 'GIF87a') || ascii(0, 'GIF89a')) return 'gif';
  // Classic TIFF is version 42, BigTIFF 43, in either byte order.
  if (at(0, 0x49, 0x49, 0x2a, 0x00) || at(0, 0x4d, 0x4d, 0x00, 0x2a)) return 'tiff';
  if (at(0, 0x49, 0x49, 0x2b, 0x00) || at(0, 0x4d, 0x4d, 0x00, 0x2b)) return 'tiff';
  if (at(0, 0xff, 0x0a)) return 'jxl';
  if (at(0, 0x00, 0x00, 0x00, 0x0c, 0x4a, 0x58, 0x4c, 0x20, 0x0d, 0x0a, 0x87, 0x0a)) return 'jxl';
  if (ascii(0, 'BM') && isBmpHeader(b)) return 'bmp';
  if (ascii(4, 'ftyp')) return heifKind(b);
  return undefined;
}

/** "BM" alone starts plenty of text files; the DIB header size must also be one BMP defines. */
function isBmpHeader(b: Uint8Array): boolean {
  if (b.length < 18) return false;
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  return BMP_DIB_HEADER_SIZES.has(view.getUint32(14, true));
}

/**
 * An ISO-BMFF file is an image only if a brand says so: MP4/MOV videos and Canon CR3 share the
 * container. The major brand decides when it names a codec; the generic `mif1`/`msf1` (which
 * both AVIF and HEIC writers use as major brand) defer to the compatible brands.
 */
function heifKind(b: Uint8Array): ImageKind | undefined {
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (b.length < 12) return undefined;
  const brand = (offset: number) => String.fromCharCode(b[offset], b[offset + 1], b[offset + 2], b[offset + 3]);
  const major = brand(8);
  // Box size 1 means a 64-bit size follows; 0 means "to end of file". Either way the brands we
  // can see are the ones inside the sniffed head.
  const boxSize = view.getUint32(0, false);
  const end = Math.min(b.length, boxSize >= 16 ? boxSize : b.length);
  const compatible: string[] = [];
  for (let o = 16; o + 4 <= end; o += 4) compatible.push(brand(o));

  if (AVIF_BRANDS.has(major)) return 'avif';
  if (HEVC_BRANDS.has(major)) return 'heic';
  if (compatible.some((c) => AVIF_BRANDS.has(c))) return 'avif';
  if (compatible.some((c) => HEVC_BRANDS.has(c))) return 'heic';
  if (HEIF_CONTAINER_BRANDS.has(major) || compatible.some((c) => HEIF_CONTAINER_BRANDS.has(c))) return 'heif';
  return undefined;
}
