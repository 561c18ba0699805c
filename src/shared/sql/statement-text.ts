import { isAscii } from 'node:buffer';

/**
 * A statement's bytes as the string the driver sends. ASCII text (numbers, hex-rendered binary)
 * decodes as latin1, which for a large buffer Node keeps outside the V8 heap: a megabyte
 * statement then lives as long as its small handle, which a minor GC collects, instead of
 * sitting in the old generation until a major GC. Other text decodes as UTF-8.
 */
export function statementText(bytes: Buffer): string {
  return isAscii(bytes) ? bytes.toString('latin1') : bytes.toString('utf8');
}
