import { describe, expect, it } from 'vitest';
import { parse, parseDocument } from 'yaml';
import { Commented, blockYaml, yamlScalar } from '../../src/policy/block-yaml.js';

describe('yamlScalar', () => {
  it.each([
    'shop',
    'kube-system',
    'kubernetes.io/metadata.name',
    "projectcalico.org/name == 'shop'",
    'all()',
    // Everything below must be quoted: YAML would read it as something else, or not at all.
    'true',
    'False',
    'yes',
    'off',
    'y',
    'null',
    '~',
    '123',
    '1e3',
    '0x1f',
    '0o17',
    '.inf',
    '2026-06-01',
    '2026-06-01T00:00:00Z/2026-07-01T00:00:00Z',
    '30.0',
    'a: b',
    'a #b',
    '#x',
    '-',
    '- x',
    '',
    ' padded ',
    'quote"and\\back',
    'line\nbreak',
    'tab\there',
    '{a}',
    '[a]',
    '*alias',
    '&anchor',
    '!tag',
    '%directive',
    '@at',
    '`tick',
    '|',
    '>',
  ])('%j reads back as the same string', (value) => {
    expect(parse(`k: ${yamlScalar(value)}\n`)).toEqual({ k: value });
  });

  it('writes plain what is safe, and numbers as numbers', () => {
    expect(yamlScalar('kube-system')).toBe('kube-system');
    expect(yamlScalar('all()')).toBe('all()');
    expect(yamlScalar('yes')).toBe('"yes"');
    expect(yamlScalar(53)).toBe('53');
    expect(() => yamlScalar(1n)).toThrow();
  });
});

describe('blockYaml', () => {
  const data = {
    apiVersion: 'v1',
    metadata: { name: 'x', annotations: { 'a.io/b': '30.0' } },
    spec: {
      podSelector: {},
      empty: [],
      list: ['Egress', 53, true, null],
      rules: [
        new Commented(' first rule\n\n second line', {
          to: [{ sel: { matchLabels: { k: 'v' } } }],
          ports: [1, 2],
        }),
        { to: [[1, 2], []] },
        new Commented(' scalar item', 'plain'),
      ],
    },
  };

  it('writes data that the yaml library reads back exactly', () => {
    const text = blockYaml(data, ' header\n second');
    const doc = parseDocument(text);
    expect(doc.errors).toEqual([]);
    expect(doc.toJS()).toEqual({
      ...data,
      spec: {
        ...data.spec,
        rules: [{ to: [{ sel: { matchLabels: { k: 'v' } } }], ports: [1, 2] }, { to: [[1, 2], []] }, 'plain'],
      },
    });
  });

  it('puts comments before the document and before list items, at their indentation', () => {
    expect(blockYaml({ a: [new Commented(' c', { b: 1, c: 2 })] }, ' top')).toBe(
      '# top\n\na:\n  # c\n  - b: 1\n    c: 2\n',
    );
    expect(blockYaml({ a: [new Commented(' one\n\n two', 'x')] })).toBe('a:\n  # one\n  #\n  # two\n  - x\n');
  });
});
