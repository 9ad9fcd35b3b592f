// One entry point for both transports (Electron IPC and the serve-mode HTTP server): look up the
// method, validate the payload with its zod schema, call the core, and turn every outcome into an
// ApiResponse. Nothing thrown by the core crosses the boundary as an exception.
import { z } from 'zod';
import { ApiError, apiMethods, isApiMethod, type ApiMethod, type ApiResponse, type SightlineApiHandlers } from './contract.js';

export interface DispatchOptions {
  /** Validate outputs too (tests and development: a core that breaks the contract fails loudly). */
  validateOutput?: boolean;
  /** Where unexpected errors are reported (they reach the UI as 'internal' with their message). */
  onInternalError?: (method: string, error: unknown) => void;
}

export function formatZodError(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(input)'}: ${i.message}`).join('; ');
}

export async function dispatchApiCall(handlers: SightlineApiHandlers, method: unknown, input: unknown, options: DispatchOptions = {}): Promise<ApiResponse> {
  if (!isApiMethod(method)) return { ok: false, error: { code: 'not_found', message: `no such API method: ${String(method).slice(0, 100)}` } };
  const spec = apiMethods[method];
  const parsed = spec.input.safeParse(input ?? {});
  if (!parsed.success) return { ok: false, error: { code: 'bad_request', message: `${method}: ${formatZodError(parsed.error)}` } };
  try {
    const handler = handlers[method] as (i: unknown) => Promise<unknown>;
    const value = await handler.call(handlers, parsed.data);
    if (options.validateOutput) {
      const out = (spec.output as z.ZodType).safeParse(value);
      if (!out.success) throw new Error(`${method} broke the API contract: ${formatZodError(out.error)}`);
    }
    return { ok: true, value };
  } catch (e) {
    if (e instanceof ApiError) return { ok: false, error: { code: e.code, message: e.message } };
    options.onInternalError?.(method, e);
    return { ok: false, error: { code: 'internal', message: e instanceof Error ? e.message : String(e) } };
  }
}

export type { ApiMethod };
