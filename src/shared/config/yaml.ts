import { parseDocument, visit } from 'yaml';
import { DmqError } from '../errors.js';

/**
 * YAML text → plain JS value, with syntax errors reported by line and column.
 * `file` names the document in messages (`task.yaml`, `source.yaml`).
 */
export function loadYaml(text: string, file: string): unknown {
  // merge: DM's Go YAML decoder honours `<<: *anchor`, so DM files may use it.
  const doc = parseDocument(text, { merge: true, prettyErrors: true });
  if (doc.errors.length > 0) {
    const first = doc.errors[0]!;
    const pos = first.linePos?.[0];
    throw new DmqError('CONFIG_YAML', `${file} is not valid YAML:\n${doc.errors.map((e) => e.message.trimEnd()).join('\n')}`, {
      where: pos ? `${file} line ${pos.line}, column ${pos.col}` : file,
      workaround: 'fix the YAML syntax at the position shown (indentation, quotes, brackets, duplicate keys)',
    });
  }
  // A number whose text String() cannot reproduce (`0123`, `1e3`, `0x1f`) stays text, so that
  // a string field such as a password gets exactly what was written; a number field then
  // reports it rather than silently taking a different value.
  visit(doc, {
    Scalar(_key, node) {
      if (typeof node.value === 'number' && node.source !== undefined && node.source !== String(node.value)) {
        node.value = node.source;
      }
    },
  });
  return doc.toJS();
}
