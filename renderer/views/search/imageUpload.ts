// An image from outside the library, as the uploadImage call takes it.
import { MAX_UPLOAD_BYTES } from '../../../app/api/contract.js';

export function checkUploadable(file: Blob & { name?: string }): string | null {
  if (file.size === 0) return `${file.name ?? 'The file'} is empty.`;
  if (file.size > MAX_UPLOAD_BYTES) return `${file.name ?? 'The file'} is ${(file.size / 2 ** 20).toFixed(0)} MB; images up to ${MAX_UPLOAD_BYTES / 2 ** 20} MB can be searched.`;
  // Some systems give no type for HEIC or RAW files; the core recognises images by content anyway.
  if (file.type && !file.type.startsWith('image/')) return `${file.name ?? 'The file'} is not an image (${file.type}).`;
  return null;
}

export async function readAsBase64(file: Blob): Promise<string> {
  const bytes = new Uint8Array(await file.arrayBuffer());
  // String.fromCharCode takes its bytes as arguments: go in chunks well under the engine's limit.
  const CHUNK = 0x8000;
  let binary = '';
  for (let i = 0; i < bytes.length; i += CHUNK) binary += String.fromCharCode(...bytes.subarray(i, i + CHUNK));
  return btoa(binary);
}
