/**
 * Talon's custom search attributes. Keyword/KeywordList so operators can filter remediations in the
 * Temporal UI (`TalonOutcome = "needs_human"`); registered by the local stack and by the deploy job.
 * Imported by workflows: deterministic, no I/O.
 */
import {
  defineSearchAttributeKey,
  SearchAttributeType,
  type SearchAttributePair,
  type SearchAttributes,
  type SearchAttributeValue,
} from '@temporalio/common';
import type { SearchAttributeKey } from '@temporalio/common/lib/search-attributes';
import { upsertSearchAttributes } from '@temporalio/workflow';

/** A key whose name is known to the compiler, so `SEARCH_ATTRIBUTES.TalonOutcome.name` is `'TalonOutcome'`. */
type Key<N extends string, T extends SearchAttributeType> = SearchAttributeKey<T> & { readonly name: N };
function key<N extends string, T extends SearchAttributeType>(name: N, type: T): Key<N, T> {
  return defineSearchAttributeKey(name, type) as Key<N, T>;
}

export const SEARCH_ATTRIBUTES = {
  TalonAlertName: key('TalonAlertName', SearchAttributeType.KEYWORD),
  TalonNamespace: key('TalonNamespace', SearchAttributeType.KEYWORD),
  TalonTarget: key('TalonTarget', SearchAttributeType.KEYWORD),
  TalonPolicy: key('TalonPolicy', SearchAttributeType.KEYWORD_LIST),
  TalonOutcome: key('TalonOutcome', SearchAttributeType.KEYWORD),
  TalonKind: key('TalonKind', SearchAttributeType.KEYWORD),
} as const;

export type SearchAttributeName = keyof typeof SEARCH_ATTRIBUTES;

const REGISTERED_TYPE = { KEYWORD: 'Keyword', KEYWORD_LIST: 'KeywordList' } as const;

/** Each attribute's type as `temporal operator search-attribute create` and the dev server's flag spell it. */
export const SEARCH_ATTRIBUTE_TYPES = Object.fromEntries(
  Object.values(SEARCH_ATTRIBUTES).map((k) => [k.name, REGISTERED_TYPE[k.type]]),
) as { readonly [N in SearchAttributeName]: (typeof REGISTERED_TYPE)[(typeof SEARCH_ATTRIBUTES)[N]['type']] };

/**
 * Typed pairs in the untyped form `upsertSearchAttributes` records (every value a list, no type metadata):
 * recorded histories hold that encoding, and the typed form would write a different payload.
 */
export function searchAttributeUpdate(pairs: readonly SearchAttributePair[]): SearchAttributes {
  return Object.fromEntries(
    pairs.map(({ key, value }) => [key.name, (Array.isArray(value) ? [...value] : [value]) as SearchAttributeValue]),
  );
}

/** Inside a workflow: upsert Talon's search attributes by typed key, recorded as `searchAttributeUpdate` says. */
export function upsertTalonSearchAttributes(...pairs: readonly SearchAttributePair[]): void {
  upsertSearchAttributes(searchAttributeUpdate(pairs));
}

/** Removes an attribute (an empty list), e.g. the outcome of an episode when the next one starts. */
export function clearTalonSearchAttribute(key: SearchAttributeKey<SearchAttributeType>): void {
  upsertSearchAttributes({ [key.name]: [] });
}
