/**
 * Talon's custom search attributes. Keyword/KeywordList so operators can filter remediations in the
 * Temporal UI (`TalonOutcome = "needs_human"`); registered by the local stack and by the deploy job.
 */
export const SEARCH_ATTRIBUTES = {
  TalonAlertName: 'Keyword',
  TalonNamespace: 'Keyword',
  TalonTarget: 'Keyword',
  TalonPolicy: 'KeywordList',
  TalonOutcome: 'Keyword',
  TalonKind: 'Keyword',
} as const;

export type SearchAttributeName = keyof typeof SEARCH_ATTRIBUTES;
