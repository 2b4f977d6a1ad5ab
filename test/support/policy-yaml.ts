/** Parses the YAML the policy command writes back into plain objects, for assertions. */
import { parseAllDocuments } from 'yaml';

export interface ParsedPolicy {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string; annotations: Record<string, string> };
  spec: {
    podSelector?: unknown;
    policyTypes?: string[];
    stagedAction?: string;
    tier?: string;
    selector?: string;
    types?: string[];
    egress: unknown[];
  };
}

/** Every document of a YAML stream; throws on a YAML error. */
export function parsePolicies(text: string): ParsedPolicy[] {
  return parseAllDocuments(text).map((doc) => {
    if (doc.errors.length > 0) throw doc.errors[0]!;
    return doc.toJS() as ParsedPolicy;
  });
}

export function parsePolicy(text: string): ParsedPolicy {
  const [policy, ...rest] = parsePolicies(text);
  if (policy === undefined || rest.length > 0) throw new Error('expected exactly one YAML document');
  return policy;
}
