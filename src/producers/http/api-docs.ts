import type { FastifyInstance } from 'fastify';
import { readFileSync } from 'node:fs';
import { openApiDocument } from './api-spec.js';

const escapeHtml = (text: string) => text.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);

interface Operation {
  summary: string;
  parameters?: { name: string; in: string; description?: string }[];
  requestBody?: { content: Record<string, unknown> };
  responses: Record<string, { description: string; content?: { 'application/json': { schema: { $ref?: string } } } }>;
}

/** A readable page of the OpenAPI document: every operation, then every schema. */
function docsPage(doc: {
  info: { title: string; version: string; description: string };
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, unknown> };
}): string {
  const operations = Object.entries(doc.paths)
    .flatMap(([path, methods]) =>
      Object.entries(methods).map(([method, op]) => {
        const params = (op.parameters ?? [])
          .map((p) => `<code>${escapeHtml(p.name)}</code> (${p.in}${p.description ? `: ${escapeHtml(p.description)}` : ''})`)
          .join(', ');
        const body = op.requestBody
          ? `<div>body: ${Object.keys(op.requestBody.content)
              .map((c) => `<code>${c}</code>`)
              .join(' or ')}</div>`
          : '';
        const responses = Object.entries(op.responses)
          .map(([code, r]) => {
            const ref = r.content?.['application/json'].schema.$ref?.split('/').pop();
            return `<li><b>${code}</b> ${escapeHtml(r.description)}${ref ? ` — <a href="#schema-${ref}">${ref}</a>` : ''}</li>`;
          })
          .join('');
        return `<section><h3><span class="m">${method.toUpperCase()}</span> <code>${escapeHtml(path)}</code></h3><p>${escapeHtml(op.summary)}</p>${params ? `<div>parameters: ${params}</div>` : ''}${body}<ul>${responses}</ul></section>`;
      }),
    )
    .join('\n');
  const schemas = Object.entries(doc.components.schemas)
    .map(([id, schema]) => `<section id="schema-${id}"><h3>${id}</h3><pre>${escapeHtml(JSON.stringify(schema, null, 2))}</pre></section>`)
    .join('\n');
  return `<!doctype html><html><head><meta charset="utf-8"><title>${escapeHtml(doc.info.title)} ${escapeHtml(doc.info.version)}</title>
<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem}code,pre{background:#f4f4f4;padding:.1rem .3rem}pre{padding:.6rem;overflow:auto}.m{display:inline-block;min-width:4.5rem;color:#fff;background:#345;padding:.1rem .4rem;border-radius:.2rem;font-size:.8em}section{border-bottom:1px solid #ddd;padding:.4rem 0}</style>
</head><body><h1>${escapeHtml(doc.info.title)} <small>${escapeHtml(doc.info.version)}</small></h1><p>${escapeHtml(doc.info.description)} The machine-readable document: <a href="/api/v1/openapi.json">/api/v1/openapi.json</a>.</p>
<h2>Operations</h2>${operations}<h2>Schemas</h2>${schemas}</body></html>`;
}

/** `/api/v1/openapi.json` and a page that shows it at `/api/v1/docs`. */
export function mountApiDocs(app: FastifyInstance): void {
  const { version } = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  const doc = openApiDocument(version);
  const page = docsPage(doc as Parameters<typeof docsPage>[0]);
  app.get('/api/v1/openapi.json', async () => doc);
  app.get('/api/v1/docs', async (_req, reply) => reply.type('text/html; charset=utf-8').send(page));
}
