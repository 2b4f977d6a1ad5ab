import { DEMO_DATA_DIR_FLAG } from '../demo-database.js';
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { SettingsReader } from '../../config/settings-reader.js';
import { isValidNamespace } from '../../edges/flow-to-edge.js';
import { AppError, EXIT_CODES } from '../../errors.js';
import { parseDnsBaseline, type DnsBaseline } from '../../policy/dns-baseline.js';
import {
  DEFAULT_POLICY_NAME,
  POLICY_KINDS,
  policyDocument,
  policyStream,
  type PolicyKind,
} from '../../policy/policy-document.js';
import { MIN_OBSERVATION_MS, duration } from '../../policy/readiness.js';
import type { Command } from '../command.js';
import { MAX_NAMESPACE_ARGUMENTS, loadAllowlists, namespaceSelection } from './allowlist.js';
import { choiceArgument, note, stringFlag, writeOut } from '../trail-arguments.js';

/** Kubernetes object names are DNS-1123 subdomains. */
const OBJECT_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function policyName(value: string | undefined): string {
  if (value === undefined) return DEFAULT_POLICY_NAME;
  if (value.length > 253 || !OBJECT_NAME.test(value)) {
    throw new AppError(
      'USAGE',
      `--name: ${JSON.stringify(value)} is not a Kubernetes object name (lower-case letters, digits, '-' and '.')`,
    );
  }
  return value;
}

function dnsBaseline(context: Parameters<Command['run']>[0]): DnsBaseline | null {
  const reader = new SettingsReader(context.env, context.flags);
  let dns: DnsBaseline | null = null;
  try {
    dns = parseDnsBaseline(reader.string('POLICY_DNS_BASELINE') ?? 'none');
  } catch (error) {
    reader.problems.push(`${reader.source('POLICY_DNS_BASELINE')}: ${(error as Error).message}`);
  }
  reader.throwIfProblems();
  return dns;
}

export const policyCommand: Command = {
  name: 'policy',
  summary: 'Egress policies (NetworkPolicy or Calico StagedNetworkPolicy) from the trail, as YAML.',
  arguments: '[NS...]',
  maxPositionals: MAX_NAMESPACE_ARGUMENTS,
  description: `One egress policy per namespace, selecting all its pods: a DNS baseline rule (POLICY_DNS_BASELINE) and one rule per namespace it was observed reaching with action allow, each with its evidence (first seen, last seen, flow count) as a YAML comment. Denied destinations are never allowed and are listed in a comment, as are pass/unspecified edges; the off-cluster sentinel '-' never becomes a namespace rule. Egress outside the cluster is not in the trail and the policy says so. Readiness (see allowlist --help) is an annotation and a comment; a namespace that is not ready gets a warning on stderr. --kind k8s: networking.k8s.io/v1 NetworkPolicy (namespaceSelector on kubernetes.io/metadata.name). --kind calico-staged: projectcalico.org/v3 StagedNetworkPolicy (tier default, previewed in Whisker before anything is enforced). Several namespaces make a multi-document YAML stream; --out DIR writes DIR/NS.yaml per namespace instead (every source namespace when none is named) and prints the paths. Read-only.`,
  flags: [
    {
      name: 'kind',
      type: 'string',
      placeholder: 'KIND',
      default: 'k8s',
      description: POLICY_KINDS.join(' or '),
    },
    {
      name: 'name',
      type: 'string',
      placeholder: 'NAME',
      default: DEFAULT_POLICY_NAME,
      description: 'metadata.name of each policy.',
    },
    { name: 'all', type: 'boolean', description: 'Every source namespace in the trail.' },
    {
      name: 'out',
      type: 'string',
      placeholder: 'DIR',
      description: 'Write one file per namespace (DIR/NS.yaml, created or replaced) instead of stdout.',
    },
    DEMO_DATA_DIR_FLAG,
  ],
  async run(context) {
    const { flags, stdout, stderr } = context;
    const out = stringFlag(flags, 'out');
    const namespaces = namespaceSelection('policy', context, out !== undefined);
    const kind = choiceArgument<PolicyKind>('kind', stringFlag(flags, 'kind') ?? 'k8s', POLICY_KINDS);
    const name = policyName(stringFlag(flags, 'name'));
    const dns = dnsBaseline(context);

    const { observation, entries } = await loadAllowlists(context, 'policy', namespaces);
    // Sources read from the table become file names and metadata.namespace: only real names do.
    const usable = entries.filter((entry) => {
      if (isValidNamespace(entry.allowlist.namespace)) return true;
      note(
        stderr,
        `warning: skipped source ${JSON.stringify(entry.allowlist.namespace)}: not a namespace name`,
      );
      return false;
    });
    if (usable.length === 0) {
      note(stderr, 'warning: no source namespaces in the trail: no policies written');
      return EXIT_CODES.OK;
    }

    if (observation.coveredMs < MIN_OBSERVATION_MS) {
      note(
        stderr,
        `warning: not ready: ${usable[0]!.readiness.reasons[0] ?? `observed ${duration(observation.coveredMs)}`} (${usable.length === 1 ? usable[0]!.allowlist.namespace : `all ${usable.length} namespaces`})`,
      );
    } else {
      for (const { allowlist, readiness } of usable) {
        if (readiness.verdict !== 'ready') {
          note(
            stderr,
            `warning: ${allowlist.namespace}: ${readiness.verdict}: ${readiness.reasons.join('; ')}`,
          );
        }
      }
    }

    const documents = usable.map((entry) => ({
      namespace: entry.allowlist.namespace,
      yaml: policyDocument({ ...entry, observation, kind, name, dns }),
    }));
    if (out === undefined) {
      await writeOut(stdout, policyStream(documents.map((d) => d.yaml)));
      return EXIT_CODES.OK;
    }
    const dir = resolve(out);
    const written: string[] = [];
    try {
      await mkdir(dir, { recursive: true });
      for (const { namespace, yaml } of documents) {
        const file = join(dir, `${namespace}.yaml`);
        await writeFile(file, yaml);
        written.push(file);
      }
    } catch (error) {
      throw new AppError('USAGE', `--out: cannot write policies to ${dir}: ${(error as Error).message}`, {
        cause: error,
      });
    }
    await writeOut(stdout, written.map((file) => `${file}\n`).join(''));
    note(
      stderr,
      `wrote ${written.length} ${kind === 'k8s' ? 'NetworkPolicy' : 'StagedNetworkPolicy'} file(s) to ${dir}`,
    );
    return EXIT_CODES.OK;
  },
};
