/**
 * Renders a tree snapshot as indented text for terminals (`npm start`, `troupe tree`).
 */
import type { TreeSnapshot } from './inspection.js';

/** One line per actor: path, kind, behaviour, status, restarts, mailbox, last error. */
export function formatTree(tree: TreeSnapshot, indent = ''): string {
  const error = tree.lastError ? `  last error: ${tree.lastError.message}` : '';
  const details = tree.details ? `  ${Object.entries(tree.details).map(([key, value]) => `${key}=${typeof value === 'object' ? JSON.stringify(value) : String(value)}`).join(' ')}` : '';
  const line = `${indent}${tree.path === '/' ? `${tree.node}:/` : tree.path.slice(tree.path.lastIndexOf('/') + 1)}  [${tree.kind} ${tree.behaviour}] ${tree.status}` +
    ` restarts=${tree.restarts} mailbox=${tree.mailbox.depth} processed=${tree.mailbox.processed}${details}${error}`;
  return [line, ...tree.children.map((child) => formatTree(child, `${indent}  `))].join('\n');
}
