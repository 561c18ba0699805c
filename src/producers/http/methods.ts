const READ_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Every route answering GET, HEAD or OPTIONS only reads; any other method may change something. */
export const changesState = (method: string): boolean => !READ_METHODS.has(method);
