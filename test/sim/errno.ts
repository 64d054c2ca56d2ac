// Errors shaped as Node reports a failed system call (`code`, `syscall`, `path`), so storage's
// handling (storage-error.ts) treats a simulated failure exactly as a real one.

const DESCRIPTIONS: Readonly<Record<string, string>> = {
  EBADF: 'bad file descriptor',
  EEXIST: 'file already exists',
  EINVAL: 'invalid argument',
  EIO: 'i/o error',
  EISDIR: 'illegal operation on a directory',
  ENOENT: 'no such file or directory',
  ENOSPC: 'no space left on device',
  ENOTDIR: 'not a directory',
  ENOTEMPTY: 'directory not empty',
};

export function errnoError(code: string, syscall: string, path?: string): NodeJS.ErrnoException {
  const where = path === undefined ? syscall : `${syscall} '${path}'`;
  const err = new Error(`${code}: ${DESCRIPTIONS[code] ?? 'error'}, ${where}`) as NodeJS.ErrnoException;
  err.code = code;
  err.syscall = syscall;
  if (path !== undefined) err.path = path;
  return err;
}
