import { describe, expect, it } from 'vitest';
import { DEFAULT_DNS_BASELINE, parseDnsBaseline } from '../../src/policy/dns-baseline.js';

describe('parseDnsBaseline', () => {
  it('reads the default: kube-dns pods in kube-system, port 53', () => {
    expect(parseDnsBaseline(DEFAULT_DNS_BASELINE)).toEqual({
      namespace: 'kube-system',
      podLabel: { key: 'k8s-app', value: 'kube-dns' },
      port: 53,
    });
  });

  it('reads a whole namespace, a prefixed label key, and none', () => {
    expect(parseDnsBaseline('dns:5353')).toEqual({ namespace: 'dns', podLabel: null, port: 5353 });
    expect(parseDnsBaseline('kube-system/app.kubernetes.io/name=coredns:53')).toEqual({
      namespace: 'kube-system',
      podLabel: { key: 'app.kubernetes.io/name', value: 'coredns' },
      port: 53,
    });
    expect(parseDnsBaseline('none')).toBeNull();
  });

  it.each([
    ['kube-system', /is not a DNS baseline/],
    ['Kube-System:53', /is not a Kubernetes namespace name/],
    ['kube-system:0', /out of range/],
    ['kube-system:70000', /out of range/],
    ["kube-system/k8s-app=kube'dns:53", /is not a Kubernetes label value/],
    ['kube-system/-bad=x:53', /is not a Kubernetes label key/],
  ])('refuses %s', (text, message) => {
    expect(() => parseDnsBaseline(text)).toThrow(message);
  });
});
