import { describe, expect, it } from 'vitest';
import { localEndpoint } from '../../src/endpoint/local.js';
import { endpointContract } from '../support/endpoint-contract.js';

describe('local endpoint: the Endpoint contract', () => {
  endpointContract(async (root) => localEndpoint(root));
});

describe('local endpoint', () => {
  it('needs an absolute root', () => {
    expect(() => localEndpoint('relative/path')).toThrow(/absolute/);
  });
});
