// Typed failures for images the engine cannot use. The library records `code` and `message`
// per file and moves on; nothing here is fatal to a batch.

export type ImageErrorCode = 'empty' | 'unreadable' | 'not-an-image' | 'corrupt' | 'too-large' | 'too-small' | 'bad-region';

export class ImageInputError extends Error {
  constructor(readonly code: ImageErrorCode, message: string, readonly source?: string) {
    super(source ? `${source}: ${message}` : message);
    this.name = 'ImageInputError';
  }

  toJSON() {
    return { name: this.name, code: this.code, message: this.message };
  }
}

export function isImageInputError(e: unknown): e is ImageInputError {
  return e instanceof Error && e.name === 'ImageInputError' && typeof (e as ImageInputError).code === 'string';
}
