/**
 * The workflow contracts (src/contracts): which workflow an alert starts, and search attributes written by
 * typed key in exactly the encoding the committed histories hold.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { searchAttributePayloadConverter } from '@temporalio/common/lib/converter/payload-search-attributes';
import { SearchAttributeType, type SearchAttributePair } from '@temporalio/common';
import type { TalonAlert } from '../../src/domain/alert';
import { alertWorkflowStart } from '../../src/contracts/alert-workflows';
import {
  SEARCH_ATTRIBUTE_TYPES,
  SEARCH_ATTRIBUTES,
  searchAttributeUpdate,
  type SearchAttributeName,
} from '../../src/contracts/search-attributes';

const podAlert: TalonAlert = {
  source: 'alertmanager',
  alertName: 'TalonPodCpuNearLimit',
  status: 'firing',
  fingerprint: '00000000000000a1',
  target: { kind: 'pod', namespace: 'shop', pod: 'web-1', container: 'app' },
  labels: {},
  annotations: {},
  startsAt: '2026-11-25T10:00:00Z',
};
const nodeAlert: TalonAlert = { ...podAlert, alertName: 'TalonNodeOverloaded', target: { kind: 'node', node: 'n1' } };

describe('alertWorkflowStart', () => {
  it('starts remediateAlert for a pod and nodeOverload for a node, each with its own settings only', () => {
    const settings = { remediation: { maxAttempts: 1 }, nodeOverload: { untaintAfterSeconds: 5 } };
    expect(alertWorkflowStart(podAlert, settings)).toEqual({
      workflowType: 'remediateAlert',
      input: { alert: podAlert, settings: { maxAttempts: 1 } },
    });
    expect(alertWorkflowStart(nodeAlert, settings)).toEqual({
      workflowType: 'nodeOverload',
      input: { alert: nodeAlert, settings: { untaintAfterSeconds: 5 } },
    });
  });

  it('leaves settings out of the input when the face has none for that workflow', () => {
    expect(alertWorkflowStart(podAlert, { nodeOverload: { dryRun: true } }).input).toEqual({ alert: podAlert });
  });
});

describe('search attributes', () => {
  it('each key is named as its entry and registered as Keyword or KeywordList', () => {
    for (const [name, key] of Object.entries(SEARCH_ATTRIBUTES)) expect(key.name).toBe(name);
    expect(SEARCH_ATTRIBUTE_TYPES).toEqual({
      TalonAlertName: 'Keyword',
      TalonNamespace: 'Keyword',
      TalonTarget: 'Keyword',
      TalonPolicy: 'KeywordList',
      TalonOutcome: 'Keyword',
      TalonKind: 'Keyword',
    });
  });

  it('writes every value as a list, single Keywords included', () => {
    expect(
      searchAttributeUpdate([
        { key: SEARCH_ATTRIBUTES.TalonOutcome, value: 'resolved' },
        { key: SEARCH_ATTRIBUTES.TalonPolicy, value: ['cpu_scale_up', 'memory_scale_up'] },
      ]),
    ).toEqual({ TalonOutcome: ['resolved'], TalonPolicy: ['cpu_scale_up', 'memory_scale_up'] });
  });

  it('encodes each upsert of every committed history byte for byte as it was recorded', () => {
    const dir = join(__dirname, '..', 'replay', 'histories');
    let checked = 0;
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.json'))) {
      const { events } = JSON.parse(readFileSync(join(dir, file), 'utf8')) as {
        events: {
          upsertWorkflowSearchAttributesEventAttributes?: {
            searchAttributes: { indexedFields: Record<string, { data: string }> };
          };
        }[];
      };
      for (const event of events) {
        const fields = event.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes.indexedFields ?? {};
        for (const [name, recorded] of Object.entries(fields)) {
          if (name === 'TemporalChangeVersion') continue; // written by patched(), not by Talon
          expect(Object.keys(SEARCH_ATTRIBUTES)).toContain(name);
          const key = SEARCH_ATTRIBUTES[name as SearchAttributeName];
          const values = JSON.parse(Buffer.from(recorded.data, 'base64').toString('utf8')) as string[];
          if (values.length === 0) {
            // clearTalonSearchAttribute: an empty list removes the attribute (a new episode's outcome).
            const cleared = searchAttributePayloadConverter.toPayload([]);
            expect(Buffer.from(cleared.data!).toString('base64')).toBe(recorded.data);
            checked++;
            continue;
          }
          const pair = (
            key.type === SearchAttributeType.KEYWORD_LIST ? { key, value: values } : { key, value: values[0] }
          ) as SearchAttributePair;
          const payload = searchAttributePayloadConverter.toPayload(searchAttributeUpdate([pair])[name]);
          expect(Buffer.from(payload.data!).toString('base64')).toBe(recorded.data);
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(20);
  });
});
