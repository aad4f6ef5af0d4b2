const PYRAMID_ERROR = Symbol.for('@pyramid/core.error');

/**
 * Every error the project raises on purpose is a PyramidError with a stable `code`, so that the
 * CLI can print its one-line message without a stack trace and programs can branch on the code.
 */
export class PyramidError extends Error {
  readonly code: string;

  static {
    // Marks the errors of every build of this package (ESM and CommonJS), for isPyramidError.
    Object.defineProperty(PyramidError.prototype, PYRAMID_ERROR, { value: true });
  }

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A model, recipe or command configuration that cannot be built as given. */
export class ConfigError extends PyramidError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('E_CONFIG', message, options);
  }
}

/** A backend that was asked for but cannot run here; `reason` says why. */
export class BackendUnavailableError extends PyramidError {
  readonly backend: string;
  readonly reason: string;

  constructor(backend: string, reason: string, options?: { cause?: unknown }) {
    super('E_BACKEND_UNAVAILABLE', `backend '${backend}' is unavailable: ${reason}`, options);
    this.backend = backend;
    this.reason = reason;
  }
}

/** A weights or checkpoint file that is missing, malformed or does not fit the model. */
export class WeightsError extends PyramidError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('E_WEIGHTS', message, options);
  }
}

/** A dataset file or folder that is missing, malformed or inconsistent. */
export class DataError extends PyramidError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('E_DATA', message, options);
  }
}

/**
 * Whether `error` is a PyramidError, from this build of the package or another one in the process
 * (`instanceof` a class holds only within one build; `code` is the same in all).
 */
export function isPyramidError(error: unknown): error is PyramidError {
  return typeof error === 'object' && error !== null && (error as Record<symbol, unknown>)[PYRAMID_ERROR] === true;
}
